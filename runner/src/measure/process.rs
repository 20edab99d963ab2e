//! Figures about the runner process itself (CPU time, peak resident memory, the open-file limit),
//! read from the operating system at the end of a run.

use serde::{Deserialize, Serialize};

/// `process` section.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct ProcessStats {
    /// Peak resident memory of the runner, KiB.
    pub peak_rss_kib: u64,
    /// User CPU time, seconds.
    pub cpu_user_s: f64,
    /// System CPU time, seconds.
    pub cpu_system_s: f64,
    /// Open-file limit in force.
    pub open_files_limit: u64,
}

impl ProcessStats {
    /// Read this process's figures.
    pub fn read(open_files_limit: u64) -> ProcessStats {
        let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
        // SAFETY: getrusage writes a full rusage into the pointer we pass; zeroed is a valid rusage.
        #[allow(unsafe_code)] // the one libc call that reports our own CPU time and peak RSS
        let usage = unsafe {
            if libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) != 0 {
                return ProcessStats {
                    open_files_limit,
                    ..ProcessStats::default()
                };
            }
            usage.assume_init()
        };
        let seconds = |time: libc::timeval| time.tv_sec as f64 + time.tv_usec as f64 / 1e6;
        ProcessStats {
            peak_rss_kib: u64::try_from(usage.ru_maxrss).unwrap_or(0),
            cpu_user_s: seconds(usage.ru_utime),
            cpu_system_s: seconds(usage.ru_stime),
            open_files_limit,
        }
    }
}
