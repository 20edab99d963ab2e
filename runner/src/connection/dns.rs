//! Name resolution for connections: hickory-resolver (system configuration and /etc/hosts by
//! default, or the file's name servers), a per-lookup timeout, and a single-flight cache so that
//! 10,000 connections to one host make one query per TTL, not 10,000. When a name has several
//! addresses, successive connections start with them in turn (round robin), which is how a fleet
//! behind DNS is load-tested, and each connection gets the others as fallbacks ([`Resolved::candidates`]):
//! `localhost` is `::1` and `127.0.0.1`, and a server listening on one of them only must not fail
//! half the connections. An address that failed to connect goes behind the others until it
//! connects again; one connection a second tries it first. `connection::connect` makes the
//! attempts. Errors are worded for the report ("dns: NXDOMAIN for host").

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::OnceCell;

/// One resolved name: its addresses, the round-robin cursor, which addresses failed to connect,
/// and when it expires.
pub struct Resolved {
    addresses: Vec<IpAddr>,
    next: AtomicUsize,
    /// Per address: when its last connect failed, in milliseconds after `since`, plus one; 0 when
    /// it has not failed since it last connected.
    failed_at: Vec<AtomicU64>,
    since: Instant,
    valid_until: Instant,
}

/// How long an address that failed to connect stays behind the others before one connection
/// tries it first again.
const RETRY_FAILED_AFTER: Duration = Duration::from_secs(1);

impl Resolved {
    fn new(addresses: Vec<IpAddr>, valid_until: Instant) -> Resolved {
        let failed_at = addresses.iter().map(|_| AtomicU64::new(0)).collect();
        Resolved {
            addresses,
            next: AtomicUsize::new(0),
            failed_at,
            since: Instant::now(),
            valid_until,
        }
    }

    fn millis(&self) -> u64 {
        u64::try_from(self.since.elapsed().as_millis()).unwrap_or(u64::MAX - 1) + 1
    }

    /// The addresses in the order one connection should try them: an address due for a retry
    /// first (claimed by this connection alone), then those that connect, in turn (round robin),
    /// then those that failed recently.
    pub fn candidates(&self) -> Vec<IpAddr> {
        let turn = self.next.fetch_add(1, Ordering::Relaxed);
        let now = self.millis();
        let retry = u64::try_from(RETRY_FAILED_AFTER.as_millis()).unwrap_or(u64::MAX);
        let health = self
            .failed_at
            .iter()
            .map(|mark| {
                let failed = mark.load(Ordering::Relaxed);
                if failed == 0 {
                    Health::Working
                } else if now.saturating_sub(failed) >= retry
                    && mark
                        .compare_exchange(failed, now, Ordering::Relaxed, Ordering::Relaxed)
                        .is_ok()
                {
                    Health::Retry
                } else {
                    Health::Failed
                }
            })
            .collect::<Vec<_>>();
        order(&self.addresses, &health, turn)
    }

    /// A connect to `address` failed: try the others first for a while.
    pub fn connect_failed(&self, address: IpAddr) {
        if let Some(index) = self.addresses.iter().position(|known| *known == address) {
            self.failed_at[index].store(self.millis(), Ordering::Relaxed);
        }
    }

    /// A connect to `address` succeeded: it takes its turn again.
    pub fn connected(&self, address: IpAddr) {
        if let Some(index) = self.addresses.iter().position(|known| *known == address)
            && self.failed_at[index].load(Ordering::Relaxed) != 0
        {
            self.failed_at[index].store(0, Ordering::Relaxed);
        }
    }
}

/// What the last connects to an address say about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Health {
    /// Connected last time, or never tried.
    Working,
    /// Failed a while ago; this connection tries it first.
    Retry,
    /// Failed recently.
    Failed,
}

/// `addresses` in trying order for the connection whose round-robin turn is `turn`: those to
/// retry, the working ones rotated by `turn` (so the load spreads over all that work), then the
/// failed ones (rotated too, when none works).
fn order(addresses: &[IpAddr], health: &[Health], turn: usize) -> Vec<IpAddr> {
    let of = |wanted: Health| -> Vec<IpAddr> {
        addresses
            .iter()
            .zip(health)
            .filter(|(_, health)| **health == wanted)
            .map(|(address, _)| *address)
            .collect()
    };
    let rotated = |mut list: Vec<IpAddr>| {
        if !list.is_empty() {
            let by = turn % list.len();
            list.rotate_left(by);
        }
        list
    };
    let mut ordered = of(Health::Retry);
    ordered.extend(rotated(of(Health::Working)));
    ordered.extend(rotated(of(Health::Failed)));
    ordered
}

type Slot = Arc<OnceCell<Result<Arc<Resolved>, String>>>;

/// A caching, round-robin resolver shared by all connections of a run.
pub struct Dns {
    resolver: TokioResolver,
    timeout: Duration,
    cache: Mutex<HashMap<String, Slot>>,
    queries: AtomicU64,
}

/// Shortest time a successful answer is reused, whatever its TTL (a TTL of 0 would otherwise mean
/// one query per connection).
const MIN_REUSE: Duration = Duration::from_secs(1);

impl Dns {
    /// A resolver using `nameservers` (or the system configuration when empty).
    pub fn new(nameservers: &[SocketAddr], timeout: Duration) -> Result<Dns, String> {
        let mut builder = if nameservers.is_empty() {
            TokioResolver::builder_tokio()
                .map_err(|error| format!("cannot read the system DNS configuration: {error}"))?
        } else {
            let servers = nameservers
                .iter()
                .map(|address| {
                    let mut server = NameServerConfig::udp_and_tcp(address.ip());
                    for connection in &mut server.connections {
                        connection.port = address.port();
                    }
                    server
                })
                .collect();
            TokioResolver::builder_with_config(
                ResolverConfig::from_parts(None, Vec::new(), servers),
                TokioRuntimeProvider::default(),
            )
        };
        let options: &mut ResolverOpts = builder.options_mut();
        options.timeout = timeout;
        options.attempts = 1;
        let resolver = builder
            .build()
            .map_err(|error| format!("cannot build the DNS resolver: {error}"))?;
        Ok(Dns {
            resolver,
            timeout,
            cache: Mutex::new(HashMap::new()),
            queries: AtomicU64::new(0),
        })
    }

    /// DNS lookups actually sent (cache misses).
    pub fn queries(&self) -> u64 {
        self.queries.load(Ordering::Relaxed)
    }

    /// The addresses of the name `host` ([`Resolved::candidates`] gives one connection's order).
    /// IP literals are the caller's to recognise; they never reach here.
    pub async fn resolve(&self, host: &str) -> Result<Arc<Resolved>, String> {
        let slot = self.slot(host);
        let result = slot.get_or_init(|| self.lookup(host)).await.clone();
        match result {
            Ok(resolved) => Ok(resolved),
            Err(reason) => {
                // Failures are not cached: the next connection asks again.
                self.forget(host, &slot);
                Err(reason)
            }
        }
    }

    fn slot(&self, host: &str) -> Slot {
        let mut cache = match self.cache.lock() {
            Ok(cache) => cache,
            Err(poisoned) => poisoned.into_inner(),
        };
        let fresh = |slot: &Slot| match slot.get() {
            Some(Ok(resolved)) => resolved.valid_until > Instant::now(),
            Some(Err(_)) => false,
            None => true,
        };
        match cache.get(host) {
            Some(slot) if fresh(slot) => slot.clone(),
            _ => {
                let slot = Slot::default();
                cache.insert(host.to_owned(), slot.clone());
                slot
            }
        }
    }

    fn forget(&self, host: &str, slot: &Slot) {
        let mut cache = match self.cache.lock() {
            Ok(cache) => cache,
            Err(poisoned) => poisoned.into_inner(),
        };
        if cache
            .get(host)
            .is_some_and(|current| Arc::ptr_eq(current, slot))
        {
            cache.remove(host);
        }
    }

    async fn lookup(&self, host: &str) -> Result<Arc<Resolved>, String> {
        self.queries.fetch_add(1, Ordering::Relaxed);
        let lookup = tokio::time::timeout(self.timeout, self.resolver.lookup_ip(host)).await;
        let answer = match lookup {
            Err(_) => {
                return Err(format!(
                    "timeout after {} for {host}",
                    crate::config::units::human_duration(self.timeout)
                ));
            }
            Ok(Err(error)) if error.is_nx_domain() => return Err(format!("NXDOMAIN for {host}")),
            Ok(Err(error)) if error.is_no_records_found() => {
                return Err(format!("no addresses for {host}"));
            }
            Ok(Err(error)) => {
                let text = error.to_string();
                if text.contains("timed out") || text.contains("timeout") {
                    return Err(format!(
                        "timeout after {} for {host}",
                        crate::config::units::human_duration(self.timeout)
                    ));
                }
                return Err(format!("{host}: {text}"));
            }
            Ok(Ok(answer)) => answer,
        };
        let addresses: Vec<IpAddr> = answer.iter().collect();
        if addresses.is_empty() {
            return Err(format!("no addresses for {host}"));
        }
        let valid_until = answer.valid_until().max(Instant::now() + MIN_REUSE);
        Ok(Arc::new(Resolved::new(addresses, valid_until)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        match text.parse() {
            Ok(ip) => ip,
            Err(error) => panic!("{text}: {error}"),
        }
    }

    #[test]
    fn every_address_comes_first_in_turn_and_the_others_follow() {
        let all = [ip("::1"), ip("127.0.0.1")];
        let working = [Health::Working; 2];
        assert_eq!(order(&all, &working, 0), vec![all[0], all[1]]);
        assert_eq!(order(&all, &working, 1), vec![all[1], all[0]]);
        assert_eq!(order(&all, &working, 2), vec![all[0], all[1]]);
    }

    #[test]
    fn a_failed_address_goes_last_and_the_load_spreads_over_those_that_work() {
        let all = [ip("10.0.0.1"), ip("10.0.0.2"), ip("10.0.0.3")];
        let health = [Health::Working, Health::Failed, Health::Working];
        let firsts: Vec<IpAddr> = (0..4).map(|turn| order(&all, &health, turn)[0]).collect();
        assert_eq!(firsts, vec![all[0], all[2], all[0], all[2]]);
        assert_eq!(order(&all, &health, 1), vec![all[2], all[0], all[1]]);
        let retry = [Health::Working, Health::Retry, Health::Working];
        assert_eq!(order(&all, &retry, 1), vec![all[1], all[2], all[0]]);
        let none = [Health::Failed; 3];
        assert_eq!(order(&all, &none, 1), vec![all[1], all[2], all[0]]);
    }

    #[test]
    fn an_address_that_failed_is_tried_later_and_retried_by_one_connection() {
        let mut resolved = Resolved::new(vec![ip("::1"), ip("127.0.0.1")], Instant::now());
        // Start the clock of the marks 10 s back, so that a failure can be backdated below.
        resolved.since = match Instant::now().checked_sub(Duration::from_secs(10)) {
            Some(earlier) => earlier,
            None => panic!("the monotonic clock started less than 10 s ago"),
        };
        resolved.connect_failed(ip("::1"));
        for _ in 0..4 {
            assert_eq!(resolved.candidates(), vec![ip("127.0.0.1"), ip("::1")]);
        }
        // The failure is older than the retry delay: the next connection alone tries it first.
        let retry = RETRY_FAILED_AFTER.as_millis() as u64;
        resolved.failed_at[0].store(resolved.millis() - retry - 1, Ordering::Relaxed);
        assert_eq!(resolved.candidates()[0], ip("::1"));
        assert_eq!(resolved.candidates(), vec![ip("127.0.0.1"), ip("::1")]);
        resolved.connected(ip("::1"));
        let firsts: Vec<IpAddr> = (0..2).map(|_| resolved.candidates()[0]).collect();
        assert!(
            firsts.contains(&ip("::1")) && firsts.contains(&ip("127.0.0.1")),
            "{firsts:?}"
        );
    }
}
