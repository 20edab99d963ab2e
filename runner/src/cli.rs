//! Command-line flags of the `volley` binary (clap). Parsing only; `main.rs` acts on them. The
//! same definition ([`command`]) is what `volley completions` and `volley man` generate from, and
//! `--version` names the scenario interfaces the runner loads (`volley::WIT_PACKAGES`).

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::LazyLock;

/// `--version`: the crate's version and the WIT packages of the modules this runner loads, from the
/// constants the runner itself checks modules against, so it cannot drift from what runs.
static VERSION: LazyLock<String> = LazyLock::new(|| {
    let [current, older @ ..] = volley::WIT_PACKAGES;
    format!(
        "{} (scenario interface {current}; also loads {})",
        env!("CARGO_PKG_VERSION"),
        older.join(", ")
    )
});

/// The whole command line as clap sees it, with [`VERSION`]: parsing, completions and the man
/// page all start here.
pub fn command() -> clap::Command {
    Cli::command().version(VERSION.as_str())
}

/// Volley: WebSocket load tests driven by WebAssembly scenarios.
#[derive(Debug, Parser)]
#[command(name = "volley", about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
// Parsed once per process and moved once: boxing `RunArgs` would save nothing worth its noise.
#[allow(clippy::large_enum_variant)]
pub enum Command {
    /// Run a scenario file and report (exit 0 passed; 1 a check, threshold, reply deadline,
    /// connection or scenario failed; 2 could not run).
    Run(RunArgs),
    /// Validate a scenario file and its module without connecting.
    Check(FileArgs),
    /// Run the embedded WebSocket server standalone on a loopback port.
    Serve(ServeArgs),
    /// Turn a results file into a self-contained HTML report.
    Report(ReportArgs),
    /// Merge the results files of a run's shards into one, re-evaluating thresholds.
    Merge(MergeArgs),
    /// Create a scenario crate in folder NAME: build it, then `volley run NAME/NAME.yaml`.
    New(NewArgs),
    /// Compare two results files: every figure both have, the change, and whether it is larger
    /// than the noise (exit 0; 2 when a file cannot be read or written).
    Compare(CompareArgs),
    /// Write the Kubernetes manifests of a run in N pods: the scenario and its files in a
    /// ConfigMap (a volume past 1 MiB), an Indexed Job of N shards, the merge Job and a README.
    Kubernetes(KubernetesArgs),
    /// Turn a recording into flow files: `volley import har FILE.har` writes one scenario with
    /// `flow:` steps per WebSocket of a browser's HAR export, and a README of what was guessed.
    Import(ImportArgs),
    /// Run a scenario crate's test binary (a WASI command built by `cargo test` for
    /// wasm32-wasip2): the crate's `.cargo/config.toml` names this as the target's runner, so
    /// plain `cargo test` works. Exits with the binary's code (101 when it traps).
    TestModule(TestModuleArgs),
    /// Print a shell completion script for bash, zsh, fish, elvish or powershell to stdout,
    /// e.g. `volley completions bash > ~/.local/share/bash-completion/completions/volley`.
    Completions(CompletionsArgs),
    /// Write the man page (roff): volley(1) to stdout, or with `--dir` one page per command
    /// (volley.1, volley-run.1, …) into that folder.
    Man(ManArgs),
}

/// `volley test-module`.
#[derive(Debug, clap::Args)]
pub struct TestModuleArgs {
    /// The test binary (`target/wasm32-wasip2/debug/deps/NAME-HASH.wasm`; cargo passes it).
    pub file: PathBuf,
    /// The test binary's own arguments (test filters, `--nocapture`, …), passed through.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
}

/// `volley completions`.
#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// `volley man`.
#[derive(Debug, clap::Args)]
pub struct ManArgs {
    /// Write volley.1 and a page per subcommand (volley-run.1, …) into this folder instead of
    /// volley(1) to stdout.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// `volley kubernetes`.
#[derive(Debug, clap::Args)]
pub struct KubernetesArgs {
    /// The scenario file (YAML); its module, data file and TLS files go with it.
    pub file: PathBuf,
    /// N: the pods of the Indexed Job, each running shard I of N.
    #[arg(long, value_name = "N")]
    pub shards: std::num::NonZeroU32,
    /// The runner image (built from deploy/kubernetes/Dockerfile).
    #[arg(long, default_value = "volley:latest")]
    pub image: String,
    /// The folder to write the manifests and README.md into (created if missing; files of the
    /// same names are replaced).
    #[arg(long, value_name = "DIR", default_value = "kubernetes")]
    pub out: PathBuf,
    /// Connect here instead of the file's `target` (written into the ConfigMap's scenario).
    #[arg(long)]
    pub target: Option<String>,
    /// Override a field of the file (written into the ConfigMap's scenario), e.g.
    /// `--set load.connections=100000`.
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = parse_set)]
    pub sets: Vec<(String, String)>,
}

/// `volley import`.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// What kind of recording.
    #[command(subcommand)]
    pub kind: ImportKind,
}

/// The recordings `volley import` reads.
#[derive(Debug, Subcommand)]
pub enum ImportKind {
    /// A HAR file exported from the browser's DevTools (Network panel, with the WebSocket frames):
    /// one flow file per WebSocket (target, subprotocols, headers with credentials as `${…}`
    /// variables, sends with their think times, replies as expects, ids and server values
    /// correlated) and a README.md saying what was guessed.
    Har(ImportHarArgs),
}

/// `volley import har`.
#[derive(Debug, clap::Args)]
pub struct ImportHarArgs {
    /// The HAR file.
    pub file: PathBuf,
    /// The folder to write the flow files and README.md into (created if missing). Default:
    /// `<the HAR file's stem>-flows` in the current folder.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Replace files of the same names in DIR (without it, the import refuses to overwrite).
    #[arg(long)]
    pub force: bool,
}

/// `volley new`.
#[derive(Debug, clap::Args)]
pub struct NewArgs {
    /// The folder to create; its last component is the crate name (e.g. `orders-feed`).
    pub name: PathBuf,
    /// Depend on the volley-sdk crate in this folder (the `sdk/` of a Volley checkout) by path.
    /// Default: the checkout around the current folder if there is one, else the volley-sdk version
    /// of this runner's interface from crates.io.
    #[arg(long, value_name = "DIR")]
    pub sdk_path: Option<PathBuf>,
}

/// Output files every result-producing command can write.
#[derive(Debug, clap::Args)]
pub struct Outputs {
    /// Write the results as JSON (schema volley.results/v2) to this file.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Write a self-contained HTML report to this file.
    #[arg(long)]
    pub html: Option<PathBuf>,
    /// Write JUnit XML (one test case per check and threshold) to this file.
    #[arg(long)]
    pub junit: Option<PathBuf>,
}

/// `volley report`.
#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// A results file written by `volley run --out` or `volley merge`.
    pub results: PathBuf,
    /// The HTML file to write.
    #[arg(short = 'o', long = "output")]
    pub output: PathBuf,
}

/// `volley merge`.
#[derive(Debug, clap::Args)]
pub struct MergeArgs {
    /// Results files of the shards of one run (`run.id`), each shard once.
    #[arg(required = true, num_args = 1..)]
    pub results: Vec<PathBuf>,
    /// The merged results file to write.
    #[arg(short = 'o', long = "output")]
    pub output: PathBuf,
    /// Write a self-contained HTML report of the merged results.
    #[arg(long)]
    pub html: Option<PathBuf>,
    /// Write JUnit XML of the merged results.
    #[arg(long)]
    pub junit: Option<PathBuf>,
    /// Merge even when shards of the run are missing, and mark the result partial
    /// (`run.partial`, `run.missing_shards`, a warning in the summary, HTML and JUnit).
    #[arg(long)]
    pub partial: bool,
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
    /// Show the target's query values and password in the summary and results files (hidden as
    /// `…` by default, since they often carry tokens).
    #[arg(long)]
    pub show_secrets: bool,
}

/// `volley run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// File and overrides.
    #[command(flatten)]
    pub file: FileArgs,
    /// Results files to write.
    #[command(flatten)]
    pub outputs: Outputs,
    /// Append the time series (one point per interval) to this file as the run goes: JSON lines,
    /// or CSV when the name ends in `.csv`.
    #[arg(long)]
    pub series: Option<PathBuf>,
    /// Time-series interval, e.g. `1s` or `500ms`.
    #[arg(long, default_value = "1s", value_parser = parse_interval)]
    pub interval: std::time::Duration,
    /// Serve live metrics (OpenMetrics/Prometheus text) on this address, e.g. 127.0.0.1:9464.
    #[arg(long)]
    pub metrics_addr: Option<SocketAddr>,
    /// Do not show the live progress line.
    #[arg(long)]
    pub no_progress: bool,
    /// Run shard I of N of the load (I from 0): its share of the global VU indexes, stage targets,
    /// arrivals and source addresses. `auto/N` reads I from JOB_COMPLETION_INDEX (Kubernetes).
    #[arg(long, value_name = "I/N", value_parser = parse_shard)]
    pub shard: Option<volley::Shard>,
    /// Start the load at this time (RFC 3339 or Unix seconds), so shards on several machines start
    /// together; the module is compiled before the wait.
    #[arg(long, value_name = "TIME", value_parser = volley::parse_start_at)]
    pub start_at: Option<std::time::SystemTime>,
    /// The run's id, the same for every shard of one run so `volley merge` can tell its shards
    /// from another run's (needed with --shard I/N for N > 1; made up otherwise).
    #[arg(long, value_name = "ID", env = "VOLLEY_RUN_ID", value_parser = volley::parse_run_id)]
    pub run_id: Option<String>,
    /// Run the load in N worker processes of this binary (each a shard), with one progress line,
    /// one summary, one results file, one live `--series` file, one `--metrics-addr` endpoint (the
    /// sum over the workers) and one exit code; `auto` picks enough for the open-file limit.
    #[arg(long, value_name = "N|auto", value_parser = parse_workers, conflicts_with = "shard")]
    pub workers: Option<volley::WorkerCount>,
    /// Judge the file's `regressions:` rules against this results file of an earlier run
    /// (`volley run --out`, `volley merge`); overrides the file's `baseline:`.
    #[arg(long, value_name = "RESULTS.json")]
    pub baseline: Option<PathBuf>,
    /// Write each time-series point with the live figures as a JSON line on stdout instead of the
    /// summary (set by `--workers` for its worker processes).
    #[arg(long, hide = true)]
    pub feed: bool,
    /// Run one step of the file's `load.search`, with this load (connections, or arrivals per
    /// second), instead of the search (set by a search with `--workers` for its worker processes).
    #[arg(long, hide = true, value_name = "LOAD")]
    pub search_step: Option<f64>,
}

fn parse_workers(text: &str) -> Result<volley::WorkerCount, String> {
    if text == "auto" {
        return Ok(volley::WorkerCount::Auto);
    }
    match text.parse::<u32>() {
        Ok(count) if (1..=1024).contains(&count) => Ok(volley::WorkerCount::Count(count)),
        _ => Err(format!(
            "`{text}` is not a number of workers: write a whole number from 1 to 1024, or auto"
        )),
    }
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
    /// Serve wss:// with a certificate from a throwaway CA made at start-up (for localhost and
    /// 127.0.0.1); its certificate is written to --ca-out for the client's `tls.ca_file`.
    #[arg(long, requires = "ca_out")]
    pub tls: bool,
    /// Where --tls writes the CA certificate (PEM).
    #[arg(long, requires = "tls")]
    pub ca_out: Option<PathBuf>,
    /// Serve from N processes on one port (SO_REUSEPORT), past one process's open-file limit.
    /// Chat rooms are per process: a broadcast reaches only the connections of the same worker.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1024), conflicts_with = "tls")]
    pub workers: u32,
    /// Listen with SO_REUSEPORT (set by `--workers` for its worker processes).
    #[arg(long, hide = true)]
    pub reuse_port: bool,
    /// Accept permessage-deflate (RFC 7692) from clients that offer it (`deflate`), or accept no
    /// extension (`off`).
    #[arg(long, value_enum, default_value = "off")]
    pub compression: ServeCompression,
}

/// `volley serve --compression`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ServeCompression {
    /// Accept no extension: every message goes uncompressed.
    Off,
    /// Accept permessage-deflate when a client offers it.
    Deflate,
}

fn parse_interval(text: &str) -> Result<std::time::Duration, String> {
    let interval = volley::parse_duration(text)?;
    if interval < std::time::Duration::from_millis(100) {
        return Err("the interval must be at least 100ms".into());
    }
    Ok(interval)
}

fn parse_shard(text: &str) -> Result<volley::Shard, String> {
    let job_index = std::env::var("JOB_COMPLETION_INDEX").ok();
    volley::Shard::parse(text, job_index.as_deref())
}

fn parse_set(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.trim().to_owned(), value.to_owned())),
        _ => Err(format!(
            "`{text}` is not KEY=VALUE (e.g. load.connections=100)"
        )),
    }
}

/// `volley compare`.
#[derive(Debug, clap::Args)]
pub struct CompareArgs {
    /// The results file to compare against (`volley run --out`, `volley merge`).
    pub base: PathBuf,
    /// The results file compared with it.
    pub new: PathBuf,
    /// Write the comparison as JSON (schema volley.compare/v1) to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write a self-contained HTML page: the table, both percentile curves overlaid, both time
    /// series side by side.
    #[arg(long)]
    pub html: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// clap's own consistency checks (conflicts, requirements, names) on the whole definition that
    /// parsing, completions and the man page share.
    #[test]
    fn the_command_line_definition_is_consistent() {
        command().debug_assert();
    }

    #[test]
    fn the_version_names_every_interface_the_runner_loads() {
        let version = command().get_version().unwrap_or_default().to_owned();
        assert!(version.starts_with(env!("CARGO_PKG_VERSION")), "{version}");
        for package in volley::WIT_PACKAGES {
            assert!(version.contains(package), "{version}");
        }
    }
}
