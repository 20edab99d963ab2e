//! Running one measured child process: pinned to a CPU with `taskset` when the machine has two,
//! stdout and stderr into temporary files, bounded by a time limit (SIGKILL after it), reaped with
//! `wait4` so its own CPU time (user + system) and peak RSS come from the kernel, identically for the
//! floor client and for `volley run`. Long-lived servers are in `volley_cli` and `server`.

use std::io::{Read, Seek};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The CPU clients are pinned to, and the one servers are pinned to.
pub const CLIENT_CPU: usize = 0;
/// See [`CLIENT_CPU`].
pub const SERVER_CPU: usize = 1;

/// Whether to pin: two or more CPUs and `taskset` present.
pub fn pinning() -> bool {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    cpus >= 2
        && Command::new("taskset")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
}

/// `program` as a command, under `taskset -c cpu` when pinning.
pub fn command(program: &std::path::Path, cpu: usize) -> Command {
    if pinning() {
        let mut command = Command::new("taskset");
        command.arg("-c").arg(cpu.to_string()).arg(program);
        command
    } else {
        Command::new(program)
    }
}

/// A finished child: how it ended, what it printed, what it cost.
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    /// Spawn to exit.
    pub wall: Duration,
    /// User + system CPU time, seconds.
    pub cpu_s: f64,
    /// Peak resident set size, KiB.
    pub max_rss_kib: f64,
    /// Killed at the time limit.
    pub timed_out: bool,
}

impl Finished {
    /// The last lines of stderr, for a failure message.
    pub fn stderr_tail(&self) -> String {
        let lines: Vec<&str> = self.stderr.lines().collect();
        lines[lines.len().saturating_sub(6)..].join("\n")
    }
}

/// Run `command` to its end or to `limit`; `tick(pid, elapsed)` is called about every 2 ms while it
/// runs (the soak samples memory there).
pub fn run(
    mut command: Command,
    limit: Duration,
    mut tick: impl FnMut(u32, Duration),
) -> Result<Finished, String> {
    let mut stdout = tempfile::tempfile().map_err(|e| format!("temporary file: {e}"))?;
    let mut stderr = tempfile::tempfile().map_err(|e| format!("temporary file: {e}"))?;
    let out = stdout
        .try_clone()
        .map_err(|e| format!("temporary file: {e}"))?;
    let err = stderr
        .try_clone()
        .map_err(|e| format!("temporary file: {e}"))?;
    let started = Instant::now();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(|e| format!("cannot start {command:?}: {e}"))?;
    let pid = child.id();
    let mut timed_out = false;
    let (status, usage) = loop {
        match wait4(pid, libc::WNOHANG) {
            Ok(Some(done)) => break done,
            Ok(None) => {}
            Err(error) => return Err(format!("wait4({pid}): {error}")),
        }
        let elapsed = started.elapsed();
        if elapsed > limit && !timed_out {
            timed_out = true;
            let _ = child.kill();
        }
        tick(pid, elapsed);
        // The wall time is only as exact as this poll (W3 takes well under a second for the floor).
        std::thread::sleep(Duration::from_millis(2));
    };
    let wall = started.elapsed();
    let read = |file: &mut std::fs::File| {
        let mut text = String::new();
        let _ = file.rewind();
        let _ = file.read_to_string(&mut text);
        text
    };
    let seconds = |time: libc::timeval| time.tv_sec as f64 + time.tv_usec as f64 / 1e6;
    Ok(Finished {
        status,
        stdout: read(&mut stdout),
        stderr: read(&mut stderr),
        wall,
        cpu_s: seconds(usage.ru_utime) + seconds(usage.ru_stime),
        max_rss_kib: usage.ru_maxrss as f64,
        timed_out,
    })
}

/// `wait4(pid, options)`: `None` while it runs (with `WNOHANG`), else its status and rusage.
fn wait4(pid: u32, options: i32) -> std::io::Result<Option<(ExitStatus, libc::rusage)>> {
    let pid = libc::pid_t::try_from(pid).map_err(std::io::Error::other)?;
    loop {
        let mut status = 0;
        let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
        // SAFETY: wait4 writes a status and a full rusage into the pointers we pass; a zeroed
        // rusage is valid even if it writes nothing.
        #[allow(unsafe_code)]
        // wait4 is the one call that hands back a child's own CPU and peak RSS
        let (got, usage) = unsafe {
            let got = libc::wait4(pid, &mut status, options, usage.as_mut_ptr());
            (got, usage.assume_init())
        };
        if got == pid {
            return Ok(Some((ExitStatus::from_raw(status), usage)));
        }
        if got == 0 {
            return Ok(None);
        }
        let error = std::io::Error::last_os_error();
        if error.kind() != std::io::ErrorKind::Interrupted {
            return Err(error);
        }
    }
}
