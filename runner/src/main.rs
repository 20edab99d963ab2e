//! The `volley` binary: parse flags, load the scenario, run it with Ctrl-C or SIGTERM as the
//! shutdown signal (`signals`),
//! print the summary, write `--out`, exit 0 (passed), 1 (a check, deadline, connection or scenario
//! failed) or 2 (could not run). All logic lives in the library.

mod cli;
mod output;
mod signals;

use clap::Parser;
use cli::{
    Cli, Command, FileArgs, MergeArgs, Mode, NewArgs, Outputs, ReportArgs, RunArgs, ServeArgs,
};
use std::process::ExitCode;
use volley::{Overrides, Report, RunOptions, Scenario, ServerMode};

const COULD_NOT_RUN: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // One core to run on (CPU affinity or a cgroup quota of one): a current-thread runtime, which
    // does the same work without a multi-thread scheduler's cross-thread bookkeeping.
    let one_core = std::thread::available_parallelism().is_ok_and(|cores| cores.get() == 1);
    let mut builder = if one_core {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    let runtime = match builder.enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::from(COULD_NOT_RUN);
        }
    };
    // The command runs as a task on the runtime's workers, not on this thread inside `block_on`:
    // a run's driver awaits every VU, and waking a thread outside the pool costs a futex call and a
    // context switch per connection (W3 in docs/benchmarks.md).
    let command = runtime.spawn(async move {
        match cli.command {
            Command::Run(args) => run(args).await,
            Command::Check(args) => check(args),
            Command::Serve(args) => serve(args).await,
            Command::Report(args) => report(args),
            Command::Merge(args) => merge(args),
            Command::New(args) => new(args),
        }
    });
    runtime.block_on(command).unwrap_or_else(|error| {
        eprintln!("error: volley stopped unexpectedly: {error}");
        ExitCode::from(COULD_NOT_RUN)
    })
}

fn overrides(args: &FileArgs) -> Overrides {
    Overrides {
        target: args.target.clone(),
        sets: args.sets.clone(),
    }
}

fn load(args: &FileArgs) -> Result<Scenario, ExitCode> {
    Scenario::load(&args.file, &overrides(args)).map_err(|error| {
        eprintln!("error: {error}");
        ExitCode::from(COULD_NOT_RUN)
    })
}

async fn run(args: RunArgs) -> ExitCode {
    let scenario = match load(&args.file) {
        Ok(scenario) => scenario,
        Err(code) => return code,
    };
    let mut interrupts = match signals::Interrupts::install() {
        Ok(interrupts) => interrupts,
        Err(error) => {
            eprintln!("error: cannot handle SIGINT and SIGTERM: {error}");
            return ExitCode::from(COULD_NOT_RUN);
        }
    };
    let hard_stop = tokio_util::sync::CancellationToken::new();
    let second = hard_stop.clone();
    let shutdown = async move {
        let Some(first) = interrupts.next().await else {
            return std::future::pending::<()>().await;
        };
        eprintln!(
            "\nvolley: interrupted ({first}); closing connections and writing the report (Ctrl-C or SIGTERM again to skip the polite close)…"
        );
        tokio::spawn(async move {
            if interrupts.next().await.is_some() {
                eprintln!("volley: closing at once");
                second.cancel();
            }
        });
    };
    if let Some(shard) = args.shard
        && shard.count > 1
        && args.run_id.is_none()
    {
        eprintln!(
            "error: --shard {shard} needs --run-id ID (or VOLLEY_RUN_ID), the same for every shard of the run, so `volley merge` can tell its shards from another run's (e.g. --run-id nightly-$(date +%F))"
        );
        return ExitCode::from(COULD_NOT_RUN);
    }
    if let Some(count) = args.workers {
        let options = volley::WorkerOptions {
            count,
            overrides: overrides(&args.file),
            show_secrets: args.file.show_secrets,
            interval: args.interval,
            start_at: args.start_at,
            run_id: args.run_id.clone(),
            series_file: args.series.clone(),
            metrics_addr: args.metrics_addr,
            progress: !args.no_progress,
            hard_stop,
        };
        return match volley::run_workers(&scenario, &options, shutdown).await {
            Ok(report) => finish(&report, &args.outputs, true),
            Err(error) => {
                eprintln!("error: {error}");
                ExitCode::from(COULD_NOT_RUN)
            }
        };
    }
    let options = RunOptions {
        progress: !args.no_progress,
        interval: args.interval,
        series_file: args.series.clone(),
        metrics_addr: args.metrics_addr,
        hard_stop: Some(hard_stop),
        show_secrets: args.file.show_secrets,
        shard: args.shard.unwrap_or_default(),
        start_at: args.start_at,
        feed: args.feed,
        run_id: args.run_id.clone(),
    };
    let report = match volley::run(&scenario, &options, shutdown).await {
        Ok(report) => report,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(COULD_NOT_RUN);
        }
    };
    // A worker's stdout is its parent's feed: no summary there.
    finish(&report, &args.outputs, !args.feed)
}

/// Results files first (so nothing printed can lose them), then the summary (unless `summary` is
/// false); the exit code is the verdict's, or 2 when a results file could not be written.
fn finish(report: &Report, outputs: &Outputs, summary: bool) -> ExitCode {
    let written = output::write_outputs(report, outputs);
    if summary {
        output::print_stdout(&volley::render_summary(report));
    }
    match written {
        Ok(()) => ExitCode::from(report.verdict.exit_code as u8),
        Err(errors) => {
            for error in errors {
                eprintln!("error: {error}");
            }
            ExitCode::from(COULD_NOT_RUN)
        }
    }
}

/// Largest results file `merge` and `report` read: far above any real run's (a 100,000-connection
/// run writes well under a megabyte), small enough that a hostile file cannot exhaust memory.
const MAX_RESULTS_FILE: u64 = 64 << 20;

fn read_results(path: &std::path::Path) -> Result<Report, ExitCode> {
    if let Ok(metadata) = std::fs::metadata(path)
        && metadata.len() > MAX_RESULTS_FILE
    {
        eprintln!(
            "error: {} is {} bytes; a results file is at most {MAX_RESULTS_FILE} bytes",
            path.display(),
            metadata.len()
        );
        return Err(ExitCode::from(COULD_NOT_RUN));
    }
    let text = std::fs::read_to_string(path).map_err(|error| {
        eprintln!("error: cannot read {}: {error}", path.display());
        ExitCode::from(COULD_NOT_RUN)
    })?;
    serde_json::from_str(&text).map_err(|error| {
        eprintln!(
            "error: {}:{}:{}: not a volley results file: {error}",
            path.display(),
            error.line(),
            error.column()
        );
        ExitCode::from(COULD_NOT_RUN)
    })
}

fn report(args: ReportArgs) -> ExitCode {
    let report = match read_results(&args.results) {
        Ok(report) => report,
        Err(code) => return code,
    };
    match output::write_file(&args.output, &volley::render_html(&report)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(COULD_NOT_RUN)
        }
    }
}

fn merge(args: MergeArgs) -> ExitCode {
    let mut reports = Vec::new();
    for path in &args.results {
        match read_results(path) {
            Ok(report) => reports.push((path.display().to_string(), report)),
            Err(code) => return code,
        }
    }
    let merged = match volley::merge(reports, args.partial) {
        Ok(merged) => merged,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(COULD_NOT_RUN);
        }
    };
    let outputs = Outputs {
        out: Some(args.output),
        html: args.html,
        junit: args.junit,
    };
    finish(&merged, &outputs, true)
}

fn check(args: FileArgs) -> ExitCode {
    let scenario = match load(&args) {
        Ok(scenario) => scenario,
        Err(code) => return code,
    };
    match volley::check_module(&scenario) {
        Ok((interface, digest, trial)) => {
            if let Some(trap) = &trial.trap {
                eprintln!(
                    "error: on_open trapped for VU 0 (iteration 0, first data row): {trap}; every connection like it would fail"
                );
                return ExitCode::from(COULD_NOT_RUN);
            }
            println!(
                "ok: {} ({}): module {} speaks {}; target {}; {} connections",
                scenario.file.display(),
                scenario.name,
                scenario.module.display(),
                interface,
                scenario.target.shown(args.show_secrets),
                scenario.load.connections
            );
            let pinned = if scenario.module_sha256.is_some() {
                "pinned by module_sha256"
            } else {
                "pin it with `module_sha256:` in the file"
            };
            println!("module digest: {digest} ({pinned})");
            println!(
                "one instance: linear memory {}, {} of it touched by instantiation and on_open; instantiated in {}, on_open took {} and queued {} message{}",
                volley::human_bytes(trial.memory as u64),
                volley::human_bytes(trial.touched as u64),
                volley::human_micros(trial.instantiate.as_secs_f64() * 1e6),
                volley::human_micros(trial.open.as_secs_f64() * 1e6),
                trial.queued,
                if trial.queued == 1 { "" } else { "s" }
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(COULD_NOT_RUN)
        }
    }
}

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

async fn serve(args: ServeArgs) -> ExitCode {
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
        return match volley::serve_workers(args.workers, args.addr, mode, shutdown).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("error: {error}");
                ExitCode::from(COULD_NOT_RUN)
            }
        };
    }
    let scheme = if tls.is_some() { "wss" } else { "ws" };
    let server =
        match volley::EmbeddedServer::start_shared(args.addr, mode, tls, args.reuse_port).await {
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

fn new(args: NewArgs) -> ExitCode {
    let cwd = std::env::current_dir().unwrap_or_else(|_| std::path::PathBuf::from("."));
    let created = volley::sdk_source(args.sdk_path.as_deref(), &cwd)
        .and_then(|sdk| volley::new_scenario_crate(&args.name, sdk));
    let created = match created {
        Ok(created) => created,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(COULD_NOT_RUN);
        }
    };
    let sdk = match &created.sdk {
        volley::SdkSource::Registry => "volley-sdk 0.1 from crates.io".to_owned(),
        volley::SdkSource::Path(path) => format!("volley-sdk at {}", path.display()),
    };
    let yaml = created
        .yaml
        .file_name()
        .map_or_else(String::new, |name| name.to_string_lossy().into_owned());
    println!(
        "created scenario crate `{}` in {} ({sdk}); next:\n  cd {}\n  cargo build --release\n  volley run {yaml}",
        created.name,
        created.folder.display(),
        created.folder.display()
    );
    ExitCode::SUCCESS
}
