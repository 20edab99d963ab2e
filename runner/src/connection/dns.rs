//! Name resolution for connections: hickory-resolver (system configuration and /etc/hosts by
//! default, or the file's name servers), a per-lookup timeout, and a single-flight cache so that
//! 10,000 connections to one host make one query per TTL, not 10,000. When a name has several
//! addresses, successive connections get them in turn (round robin), which is how a fleet behind
//! DNS is load-tested. Errors are worded for the report ("dns: NXDOMAIN for host").

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::OnceCell;

/// One resolved name: its addresses, the round-robin cursor, and when it expires.
struct Resolved {
    addresses: Vec<IpAddr>,
    next: AtomicUsize,
    valid_until: Instant,
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

    /// The next address for the name `host` (round robin over its addresses). IP literals are
    /// the caller's to recognise; they never reach here.
    pub async fn resolve(&self, host: &str) -> Result<IpAddr, String> {
        let slot = self.slot(host);
        let result = slot.get_or_init(|| self.lookup(host)).await.clone();
        match result {
            Ok(resolved) => {
                let index =
                    resolved.next.fetch_add(1, Ordering::Relaxed) % resolved.addresses.len();
                Ok(resolved.addresses[index])
            }
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
        Ok(Arc::new(Resolved {
            addresses,
            next: AtomicUsize::new(0),
            valid_until,
        }))
    }
}
