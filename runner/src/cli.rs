//! Command-line flags of the `volley` binary (clap). Parsing only; `main.rs` acts on them.

use clap::{Parser, Subcommand, ValueEnum};
use std::net::SocketAddr;
use std::path::PathBuf;

/// Volley: WebSocket load tests driven by WebAssembly scenarios.
#[derive(Debug, Parser)]
#[command(name = "volley", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a scenario file and report (exit 0 passed, 1 a check or connection failed, 2 could not run).
    Run(RunArgs),
    /// Validate a scenario file and its module without connecting.
    Check(FileArgs),
    /// Run the embedded WebSocket server standalone on a loopback port.
    Serve(ServeArgs),
}

/// The scenario file and its overrides.
#[derive(Debug, clap::Args)]
pub struct FileArgs {
    /// The scenario file (YAML).
    pub file: PathBuf,
    /// Connect here instead of the file's `target` (ws://, wss:// or embedded://echo|chat).
    #[arg(long)]
    pub target: Option<String>,
    /// Override a field of the file, e.g. `--set load.connections=500 --set vars.room=lobby`.
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = parse_set)]
    pub sets: Vec<(String, String)>,
}

/// `volley run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// File and overrides.
    #[command(flatten)]
    pub file: FileArgs,
    /// Write the results as JSON (schema volley.results/v1) to this file.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Do not show the live progress line.
    #[arg(long)]
    pub no_progress: bool,
}

/// Server behaviours for `volley serve`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Mode {
    /// Send every message back to its sender.
    Echo,
    /// Broadcast every message to everyone on the same path.
    Chat,
}

/// `volley serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port; the address is printed).
    #[arg(long, default_value = "127.0.0.1:9001")]
    pub addr: SocketAddr,
    /// Echo or chat.
    #[arg(long, value_enum, default_value = "echo")]
    pub mode: Mode,
}

fn parse_set(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.trim().to_owned(), value.to_owned())),
        _ => Err(format!(
            "`{text}` is not KEY=VALUE (e.g. load.connections=100)"
        )),
    }
}
