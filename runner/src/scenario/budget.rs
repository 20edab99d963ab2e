//! [`MemoryBudget`]: one connection's memory cap (`limits.memory`), shared by the scenario's linear
//! memory and what the runner holds on the scenario's behalf (its waiting requests and set timers,
//! from `schedule::Schedule::held_bytes`). It is the store's wasmtime `ResourceLimiter`: a memory
//! growth that would take the two past the cap traps (the trap text names the cap, see `trap`),
//! and `host::ConnState` refuses a request or timer that would, failing the connection with a
//! memory reason. So a module that issues 100,000 requests cannot make the runner hold megabytes
//! per connection beyond its cap. The other store limits (instances, tables, table elements) are
//! wasmtime's `StoreLimits`, kept inside.

use wasmtime::{ResourceLimiter, StoreLimits, StoreLimitsBuilder};

/// The memory cap of one connection and what uses it.
#[derive(Debug)]
pub struct MemoryBudget {
    /// `limits.memory`, in bytes.
    cap: usize,
    /// Bytes of linear memory the instance has (summed over its memories).
    linear: usize,
    /// Bytes the runner holds for the scenario (requests, timers), as last noted.
    host: usize,
    /// Instance, table and table-element limits.
    others: StoreLimits,
}

impl MemoryBudget {
    /// A budget of `cap` bytes.
    pub fn new(cap: usize) -> Self {
        MemoryBudget {
            cap,
            linear: 0,
            host: 0,
            others: StoreLimitsBuilder::new()
                .trap_on_grow_failure(true)
                .instances(8)
                .memories(2)
                .tables(8)
                .table_elements(100_000)
                .build(),
        }
    }

    /// Note that the runner now holds `host` bytes for the scenario: whether that, with the
    /// linear memory, still fits the cap.
    pub fn hold(&mut self, host: usize) -> bool {
        self.host = host;
        self.linear.saturating_add(host) <= self.cap
    }

    /// Bytes of linear memory the instance has.
    pub fn linear(&self) -> usize {
        self.linear
    }
}

impl ResourceLimiter for MemoryBudget {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let linear = self.linear.saturating_sub(current).saturating_add(desired);
        let within_maximum = maximum.is_none_or(|maximum| desired <= maximum);
        if linear.saturating_add(self.host) > self.cap || !within_maximum {
            // trap::describe recognises this text as the memory cap.
            wasmtime::bail!("forcing trap when growing memory to {desired} bytes");
        }
        self.linear = linear;
        Ok(true)
    }

    fn memory_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.others.memory_grow_failed(error)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.others.table_growing(current, desired, maximum)
    }

    fn table_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.others.table_grow_failed(error)
    }

    fn instances(&self) -> usize {
        self.others.instances()
    }

    fn tables(&self) -> usize {
        self.others.tables()
    }

    fn memories(&self) -> usize {
        self.others.memories()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_memory_and_held_bytes_share_one_cap() {
        let mut budget = MemoryBudget::new(1_000);
        assert!(matches!(budget.memory_growing(0, 600, None), Ok(true)));
        assert_eq!(budget.linear(), 600);
        assert!(budget.hold(400));
        assert!(!budget.hold(401));
        assert!(budget.hold(300));
        // Growing by 100 more fits (600 + 100 + 300); by 101 more does not.
        assert!(matches!(budget.memory_growing(600, 700, None), Ok(true)));
        assert!(budget.memory_growing(700, 701, None).is_err());
        assert_eq!(budget.linear(), 700);
    }

    #[test]
    fn a_memorys_own_maximum_is_kept() {
        let mut budget = MemoryBudget::new(1 << 20);
        assert!(budget.memory_growing(0, 2048, Some(1024)).is_err());
        assert_eq!(budget.linear(), 0);
    }
}
