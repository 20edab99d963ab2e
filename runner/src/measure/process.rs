//! Figures about the runner process itself (CPU time, peak resident memory, the open-file limit),
//! read from the operating system and describing the run only: a [`Baseline`] is taken once the
//! module is compiled, and the figures at the end count from it. CPU time is the difference of
//! `getrusage` readings; the peak is `VmHWM` from `/proc/self/status`, reset at the baseline
//! through `/proc/self/clear_refs`. Both matter because `just run` starts the runner through
//! `cargo run`, which `exec`s it: `getrusage`'s `ru_maxrss` and CPU times carry cargo's share
//! across `exec`, `VmHWM` and a baseline do not. The embedded server's thread is measured apart
//! (see `devserver::in_process`) and taken out of the runner's CPU. Two more figures tell a busy
//! machine from a busy runner (`results::health` reads them): how long the runner's threads were
//! runnable but waiting for a CPU (`run_delay` in `/proc/self/task/*/schedstat`), and how long any
//! task on the machine waited so (Linux CPU pressure, `some total` in `/proc/pressure/cpu`).

use serde::{Deserialize, Serialize};

/// `process` section.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct ProcessStats {
    /// Peak resident memory of the runner during the run, KiB (the embedded server's share, when
    /// it runs in-process, included: memory cannot be split by thread).
    pub peak_rss_kib: u64,
    /// Resident memory when the run started (module compiled), KiB.
    #[serde(default)]
    pub start_rss_kib: u64,
    /// User CPU time of the runner during the run, seconds (the embedded server excluded).
    pub cpu_user_s: f64,
    /// System CPU time, seconds (the embedded server excluded).
    pub cpu_system_s: f64,
    /// CPU time of the embedded server's thread, when the target was `embedded://`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embedded_server: Option<CpuTime>,
    /// Open-file limit in force.
    pub open_files_limit: u64,
    /// How long the runner's threads were runnable but waiting for a CPU during the run, seconds
    /// (summed over threads; `run_delay` of `/proc/self/task/*/schedstat`). Absent where the
    /// kernel does not say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_wait_s: Option<f64>,
    /// How long at least one task on the machine was runnable but waiting for a CPU during the
    /// run, seconds (Linux CPU pressure: `some total` of `/proc/pressure/cpu`). Absent where the
    /// kernel does not say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_pressure_s: Option<f64>,
}

/// User and system CPU time, seconds.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, Default, PartialEq)]
pub struct CpuTime {
    /// User CPU time, seconds.
    pub cpu_user_s: f64,
    /// System CPU time, seconds.
    pub cpu_system_s: f64,
}

impl CpuTime {
    /// CPU time used so far by this process (`RUSAGE_SELF`) or this thread (`RUSAGE_THREAD`).
    pub fn read(who: libc::c_int) -> CpuTime {
        let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
        // SAFETY: getrusage writes a full rusage into the pointer we pass; zeroed is a valid rusage.
        #[allow(unsafe_code)] // the one libc call that reports CPU time by process or thread
        let usage = unsafe {
            if libc::getrusage(who, usage.as_mut_ptr()) != 0 {
                return CpuTime::default();
            }
            usage.assume_init()
        };
        let seconds = |time: libc::timeval| time.tv_sec as f64 + time.tv_usec as f64 / 1e6;
        CpuTime {
            cpu_user_s: seconds(usage.ru_utime),
            cpu_system_s: seconds(usage.ru_stime),
        }
    }

    fn minus(self, other: CpuTime) -> CpuTime {
        CpuTime {
            cpu_user_s: (self.cpu_user_s - other.cpu_user_s).max(0.0),
            cpu_system_s: (self.cpu_system_s - other.cpu_system_s).max(0.0),
        }
    }
}

/// The process's state when the run started.
#[derive(Debug, Clone)]
pub struct Baseline {
    cpu: CpuTime,
    rss_kib: u64,
    waits: Option<ThreadWaits>,
    pressure_us: Option<u64>,
}

/// Each thread's `run_delay` (ns), by thread id.
#[derive(Debug, Clone, Default)]
struct ThreadWaits(std::collections::BTreeMap<u32, u64>);

impl ThreadWaits {
    /// The runner's threads now, from `/proc/self/task/*/schedstat` (`None`: not readable).
    fn read() -> Option<ThreadWaits> {
        let mut waits = std::collections::BTreeMap::new();
        for entry in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
            let Some(tid) = entry
                .file_name()
                .to_str()
                .and_then(|name| name.parse().ok())
            else {
                continue;
            };
            // A thread may end between the listing and the read: skip it.
            if let Ok(text) = std::fs::read_to_string(entry.path().join("schedstat"))
                && let Some(delay) = run_delay_ns(&text)
            {
                waits.insert(tid, delay);
            }
        }
        (!waits.is_empty()).then_some(ThreadWaits(waits))
    }

    /// Seconds waited since `earlier` by the threads alive now (a thread started since counts
    /// whole; threads that ended are lost, a small undercount).
    fn since(&self, earlier: &ThreadWaits) -> f64 {
        let ns: u64 = self
            .0
            .iter()
            .map(|(tid, now)| now.saturating_sub(earlier.0.get(tid).copied().unwrap_or(0)))
            .sum();
        ns as f64 / 1e9
    }
}

/// `run_delay` (ns, the second field) of a `schedstat` line: `cpu_time run_delay timeslices`.
fn run_delay_ns(schedstat: &str) -> Option<u64> {
    schedstat.split_whitespace().nth(1)?.parse().ok()
}

/// `some total=` (µs) of a `/proc/pressure/cpu` text.
fn pressure_some_us(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|line| line.strip_prefix("some "))?
        .split_whitespace()
        .find_map(|field| field.strip_prefix("total="))?
        .parse()
        .ok()
}

/// The machine's CPU pressure total now, µs (`None`: no PSI, e.g. an old kernel or a container
/// that hides it).
fn cpu_pressure_us() -> Option<u64> {
    pressure_some_us(&std::fs::read_to_string("/proc/pressure/cpu").ok()?)
}

impl Baseline {
    /// Take the baseline now and reset the peak-RSS mark, so the peak at the end is the run's.
    pub fn now() -> Baseline {
        // "5" resets VmHWM to the current RSS (proc(5)); without it the peak still excludes
        // whatever ran before an exec, as VmHWM belongs to the address space.
        let _ = std::fs::write("/proc/self/clear_refs", "5");
        Baseline {
            cpu: CpuTime::read(libc::RUSAGE_SELF),
            rss_kib: status_kib("VmRSS:").unwrap_or(0),
            waits: ThreadWaits::read(),
            pressure_us: cpu_pressure_us(),
        }
    }
}

impl ProcessStats {
    /// The run's figures since `baseline`, the embedded server's thread (if any) counted apart.
    pub fn since(
        baseline: &Baseline,
        embedded_server: Option<CpuTime>,
        open_files_limit: u64,
    ) -> ProcessStats {
        let mut cpu = CpuTime::read(libc::RUSAGE_SELF).minus(baseline.cpu);
        if let Some(server) = embedded_server {
            cpu = cpu.minus(server);
        }
        ProcessStats {
            peak_rss_kib: status_kib("VmHWM:").unwrap_or(0),
            start_rss_kib: baseline.rss_kib,
            cpu_user_s: cpu.cpu_user_s,
            cpu_system_s: cpu.cpu_system_s,
            embedded_server,
            open_files_limit,
            cpu_wait_s: match (ThreadWaits::read(), &baseline.waits) {
                (Some(now), Some(then)) => Some(now.since(then)),
                _ => None,
            },
            cpu_pressure_s: match (cpu_pressure_us(), baseline.pressure_us) {
                (Some(now), Some(then)) => Some(now.saturating_sub(then) as f64 / 1e6),
                _ => None,
            },
        }
    }

    /// The runner's CPU time (user + system), seconds.
    pub fn cpu_s(&self) -> f64 {
        self.cpu_user_s + self.cpu_system_s
    }
}

/// A `kB` figure from `/proc/self/status`, e.g. `VmHWM:`.
fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|number| number.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_peak_counts_from_the_baseline() {
        // Touch 64 MiB, free it, take a baseline: the peak after it is well below 64 MiB more
        // than the start (the allocation before the baseline is not the run's).
        let hoard = std::hint::black_box(vec![1u8; 64 << 20]);
        drop(hoard);
        let baseline = Baseline::now();
        let stats = ProcessStats::since(&baseline, None, 0);
        assert!(stats.peak_rss_kib > 0);
        assert!(
            stats.peak_rss_kib < stats.start_rss_kib + 48 * 1024,
            "{stats:?}"
        );
    }

    #[test]
    fn the_kernel_texts_are_read() {
        assert_eq!(run_delay_ns("0 2332519 1\n"), Some(2_332_519));
        assert_eq!(run_delay_ns("12"), None);
        let pressure = "some avg10=7.49 avg60=8.85 avg300=3.32 total=12302829\n\
                        full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n";
        assert_eq!(pressure_some_us(pressure), Some(12_302_829));
        assert_eq!(pressure_some_us("full total=3\n"), None);
    }

    #[test]
    fn waiting_for_a_cpu_counts_from_the_baseline() {
        let then = ThreadWaits([(1, 5_000_000_000), (2, 1_000)].into());
        let now = ThreadWaits([(1, 5_500_000_000), (3, 250_000_000)].into());
        assert!((now.since(&then) - 0.75).abs() < 1e-9);
    }

    #[test]
    fn cpu_counts_from_the_baseline() {
        let baseline = Baseline::now();
        let stats = ProcessStats::since(&baseline, None, 0);
        let total = CpuTime::read(libc::RUSAGE_SELF);
        assert!(stats.cpu_user_s <= total.cpu_user_s);
        assert!(stats.cpu_user_s + stats.cpu_system_s < 1.0, "{stats:?}");
    }
}
