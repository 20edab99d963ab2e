//! The processes the bench starts besides the floor client: a server (`volley serve`, or the floor's
//! own `floor-server`) pinned to the server CPU and read for its address, and `volley run` of a
//! bench scenario file pinned to the client CPU, measured by `child::run`, its results JSON read back.

use crate::child::{self, Finished, SERVER_CPU};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The `volley` binary cargo built for this bench (the release profile).
pub fn volley() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_volley"))
}

/// The repository root (scenario files are named from it).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A running server; killed and reaped on drop.
pub struct Server {
    child: Child,
    /// `host:port` it listens on.
    pub address: String,
}

impl Server {
    /// `volley serve --addr 127.0.0.1:0`, pinned to the server CPU.
    pub fn volley_serve() -> Result<Server, String> {
        Server::volley_serve_with(&[])
    }

    /// `volley serve --addr 127.0.0.1:0 EXTRA…`, pinned to the server CPU.
    pub fn volley_serve_with(extra: &[&str]) -> Result<Server, String> {
        let mut command = child::command(&volley(), SERVER_CPU);
        command.args(["serve", "--addr", "127.0.0.1:0"]).args(extra);
        Server::start(command)
    }

    /// A server given as a command line (split at whitespace), run from the repository root and
    /// pinned to the server CPU.
    pub fn command_line(line: &str) -> Result<Server, String> {
        let mut words = line.split_whitespace();
        let program = words.next().ok_or("an empty server command line")?;
        let mut command = child::command(Path::new(program), SERVER_CPU);
        command.args(words).current_dir(repo());
        Server::start(command)
    }

    /// This bench binary's `floor-server`, pinned to the server CPU.
    pub fn floor() -> Result<Server, String> {
        let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
        let mut command = child::command(&exe, SERVER_CPU);
        command.arg("floor-server");
        Server::start(command)
    }

    /// Start `command` and read `ws://ADDR` from the first line it prints (or, failing that, a
    /// port at its end: `127.0.0.1:PORT`).
    fn start(mut command: Command) -> Result<Server, String> {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {command:?}: {e}"))?;
        let mut line = String::new();
        if let Some(stdout) = child.stdout.take() {
            let _ = BufReader::new(stdout).read_line(&mut line);
        }
        let address = line
            .split("ws://")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .map(|rest| rest.trim_end_matches('/').to_owned())
            .or_else(|| {
                let port: u16 = line.split_whitespace().last()?.parse().ok()?;
                Some(format!("127.0.0.1:{port}"))
            });
        match address {
            Some(address) => Ok(Server { child, address }),
            None => {
                let _ = child.kill();
                let _ = child.wait();
                Err(format!("{command:?} did not print its address: {line:?}"))
            }
        }
    }

    /// The server's own CPU time so far (user + system, s), from /proc.
    pub fn cpu_s(&self) -> Option<f64> {
        process_cpu_s(self.child.id())
    }
}

/// A process's own CPU time so far (user + system, s), from /proc/PID/stat; `None` once it is gone.
pub fn process_cpu_s(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which is in parentheses); utime and stime are 14 and 15.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A measured `volley run`: the process figures and the results file.
pub struct Ran {
    pub finished: Finished,
    pub results: Value,
}

/// `volley run FILE --target ws://ADDR/ --no-progress --out TMP [--set …] [extra]`, pinned to the
/// client CPU; `tick` as in `child::run`.
pub fn run(
    file: &str,
    address: &str,
    sets: &[String],
    extra: &[&str],
    limit: Duration,
    tick: impl FnMut(u32, Duration),
) -> Result<Ran, String> {
    let out = tempfile::NamedTempFile::new().map_err(|e| format!("temporary file: {e}"))?;
    let mut command = child::command(&volley(), child::CLIENT_CPU);
    command
        .current_dir(repo())
        .args(["run", file, "--no-progress", "--target"])
        .arg(format!("ws://{address}/"))
        .arg("--out")
        .arg(out.path());
    for set in sets {
        command.args(["--set", set]);
    }
    command.args(extra);
    let finished = child::run(command, limit, tick)?;
    let results = read_json(out.path());
    match results {
        Some(results) => Ok(Ran { finished, results }),
        None => Err(format!(
            "volley run {file} wrote no results ({}{}):\n{}",
            finished.status,
            if finished.timed_out {
                ", killed at the time limit"
            } else {
                ""
            },
            finished.stderr_tail()
        )),
    }
}

fn read_json(path: &Path) -> Option<Value> {
    let text = std::fs::read_to_string(path).ok()?;
    serde_json::from_str(&text).ok()
}

/// A number at a JSON pointer, or NaN (printed as "—").
pub fn number(value: &Value, pointer: &str) -> f64 {
    value
        .pointer(pointer)
        .and_then(Value::as_f64)
        .unwrap_or(f64::NAN)
}
