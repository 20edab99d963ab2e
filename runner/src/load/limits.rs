//! Operating-system limits checked before a run ramps up: open files (the soft limit is raised to
//! the hard limit first), ephemeral ports towards one destination, and memory mappings. A run that
//! cannot fit is refused up front with the numbers and the fix, instead of failing at connection
//! 16,000. Errors that still happen mid-run are counted by reason in `connection`.
//!
//! Ports are held by more than open connections: Linux keeps the local port of a connection this
//! side closed first in TIME_WAIT for 60 s (`connect: no free local port (EADDRNOTAVAIL: …)` once
//! the range is used up). `connection::event_loop` lets the server close TCP first, as RFC 6455
//! asks, so TIME_WAIT normally stays on the server; [`time_wait_warning`] says when an arrival
//! rate would run out of ports if it did not (a server that does not close, failed connections).

use std::fs;
use std::time::Duration;

/// How long Linux keeps a port in TIME_WAIT after this side closed first (`TCP_TIMEWAIT_LEN`,
/// not a setting; `tcp_fin_timeout` is another state's).
const TIME_WAIT: Duration = Duration::from_secs(60);
/// With `net.ipv4.tcp_tw_reuse` (1: every destination; 2, the default: loopback only) and TCP
/// timestamps on, connect() takes a port in TIME_WAIT again once it is this old.
const TIME_WAIT_REUSABLE_AFTER: Duration = Duration::from_secs(1);

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
        "this run opens {connections} connections to one address but the ephemeral port range {low}-{high} and {sources} allow {ports} per destination. Fix: add local addresses to net.source_addresses (e.g. 127.0.0.2 to 127.0.0.9 on loopback), widen net.ipv4.ip_local_port_range, lower load.connections, or split the run across machines"
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
        /// The source addresses in words ([`Sources::describe`]).
        sources: String,
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
    /// Ports this process may use per destination (the range times its source addresses, divided
    /// between the shards that share them), if known.
    pub ports_per_destination: Option<u64>,
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

/// The source addresses one process connects from, for the port check: each has its own ephemeral
/// ports per destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sources {
    /// Addresses this process binds (0: the operating system chooses one).
    pub count: u64,
    /// Processes binding each of them: with fewer `net.source_addresses` than shards, shards share
    /// an address, and its ports (`load::shard`).
    pub shared_by: u64,
}

impl Sources {
    /// The sources of shard `index` of `count` when the file lists `listed` addresses and the
    /// shard binds `used` of them.
    pub fn of_shard(index: u32, count: u32, listed: usize, used: usize) -> Sources {
        let listed = listed as u64;
        let (index, count) = (u64::from(index), u64::from(count.max(1)));
        let shared_by = if listed > 0 && listed < count {
            // Shards `index mod listed`, `+ listed`, … bind the same address.
            count / listed + u64::from(index % listed < count % listed)
        } else {
            1
        };
        Sources {
            count: used as u64,
            shared_by,
        }
    }

    /// Ports per destination from a range of `range` ports.
    pub fn ports(&self, range: u64) -> u64 {
        range * self.count.max(1) / self.shared_by.max(1)
    }

    fn describe(&self) -> String {
        match self.count {
            0 | 1 if self.shared_by <= 1 => "one source address".to_owned(),
            0 | 1 => format!(
                "one source address shared with {} other shards",
                self.shared_by - 1
            ),
            count => format!("{count} source addresses"),
        }
    }
}

/// A warning when `per_second` new connections (this process's arrival rate), with up to `open`
/// held at once, would use up the `ports` per destination if this side held a TIME_WAIT for
/// every connection it closes (it does when the server does not close TCP within a second of
/// the closing handshake, and for connections that fail). `loopback`: the destination is on this
/// machine, where the default `tcp_tw_reuse` (2) frees such ports after 1 s; `tw_reuse` and
/// `timestamps` are `net.ipv4.tcp_tw_reuse` and `net.ipv4.tcp_timestamps`.
pub fn time_wait_warning(
    per_second: f64,
    open: u64,
    ports: u64,
    loopback: bool,
    tw_reuse: u64,
    timestamps: bool,
) -> Option<String> {
    let reused = timestamps && (tw_reuse == 1 || (tw_reuse == 2 && loopback));
    let held = if reused {
        TIME_WAIT_REUSABLE_AFTER
    } else {
        TIME_WAIT
    };
    let waiting = (per_second * held.as_secs_f64()).ceil() as u64;
    let needed = open.saturating_add(waiting);
    if needed <= ports {
        return None;
    }
    let rate = (per_second * 10.0).round() / 10.0;
    let hold = format!("{}s", held.as_secs());
    let closes_per_second = ports.saturating_sub(open) as f64 / held.as_secs_f64();
    Some(format!(
        "at {rate} new connections a second, every connection this side closes first keeps its local port in TIME_WAIT for {hold}: with up to {open} open that is {needed} ports per destination, but there are {ports}; above {closes_per_second:.0} such closes a second, connects fail with `connect: no free local port (EADDRNOTAVAIL: …)`. Volley lets the server close TCP first (RFC 6455), which keeps TIME_WAIT on the server; connections that fail, and servers that do not close TCP within 1s of the closing handshake, leave it here. Fix: add net.source_addresses, widen net.ipv4.ip_local_port_range, or lower load.arrival_rate"
    ))
}

/// Whether the target URL (a template) names this machine: a loopback address or `localhost`.
pub fn on_loopback(target: &str) -> bool {
    let Ok(url) = url::Url::parse(target) else {
        return false;
    };
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => {
            name.eq_ignore_ascii_case("localhost")
                || name.to_ascii_lowercase().ends_with(".localhost")
        }
        None => false,
    }
}

/// `net.ipv4.tcp_tw_reuse` and whether `net.ipv4.tcp_timestamps` is on (Linux defaults when
/// unreadable: 2, on).
pub fn time_wait_settings() -> (u64, bool) {
    let first = |path: &str| read_number_list(path).and_then(|list| list.first().copied());
    (
        first("/proc/sys/net/ipv4/tcp_tw_reuse").unwrap_or(2),
        first("/proc/sys/net/ipv4/tcp_timestamps").unwrap_or(1) != 0,
    )
}

/// Check that `connections` fit; `embedded` when this process also serves them; `sources` are the
/// source addresses it binds (each has its own ephemeral ports per destination).
pub fn preflight(
    connections: u64,
    embedded: bool,
    sources: Sources,
) -> Result<Preflight, LimitError> {
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
        let available = sources.ports(high - low + 1);
        if connections > available {
            return Err(LimitError::Ports {
                connections,
                low,
                high,
                ports: available,
                sources: sources.describe(),
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
        ports_per_destination: ports.map(|(low, high)| sources.ports(high - low + 1)),
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
        let error = preflight(soft, true, ONE)
            .map(|_| ())
            .unwrap_err()
            .to_string();
        assert!(error.contains(&format!("the limit is {soft}")), "{error}");
        assert!(error.contains("volley serve"), "{error}");
    }

    #[test]
    fn a_small_run_fits() {
        assert!(preflight(10, true, ONE).is_ok());
    }

    const ONE: Sources = Sources {
        count: 0,
        shared_by: 1,
    };

    #[test]
    fn shards_that_share_a_source_address_share_its_ports() {
        // Five addresses, six shards: shards 0 and 5 bind the first address, the others one each.
        let shared: Vec<u64> = (0..6)
            .map(|index| Sources::of_shard(index, 6, 5, 1).shared_by)
            .collect();
        assert_eq!(shared, vec![2, 1, 1, 1, 1, 2]);
        assert_eq!(Sources::of_shard(0, 6, 5, 1).ports(28_232), 14_116);
        assert!(
            Sources::of_shard(0, 6, 5, 1)
                .describe()
                .contains("shared with 1 other")
        );
        // Enough addresses: each shard has its own.
        assert_eq!(Sources::of_shard(1, 2, 5, 2).ports(28_232), 56_464);
        assert_eq!(Sources::of_shard(0, 1, 0, 0).ports(28_232), 28_232);
    }

    #[test]
    fn loopback_targets_are_recognised() {
        assert!(on_loopback("ws://127.0.0.1:9001/"));
        assert!(on_loopback("ws://localhost:9001/room-{vu}"));
        assert!(on_loopback("wss://[::1]/"));
        assert!(!on_loopback("wss://example.com/"));
        assert!(!on_loopback("ws://10.0.0.5/"));
    }

    #[test]
    fn an_arrival_rate_that_would_fill_the_ports_with_time_wait_is_warned_about() {
        // One address towards a remote server: 28,232 ports / 60 s ≈ 470 closes a second.
        let warning = time_wait_warning(500.0, 100, 28_232, false, 2, true).unwrap_or_default();
        assert!(warning.contains("30100 ports per destination"), "{warning}");
        assert!(
            warning.contains("above 469 such closes a second"),
            "{warning}"
        );
        assert_eq!(time_wait_warning(400.0, 100, 28_232, false, 2, true), None);
        // Five addresses hold 141,160 ports.
        assert_eq!(time_wait_warning(500.0, 100, 141_160, false, 2, true), None);
        // On loopback the default tcp_tw_reuse frees them after 1 s; not without timestamps.
        assert_eq!(time_wait_warning(500.0, 100, 28_232, true, 2, true), None);
        assert!(time_wait_warning(500.0, 100, 28_232, true, 2, false).is_some());
        assert!(time_wait_warning(500.0, 100, 28_232, true, 0, true).is_some());
    }
}
