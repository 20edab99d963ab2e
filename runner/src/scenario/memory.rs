//! Linear memories for scenario instances, recycled between connections instead of mapped and
//! unmapped for each one. Every connection has its own instance, and wasmtime's default gives each
//! instance's memory a fresh `mmap`, an `mprotect` and, when the connection ends, a `munmap` (whose
//! TLB flush stalls every core), then page faults to touch the few pages the guest uses. At
//! thousands of connections per second that was a fifth of the runner's CPU per connection.
//!
//! Here each memory is one anonymous mapping of `limits.memory` (address space only; pages are
//! resident once touched), so growth up to the cap never moves it. When an instance is dropped its
//! mapping goes back to a pool: the pages the guest touched are zeroed in place (they stay
//! resident for the next instance, which touches the same ones — same module, same layout) and any
//! other page in use is discarded with `madvise(MADV_DONTNEED)`, so the next instance always starts
//! from zeroes, as wasm requires. The pool keeps at most [`MAX_POOLED`] mappings; more are unmapped.
//!
//! Bounds: compiled code checks every access against the memory's current size (the engine has no
//! guard pages or reservations, see `engine`), so the part of a mapping beyond the size is never
//! reachable from the guest.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use wasmtime::{LinearMemory, MemoryCreator, MemoryType};

/// Free mappings kept for reuse; each holds the pages its last guest touched (~20 KiB for the
/// examples), so this bounds what an idle pool keeps resident.
pub const MAX_POOLED: usize = 2048;

const PAGE: usize = 4096;

/// One anonymous read-write mapping.
#[derive(Debug)]
struct Mapping {
    /// Start address (kept as an integer so the type is `Send`).
    start: usize,
    /// Length in bytes, a multiple of [`PAGE`].
    length: usize,
}

impl Mapping {
    fn new(length: usize) -> Result<Mapping, String> {
        // SAFETY: an anonymous private mapping at an address the kernel picks; no existing memory
        // is affected. The result is checked for MAP_FAILED.
        #[allow(unsafe_code)] // no safe mmap in std
        let start = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                length,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if start == libc::MAP_FAILED {
            return Err(format!(
                "cannot reserve {} for a scenario's memory: {}",
                crate::config::units::human_bytes(length as u64),
                std::io::Error::last_os_error()
            ));
        }
        Ok(Mapping {
            start: start as usize,
            length,
        })
    }

    fn pointer(&self) -> *mut u8 {
        self.start as *mut u8
    }

    /// Make the first `used` bytes zero again, keeping resident pages resident; returns how many
    /// bytes were resident (0 when unknown).
    fn clear(&self, used: usize) -> usize {
        let used = used.div_ceil(PAGE) * PAGE;
        if used == 0 {
            return 0;
        }
        let mut resident = vec![0u8; used / PAGE];
        // SAFETY: mincore reads the page tables of our own mapping [start, start + used) and
        // writes one byte per page into `resident`, which has exactly that many.
        #[allow(unsafe_code)] // no safe mincore in std
        let known =
            unsafe { libc::mincore(self.start as *mut libc::c_void, used, resident.as_mut_ptr()) }
                == 0;
        if !known {
            self.discard(0, used);
            return 0;
        }
        let mut touched = 0;
        let mut page = 0;
        while page < resident.len() {
            let is_resident = resident[page] & 1 == 1;
            let run = resident[page..]
                .iter()
                .take_while(|flags| (*flags & 1 == 1) == is_resident)
                .count();
            let (offset, length) = (page * PAGE, run * PAGE);
            if is_resident {
                touched += length;
                // SAFETY: [offset, offset + length) lies within our mapping, which no instance
                // uses any more (this runs when its memory was dropped).
                #[allow(unsafe_code)] // zeroing our own mapping in place
                unsafe {
                    std::ptr::write_bytes(self.pointer().add(offset), 0, length);
                }
            } else {
                // Never touched (already zero) or swapped out: either way, drop it.
                self.discard(offset, length);
            }
            page += run;
        }
        touched
    }

    /// `madvise(MADV_DONTNEED)`: the range reads as zeroes again (pages are freed).
    fn discard(&self, offset: usize, length: usize) {
        // SAFETY: the range lies within our mapping; MADV_DONTNEED on private anonymous memory only
        // drops its contents.
        #[allow(unsafe_code)] // no safe madvise in std
        unsafe {
            libc::madvise(
                (self.start + offset) as *mut libc::c_void,
                length,
                libc::MADV_DONTNEED,
            );
        }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: unmapping exactly the mapping this value owns, once.
        #[allow(unsafe_code)] // no safe munmap in std
        unsafe {
            libc::munmap(self.start as *mut libc::c_void, self.length);
        }
    }
}

/// The pool of free mappings, shared by the engine (as its memory creator) and every live memory.
#[derive(Debug)]
pub struct MemoryPool {
    /// Length of every mapping: the memory cap rounded up to whole pages.
    length: usize,
    free: Mutex<Vec<Mapping>>,
    /// The size and resident bytes of the memory given back last (for `volley check`).
    last_size: AtomicUsize,
    last_touched: AtomicUsize,
}

/// What one instance's memory had become when it was given back.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Released {
    /// The linear memory's size, bytes (its initial size plus any growth).
    pub size: usize,
    /// Bytes of it the guest touched (resident pages).
    pub touched: usize,
}

impl MemoryPool {
    /// A pool of mappings of `cap` bytes each (`limits.memory`).
    pub fn new(cap: usize) -> Arc<MemoryPool> {
        Arc::new(MemoryPool {
            length: cap.div_ceil(PAGE).max(1) * PAGE,
            free: Mutex::new(Vec::new()),
            last_size: AtomicUsize::new(0),
            last_touched: AtomicUsize::new(0),
        })
    }

    /// Mappings waiting for reuse.
    #[cfg(test)]
    fn pooled(&self) -> usize {
        self.free.lock().map_or(0, |free| free.len())
    }

    fn take(&self) -> Result<Mapping, String> {
        let reused = self.free.lock().ok().and_then(|mut free| free.pop());
        match reused {
            Some(mapping) => Ok(mapping),
            None => Mapping::new(self.length),
        }
    }

    /// The memory given back last: its size and how much of it the guest touched.
    pub fn last_released(&self) -> Released {
        Released {
            size: self.last_size.load(Ordering::Relaxed),
            touched: self.last_touched.load(Ordering::Relaxed),
        }
    }

    fn give_back(&self, mapping: Mapping, used: usize) {
        let touched = mapping.clear(used);
        self.last_size.store(used, Ordering::Relaxed);
        self.last_touched.store(touched, Ordering::Relaxed);
        if let Ok(mut free) = self.free.lock()
            && free.len() < MAX_POOLED
        {
            free.push(mapping);
        }
        // Otherwise (pool full): dropped here, which unmaps it.
    }
}

/// One instance's linear memory: a pooled mapping and the size the guest may use.
struct PooledMemory {
    pool: Arc<MemoryPool>,
    mapping: Option<Mapping>,
    size: usize,
}

// SAFETY: the memory is one read-write mapping that stays at its address until the memory is
// dropped, is page aligned, starts zeroed (fresh, or cleared by `give_back`), and is `capacity`
// bytes long, so growth never moves it. No guard pages are promised: the engine is configured for
// explicit bounds checks (no reservation, no guard; see `engine::engine_config`).
#[allow(unsafe_code)] // wasmtime's interface for host-provided memories is an unsafe trait
unsafe impl LinearMemory for PooledMemory {
    fn byte_size(&self) -> usize {
        self.size
    }

    fn byte_capacity(&self) -> usize {
        self.mapping.as_ref().map_or(0, |mapping| mapping.length)
    }

    fn grow_to(&mut self, new_size: usize) -> wasmtime::Result<()> {
        if new_size > self.byte_capacity() {
            return Err(wasmtime::Error::msg(format!(
                "a scenario's memory cannot grow past limits.memory ({})",
                crate::config::units::human_bytes(self.byte_capacity() as u64)
            )));
        }
        self.size = self.size.max(new_size);
        Ok(())
    }

    fn as_ptr(&self) -> *mut u8 {
        self.mapping
            .as_ref()
            .map_or(std::ptr::null_mut(), Mapping::pointer)
    }
}

impl Drop for PooledMemory {
    fn drop(&mut self) {
        if let Some(mapping) = self.mapping.take() {
            self.pool.give_back(mapping, self.size);
        }
    }
}

/// What the engine asks for memories (`Config::with_host_memory`).
pub struct PooledMemories(pub Arc<MemoryPool>);

// SAFETY: each memory returned owns its mapping exclusively until dropped (see `PooledMemory`),
// is zero-filled and at least `minimum` bytes; a request that does not fit the mapping is refused.
#[allow(unsafe_code)] // wasmtime's interface for host-provided memories is an unsafe trait
unsafe impl MemoryCreator for PooledMemories {
    fn new_memory(
        &self,
        _ty: MemoryType,
        minimum: usize,
        _maximum: Option<usize>,
        reserved_size_in_bytes: Option<usize>,
        guard_size_in_bytes: usize,
    ) -> Result<Box<dyn LinearMemory>, String> {
        let pool = &self.0;
        if guard_size_in_bytes > 0 || reserved_size_in_bytes.is_some_and(|size| size > pool.length)
        {
            return Err(
                "the engine asked for guard pages or a reservation the memory pool does not make"
                    .into(),
            );
        }
        if minimum > pool.length {
            return Err(format!(
                "the scenario's initial memory ({}) is larger than limits.memory ({})",
                crate::config::units::human_bytes(minimum as u64),
                crate::config::units::human_bytes(pool.length as u64)
            ));
        }
        let mapping = pool.take()?;
        Ok(Box::new(PooledMemory {
            pool: pool.clone(),
            mapping: Some(mapping),
            size: minimum,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn memory(pool: &Arc<MemoryPool>, minimum: usize) -> Box<dyn LinearMemory> {
        let creator = PooledMemories(pool.clone());
        match creator.new_memory(MemoryType::new(1, None), minimum, None, None, 0) {
            Ok(memory) => memory,
            Err(error) => panic!("{error}"),
        }
    }

    fn bytes(memory: &mut dyn LinearMemory) -> &mut [u8] {
        // SAFETY (test): the memory is live and `byte_size` bytes long.
        #[allow(unsafe_code)]
        unsafe {
            std::slice::from_raw_parts_mut(memory.as_ptr(), memory.byte_size())
        }
    }

    #[test]
    fn a_reused_mapping_starts_from_zeroes_whatever_the_last_guest_wrote() {
        let pool = MemoryPool::new(1 << 20);
        let mut first = memory(&pool, 128 << 10);
        let address = first.as_ptr();
        bytes(first.as_mut())[0] = 7;
        bytes(first.as_mut())[70_000] = 9;
        bytes(first.as_mut())[(128 << 10) - 1] = 1;
        drop(first);
        assert_eq!(pool.pooled(), 1);
        let mut second = memory(&pool, 128 << 10);
        assert_eq!(second.as_ptr(), address, "the mapping is reused");
        assert!(bytes(second.as_mut()).iter().all(|byte| *byte == 0));
    }

    #[test]
    fn a_released_memory_reports_its_size_and_the_pages_touched() {
        let pool = MemoryPool::new(1 << 20);
        let mut memory = memory(&pool, 128 << 10);
        // Three pages touched: two bytes on page 0, one on page 5, one on the last page.
        bytes(memory.as_mut())[1] = 1;
        bytes(memory.as_mut())[2] = 1;
        bytes(memory.as_mut())[5 * PAGE + 7] = 1;
        bytes(memory.as_mut())[(128 << 10) - 1] = 1;
        drop(memory);
        assert_eq!(
            pool.last_released(),
            Released {
                size: 128 << 10,
                touched: 3 * PAGE
            }
        );
    }

    #[test]
    fn growth_stays_in_place_up_to_the_cap_and_is_refused_beyond() {
        let pool = MemoryPool::new(256 << 10);
        let mut memory = memory(&pool, 64 << 10);
        let address = memory.as_ptr();
        assert!(memory.grow_to(256 << 10).is_ok());
        assert_eq!(memory.as_ptr(), address);
        assert_eq!(memory.byte_size(), 256 << 10);
        bytes(memory.as_mut())[(256 << 10) - 1] = 3;
        assert!(memory.grow_to((256 << 10) + 1).is_err());
    }

    #[test]
    fn grown_memory_is_cleared_to_its_grown_size() {
        let pool = MemoryPool::new(512 << 10);
        let mut first = memory(&pool, 64 << 10);
        assert!(first.grow_to(512 << 10).is_ok());
        bytes(first.as_mut())[500_000] = 5;
        drop(first);
        let mut second = memory(&pool, 64 << 10);
        assert!(second.grow_to(512 << 10).is_ok());
        assert!(bytes(second.as_mut()).iter().all(|byte| *byte == 0));
    }

    #[test]
    fn an_initial_size_beyond_the_cap_is_refused_with_the_reason() {
        let pool = MemoryPool::new(64 << 10);
        let creator = PooledMemories(pool);
        let refused = creator
            .new_memory(MemoryType::new(4, None), 256 << 10, None, None, 0)
            .err()
            .unwrap_or_default();
        assert!(refused.contains("limits.memory"), "{refused}");
    }

    #[test]
    fn the_pool_keeps_at_most_its_bound() {
        let pool = MemoryPool::new(64 << 10);
        let live: Vec<_> = (0..MAX_POOLED + 3).map(|_| memory(&pool, 4096)).collect();
        drop(live);
        assert_eq!(pool.pooled(), MAX_POOLED);
    }
}
