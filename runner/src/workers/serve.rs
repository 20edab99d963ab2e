//! `volley serve --workers N`: N processes of this binary (`volley serve --reuse-port`) listening
//! on one address with SO_REUSEPORT, so one machine serves more test connections than one
//! process's open-file limit allows; the kernel spreads new connections between them. The first
//! worker binds (port 0 picks a free port) and prints its address; the others bind the same one.
//! SIGINT/SIGTERM is forwarded as SIGTERM to every worker; if the parent dies, the kernel kills
//! them (SIGKILL, `die_with_parent`). Called by `main.rs`; the server itself
//! is `devserver::server`. Chat rooms are per process: a broadcast reaches only the connections of
//! the same worker.

use crate::config::ServerMode;
use std::io::BufRead;
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn start(
    program: &std::path::Path,
    address: SocketAddr,
    mode: ServerMode,
    compression: bool,
) -> std::io::Result<Child> {
    let compression = if compression { "deflate" } else { "off" };
    super::process::die_with_parent(&mut Command::new(program))
        .args(["serve", "--reuse-port", "--mode", mode.name(), "--addr"])
        .arg(address.to_string())
        .args(["--compression", compression])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        // Its own process group: Ctrl-C reaches only the parent, which forwards it.
        .process_group(0)
        .spawn()
}

/// The address in a worker's first line: `volley serve: listening on ws://ADDR (…`.
fn listening_address(child: &mut Child) -> Option<SocketAddr> {
    let stdout = child.stdout.take()?;
    let mut line = String::new();
    std::io::BufReader::new(stdout).read_line(&mut line).ok()?;
    let rest = line.split_once("://")?.1;
    rest.split_whitespace().next()?.parse().ok()
}

fn terminate(children: &mut [Child]) {
    for child in children.iter() {
        if let Ok(pid) = i32::try_from(child.id()) {
            // SAFETY: kill(2) on the id of a child we started and have not reaped.
            #[allow(unsafe_code)] // the one way to forward SIGTERM to a child process
            unsafe {
                libc::kill(pid, libc::SIGTERM);
            }
        }
    }
    for child in children.iter_mut() {
        let _ = child.wait();
    }
}

/// Run `count` server workers on `address` until `shutdown`, then stop them; with
/// `compression`, each accepts permessage-deflate (`volley serve --compression deflate`).
pub async fn serve_workers(
    count: u32,
    address: SocketAddr,
    mode: ServerMode,
    compression: bool,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), String> {
    let program = std::env::current_exe()
        .map_err(|error| format!("cannot find the volley binary to start workers: {error}"))?;
    let mut children = Vec::new();
    let mut first = start(&program, address, mode, compression)
        .map_err(|error| format!("cannot start server worker 0: {error}"))?;
    let Some(bound) = listening_address(&mut first) else {
        terminate(&mut [first]);
        return Err(format!(
            "server worker 0 did not start listening on {address}; see its error above"
        ));
    };
    children.push(first);
    for index in 1..count {
        let started = start(&program, bound, mode, compression).map(|mut child| {
            let address = listening_address(&mut child);
            (child, address)
        });
        match started {
            Ok((child, Some(_))) => children.push(child),
            Ok((child, None)) => {
                children.push(child);
                terminate(&mut children);
                return Err(format!(
                    "server worker {index} could not listen on {bound} (SO_REUSEPORT); see its error above"
                ));
            }
            Err(error) => {
                terminate(&mut children);
                return Err(format!("cannot start server worker {index}: {error}"));
            }
        }
    }
    let pids: Vec<String> = children
        .iter()
        .map(|child| child.id().to_string())
        .collect();
    let (soft, _) = crate::load::limits::raise_open_files();
    println!(
        "volley serve: listening on ws://{bound} ({}, {count} workers with SO_REUSEPORT, pids {}, open-file limit {soft} each); Ctrl-C or SIGTERM to stop",
        mode.name(),
        pids.join(" ")
    );
    let _ = std::io::Write::flush(&mut std::io::stdout());
    let mut shutdown = std::pin::pin!(shutdown);
    let mut poll = tokio::time::interval(Duration::from_millis(200));
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            _ = poll.tick() => {}
        }
        if let Some(index) = children
            .iter_mut()
            .position(|child| matches!(child.try_wait(), Ok(Some(_))))
        {
            eprintln!("volley serve: worker {index} exited; stopping the others");
            break;
        }
    }
    terminate(&mut children);
    Ok(())
}
