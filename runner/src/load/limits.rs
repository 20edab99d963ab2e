//! Operating-system limits checked before a run ramps up: open files (the soft limit is raised to
//! the hard limit first), ephemeral ports towards one destination, and memory mappings. A run that
//! cannot fit is refused up front with the numbers and the fix, instead of failing at connection
//! 16,000. Errors that still happen mid-run are counted by reason in `connection`.

use std::fs;

/// File descriptors kept for the runner itself (listener, epoll, stdio, module files, threads).
const RESERVED_FILES: u64 = 64;
/// Memory mappings the runner uses before any connection (code, heap, thread stacks).
const BASE_MAPPINGS: u64 = 2_000;
/// Mappings per connection: linear memories are anonymous mappings of one size that the kernel
/// merges with their neighbours (`scenario::memory`; measured: 56 mappings with 5,000 instances);
/// the allocator's arenas amortise to well under one.
const MAPPINGS_PER_CONNECTION: u64 = 1;

/// A limit the planned run does not fit in.
#[derive(Debug, thiserror::Error)]
pub enum LimitError {
    /// Not enough file descriptors.
    #[error(
        "this run needs about {needed} open files ({connections} connections{server} + {RESERVED_FILES} for the runner) but the limit is {soft} (hard limit {hard}). Fix: lower load.connections, raise the hard limit (`ulimit -Hn` as root, LimitNOFILE= for a systemd unit, /etc/security/limits.conf){embedded_hint}"
    )]
    OpenFiles {
        /// Descriptors the run needs.
        needed: u64,
        /// Planned connections.
        connections: u64,
        /// " × 2 for the embedded server" or "".
        server: &'static str,
        /// Extra hint for embedded targets.
        embedded_hint: &'static str,
        /// Soft limit after raising.
        soft: u64,
        /// Hard limit.
        hard: u64,
    },
    /// Not enough ephemeral ports for one destination.
    #[error(
        "this run opens {connections} connections to one address but the ephemeral port range {low}-{high} and the source addresses allow {ports} per destination. Fix: add local addresses to net.source_addresses (e.g. 127.0.0.2 to 127.0.0.9 on loopback), widen net.ipv4.ip_local_port_range, lower load.connections, or split the run across machines"
    )]
    Ports {
        /// Planned connections.
        connections: u64,
        /// Range start.
        low: u64,
        /// Range end.
        high: u64,
        /// Ports available.
        ports: u64,
    },
    /// Not enough memory mappings.
    #[error(
        "this run needs about {needed} memory mappings but vm.max_map_count is {limit}. Fix: `sysctl -w vm.max_map_count={suggested}` or lower load.connections"
    )]
    Mappings {
        /// Mappings needed.
        needed: u64,
        /// The setting.
        limit: u64,
        /// A value that fits.
        suggested: u64,
    },
}

/// The limits in force after [`preflight`].
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Preflight {
    /// Open-file soft limit (after raising to the hard limit).
    pub open_files: u64,
    /// Ephemeral ports per destination, if known.
    pub ephemeral_ports: Option<u64>,
    /// `vm.max_map_count`, if known.
    pub max_map_count: Option<u64>,
}

/// Raise the open-file soft limit to the hard limit; returns (soft, hard).
pub fn raise_open_files() -> (u64, u64) {
    match rlimit::Resource::NOFILE.get() {
        Ok((soft, hard)) => {
            if soft < hard && rlimit::Resource::NOFILE.set(hard, hard).is_ok() {
                (hard, hard)
            } else {
                (soft, hard)
            }
        }
        Err(_) => (1024, 1024),
    }
}

fn read_number_list(path: &str) -> Option<Vec<u64>> {
    let text = fs::read_to_string(path).ok()?;
    text.split_whitespace()
        .map(|part| part.parse().ok())
        .collect()
}

/// Files one connection needs: its socket, and the server's end too with an `embedded://` target.
fn files_per_connection(embedded: bool) -> u64 {
    if embedded { 2 } else { 1 }
}

/// `--workers auto`: the fewest processes whose open-file limits (`soft` each) hold `connections`
/// (at least one), and the reason in words. Ports do not grow with processes (the kernel shares
/// them machine-wide per source and destination address); each worker's preflight checks its
/// share of them against its share of `net.source_addresses`.
pub fn workers_for(connections: u64, embedded: bool, soft: u64, cores: u64) -> (u32, String) {
    let per_connection = files_per_connection(embedded);
    let per_process = (soft.saturating_sub(RESERVED_FILES) / per_connection).max(1);
    let needed = connections.div_ceil(per_process).max(1);
    let count = u32::try_from(needed).unwrap_or(u32::MAX);
    let files = if embedded {
        " (two files each with the embedded server)"
    } else {
        ""
    };
    let cores_note = if needed > cores {
        format!("; more than one per core ({cores} cores) because the open-file limit needs it")
    } else {
        format!(" ({cores} cores)")
    };
    (
        count,
        format!(
            "{connections} connections{files} and one process may hold {per_process} (open-file limit {soft}, {RESERVED_FILES} kept for the runner){cores_note}"
        ),
    )
}

/// Check that `connections` fit; `embedded` when this process also serves them; `sources` is the
/// number of configured source addresses (each has its own ephemeral ports per destination).
pub fn preflight(connections: u64, embedded: bool, sources: u64) -> Result<Preflight, LimitError> {
    let (soft, hard) = raise_open_files();
    let per_connection = files_per_connection(embedded);
    let needed = connections * per_connection + RESERVED_FILES;
    if needed > soft {
        return Err(LimitError::OpenFiles {
            needed,
            connections,
            server: if embedded {
                " × 2 for the embedded server"
            } else {
                ""
            },
            embedded_hint: if embedded {
                ", or run the server in another process with `volley serve` and point --target at it"
            } else {
                ""
            },
            soft,
            hard,
        });
    }
    let ports = read_number_list("/proc/sys/net/ipv4/ip_local_port_range")
        .filter(|range| range.len() == 2 && range[1] >= range[0])
        .map(|range| (range[0], range[1]));
    if let Some((low, high)) = ports {
        let available = (high - low + 1) * sources.max(1);
        if connections > available {
            return Err(LimitError::Ports {
                connections,
                low,
                high,
                ports: available,
            });
        }
    }
    let max_map_count =
        read_number_list("/proc/sys/vm/max_map_count").and_then(|list| list.first().copied());
    if let Some(limit) = max_map_count {
        let needed = BASE_MAPPINGS + connections * MAPPINGS_PER_CONNECTION;
        if needed > limit {
            return Err(LimitError::Mappings {
                needed,
                limit,
                suggested: needed.next_power_of_two(),
            });
        }
    }
    Ok(Preflight {
        open_files: soft,
        ephemeral_ports: ports.map(|(low, high)| high - low + 1),
        max_map_count,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workers_auto_takes_the_fewest_processes_the_open_file_limit_allows() {
        // 60,000 connections at 20,000 files a process (19,936 after the reserve): 4 processes.
        let (count, why) = workers_for(60_000, false, 20_000, 2);
        assert_eq!(count, 4);
        assert!(why.contains("one process may hold 19936"), "{why}");
        assert!(why.contains("more than one per core (2 cores)"), "{why}");
        assert_eq!(workers_for(15_000, false, 20_000, 2).0, 1);
        assert_eq!(
            workers_for(15_000, true, 20_000, 2).0,
            2,
            "the embedded server doubles the files"
        );
        assert_eq!(workers_for(0, false, 20_000, 2).0, 1);
        assert_eq!(
            workers_for(10, false, 10, 8).0,
            10,
            "a tiny limit still gives an answer"
        );
    }

    #[test]
    fn a_run_beyond_the_open_file_limit_is_refused_with_numbers() {
        let (soft, _) = raise_open_files();
        let error = preflight(soft, true, 0)
            .map(|_| ())
            .unwrap_err()
            .to_string();
        assert!(error.contains(&format!("the limit is {soft}")), "{error}");
        assert!(error.contains("volley serve"), "{error}");
    }

    #[test]
    fn a_small_run_fits() {
        assert!(preflight(10, true, 0).is_ok());
    }
}
