//! `volley serve`: the embedded echo or chat server on its own (plain or TLS with a throwaway CA,
//! or `--workers N` processes sharing the port, with or without permessage-deflate), until Ctrl-C
//! or SIGTERM.

use crate::cli::{Mode, ServeArgs, ServeCompression};
use crate::commands::COULD_NOT_RUN;
use crate::signals;
use std::process::ExitCode;
use volley::ServerMode;

/// A CA and a server certificate for localhost, the CA written to `ca_out`.
fn throwaway_tls(ca_out: &std::path::Path) -> Result<std::sync::Arc<rustls::ServerConfig>, String> {
    let authority = volley::Authority::new("volley serve throwaway CA")?;
    let identity = authority.issue(&["localhost", "127.0.0.1"])?;
    std::fs::write(ca_out, authority.pem())
        .map_err(|error| format!("cannot write {}: {error}", ca_out.display()))?;
    eprintln!(
        "volley serve: TLS certificate for localhost and 127.0.0.1; trust {} (tls.ca_file)",
        ca_out.display()
    );
    volley::server_config(&identity, None)
}

/// Serve until interrupted.
pub async fn serve(args: ServeArgs) -> ExitCode {
    let mut interrupts = match signals::Interrupts::install() {
        Ok(interrupts) => interrupts,
        Err(error) => {
            eprintln!("error: cannot handle SIGINT and SIGTERM: {error}");
            return ExitCode::from(COULD_NOT_RUN);
        }
    };
    let (soft, _) = volley::raise_open_files();
    let mode = match args.mode {
        Mode::Echo => ServerMode::Echo,
        Mode::Chat => ServerMode::Chat,
    };
    let compression = args.compression == ServeCompression::Deflate;
    let tls = match (&args.tls, &args.ca_out) {
        (true, Some(ca_out)) => match throwaway_tls(ca_out) {
            Ok(config) => Some(config),
            Err(error) => {
                eprintln!("error: {error}");
                return ExitCode::from(COULD_NOT_RUN);
            }
        },
        _ => None,
    };
    if args.workers > 1 {
        let shutdown = async move {
            let _ = interrupts.next().await;
        };
        return match volley::serve_workers(args.workers, args.addr, mode, compression, shutdown)
            .await
        {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("error: {error}");
                ExitCode::from(COULD_NOT_RUN)
            }
        };
    }
    let scheme = if tls.is_some() { "wss" } else { "ws" };
    let server = match volley::EmbeddedServer::start_shared(
        args.addr,
        mode,
        tls,
        args.reuse_port,
        compression,
    )
    .await
    {
        Ok(server) => server,
        Err(error) => {
            eprintln!("error: cannot listen on {}: {error}", args.addr);
            return ExitCode::from(COULD_NOT_RUN);
        }
    };
    println!(
        "volley serve: listening on {scheme}://{} ({}, open-file limit {soft}); Ctrl-C or SIGTERM to stop",
        server.address(),
        mode.name()
    );
    let _ = std::io::Write::flush(&mut std::io::stdout());
    let _ = interrupts.next().await;
    server.stop(std::time::Duration::from_secs(2)).await;
    ExitCode::SUCCESS
}
