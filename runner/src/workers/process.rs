//! The worker processes of `volley run --workers N` as processes: start one (`volley run FILE
//! --shard i/N --out … --no-progress --feed`, in its own process group, dying with its parent),
//! signal it, say how it ended, and two reader threads per worker: its stderr copied to ours
//! with a `worker I:` prefix (text only: nothing a scenario logs there can steer the run), and its
//! stdout read as the live feed (`feed`: time-series points, and a crossed abort rule) and handed
//! to the parent's loop as [`Event`]s. What the workers run and what the parent does with the
//! events lives in `mod.rs`; `serve` starts server workers with [`die_with_parent`].

use crate::workers::feed::{self, Message, Snapshot};
use std::ffi::OsString;
use std::io::{BufRead, Write as _};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use tokio::sync::mpsc::UnboundedSender;

/// What a worker's reader threads tell the parent's loop.
pub enum Event {
    /// Worker `.0` wrote a feed line.
    Feed(u32, Box<Snapshot>),
    /// Worker `.0` closed its stdout (it exited): no more feed lines from it.
    FeedClosed(u32),
    /// Worker `.0` said on its feed that it crossed the abort rule `.1` and is stopping.
    Aborted(u32, String),
}

/// One running worker.
pub struct Worker {
    /// Its shard index.
    pub index: u32,
    /// The process.
    pub child: Child,
    /// How it exited, once reaped.
    pub exited: Option<ExitStatus>,
    /// Where it writes its results.
    pub results: PathBuf,
}

/// Make a worker process die when this process dies, even by SIGKILL (Linux `PR_SET_PDEATHSIG`
/// with SIGKILL), so no worker outlives its parent: with nobody left to read its results or feed,
/// a worker that went on would only load the target until its `load.duration` ended, and its
/// shutdown path would write to the dead parent's pipes. Its connections are closed by the kernel
/// at once. A parent that died before the child set this up is noticed too (the child's parent
/// is then no longer the one that started it).
pub(crate) fn die_with_parent(command: &mut Command) -> &mut Command {
    let parent = std::process::id();
    // SAFETY: the closure runs in the forked child before exec and only calls prctl(2), getppid(2)
    // and kill(2), which are async-signal-safe; it allocates nothing and touches no lock.
    #[allow(unsafe_code)] // pre_exec is the one hook between fork and exec
    unsafe {
        command.pre_exec(move || {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            if u32::try_from(libc::getppid()).ok() != Some(parent) {
                libc::kill(libc::getpid(), libc::SIGKILL);
            }
            Ok(())
        })
    }
}

/// Start worker `index` running `args` (which already name its shard), results to `results`,
/// its stderr and feed reported to `events`.
pub fn start(
    program: &Path,
    index: u32,
    args: Vec<OsString>,
    results: PathBuf,
    events: &UnboundedSender<Event>,
) -> std::io::Result<Worker> {
    let mut child = die_with_parent(&mut Command::new(program))
        .args(args)
        .arg("--out")
        .arg(&results)
        .args(["--no-progress", "--feed"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group: a terminal's Ctrl-C reaches only this process, which forwards
        // it once (the terminal's and ours together would be a hard stop).
        .process_group(0)
        .spawn()?;
    forward_stderr(index, &mut child);
    read_feed(index, &mut child, events.clone());
    Ok(Worker {
        index,
        child,
        exited: None,
        results,
    })
}

/// Send `signal` to a worker that is still running.
pub fn signal(worker: &Worker, signal: i32) {
    if worker.exited.is_some() {
        return;
    }
    if let Ok(pid) = i32::try_from(worker.child.id()) {
        // SAFETY: kill(2) on the id of a child we started and have not reaped.
        #[allow(unsafe_code)] // the one way to forward SIGTERM to a child process
        unsafe {
            libc::kill(pid, signal);
        }
    }
}

/// Whether a worker ran its shard to a verdict (exit 0 or 1) rather than dying or failing to run.
pub fn ran(status: Option<ExitStatus>) -> bool {
    matches!(status.and_then(|status| status.code()), Some(0 | 1))
}

/// How a worker ended, in words: `code 2`, `signal 9`.
pub fn describe(status: Option<ExitStatus>) -> String {
    match status {
        Some(status) => match (status.code(), status.signal()) {
            (Some(code), _) => format!("code {code}"),
            (None, Some(signal)) => format!("signal {signal}"),
            (None, None) => "status unknown".into(),
        },
        None => "not reaped".into(),
    }
}

/// Copy a worker's stderr to ours, each line prefixed (a closed stderr of ours is no reason to
/// stop reading, or the worker would block on a full pipe).
fn forward_stderr(index: u32, child: &mut Child) {
    let Some(stderr) = child.stderr.take() else {
        return;
    };
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if line.trim().is_empty() {
                continue;
            }
            let _ = writeln!(std::io::stderr(), "worker {index}: {line}");
        }
    });
}

/// Read a worker's stdout as its live feed (decoding here, off the parent's loop); then say it
/// closed. A line that is not a feed line is reported once and skipped.
fn read_feed(index: u32, child: &mut Child, events: UnboundedSender<Event>) {
    let Some(stdout) = child.stdout.take() else {
        let _ = events.send(Event::FeedClosed(index));
        return;
    };
    std::thread::spawn(move || {
        let mut warned = false;
        feed::read_lines(stdout, |line| match feed::decode(line) {
            Ok(Message::Point(snapshot)) => {
                let _ = events.send(Event::Feed(index, snapshot));
            }
            Ok(Message::Aborted(rule)) => {
                let _ = events.send(Event::Aborted(index, rule));
            }
            Err(error) if !warned => {
                warned = true;
                eprintln!("volley: worker {index}: skipping a line of its live feed: {error}");
            }
            Err(_) => {}
        });
        let _ = events.send(Event::FeedClosed(index));
    });
}
