//! The wasmtime side of a run: one [`ScenarioEngine`] per run holds the engine (configured so that
//! ~20k instances fit one process: no per-instance address-space reservation or guard mappings), the
//! linker (WASI p2 with nothing granted, plus the Volley host imports), the pre-instantiated module and
//! the epoch ticker that bounds each callback's CPU time. The compiled code comes from `cache` when
//! an earlier run compiled the same module. Instances are made per connection by
//! [`ScenarioEngine::instantiate`]; what they do lives in `host` and `connection::event_loop`.

use crate::config::Scenario;
use crate::config::flow::Flow;
use crate::config::module_file::ModuleFile;
use crate::config::pin::{self, Sha256Hex};
use crate::scenario::bindings::{WIT_PACKAGE, WIT_PACKAGE_V0_1, WIT_PACKAGE_V0_2};
use crate::scenario::guest::{Guest, GuestPre};
use crate::scenario::host::ConnState;
use crate::scenario::memory::{MemoryPool, PooledMemories, Released};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;
use wasmtime::component::Linker;
use wasmtime::{Config, Engine, Store, UpdateDeadline};

/// How often the epoch advances; callback deadlines are counted in these ticks.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Why a scenario module could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ModuleError {
    /// The file is missing or unreadable.
    #[error(
        "scenario module {path}: {source}; build it with `just scenarios` (or `cargo build --release --target wasm32-wasip2` in its crate) and check `module:` in the scenario file"
    )]
    Read {
        /// The module path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not a WebAssembly component.
    #[error(
        "scenario module {path} is not a WebAssembly component ({reason}); build it for the `wasm32-wasip2` target"
    )]
    NotAComponent {
        /// The module path.
        path: PathBuf,
        /// wasmtime's reason.
        reason: String,
    },
    /// The component does not match the contract (imports or exports).
    #[error(
        "scenario module {path} does not fit this runner's interface {WIT_PACKAGE} (nor {WIT_PACKAGE_V0_2}, {WIT_PACKAGE_V0_1}): {reason}; rebuild it against a volley-sdk that speaks {WIT_PACKAGE}"
    )]
    Interface {
        /// The module path.
        path: PathBuf,
        /// wasmtime's reason.
        reason: String,
    },
    /// The component links but cannot be instantiated (e.g. its initial memory is over
    /// `limits.memory`); found by `volley check`'s trial instance.
    #[error("scenario module {path} could not be instantiated: {reason}")]
    Instantiate {
        /// The module path.
        path: PathBuf,
        /// What failed, in words.
        reason: String,
    },
    /// The module is not the one `module_sha256` pins.
    #[error("{0}")]
    Pinned(String),
    /// The engine could not be configured.
    #[error("cannot configure the WebAssembly engine: {0}")]
    Engine(String),
}

/// Per-instance limits.
#[derive(Debug, Clone, Copy)]
pub struct InstanceLimits {
    /// CPU time one callback may take.
    pub callback_time: Duration,
    /// Bytes of linear memory one instance may use.
    pub memory: usize,
}

impl InstanceLimits {
    /// Half the callback limit in epoch ticks (plus one, as the next tick may come at any moment).
    pub fn window_ticks(&self) -> u64 {
        ((self.callback_time / 2)
            .as_millis()
            .div_ceil(EPOCH_TICK.as_millis())
            + 1) as u64
    }

    /// Give the next call into `store` its full CPU budget (see [`on_deadline`]).
    pub fn arm(&self, store: &mut Store<ConnState>) {
        store.data_mut().cpu_mark = None;
        store.set_epoch_deadline(self.window_ticks());
    }
}

/// CPU time this thread has used (`Duration::MAX` when the clock cannot be read).
pub(crate) fn thread_cpu_time() -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec into the valid pointer we pass.
    #[allow(unsafe_code)] // the one way to read this thread's CPU clock
    let status = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    if status != 0 {
        return Duration::MAX;
    }
    Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}

/// Decide at an epoch deadline whether a callback has used up its CPU budget.
///
/// The wall-clock epoch only tells that half the limit has passed. At the first deadline of a call
/// the thread's CPU clock is marked and the call gets another half; at later deadlines it is
/// interrupted once it has burnt half the limit of CPU since the mark. An endless loop on an idle
/// machine is thus stopped after about `callback_time`; a callback that was merely descheduled on
/// a busy machine is not mistaken for one.
fn on_deadline(state: &mut ConnState, budget: Duration, window: u64) -> UpdateDeadline {
    let now = thread_cpu_time();
    match state.cpu_mark {
        None => {
            state.cpu_mark = Some(now);
            UpdateDeadline::Continue(window)
        }
        Some(mark) if now.saturating_sub(mark) >= budget => UpdateDeadline::Interrupt,
        Some(_) => UpdateDeadline::Continue(window),
    }
}

/// A loaded, linked scenario module ready to instantiate once per connection.
pub struct ScenarioEngine {
    engine: Engine,
    pre: GuestPre,
    /// The linear memories' pool (the engine's memory creator).
    memories: Arc<MemoryPool>,
    /// SHA-256 of the bytes compiled, recorded in the results.
    digest: Sha256Hex,
    limits: InstanceLimits,
    _ticker: EpochTicker,
}

fn engine_config(memories: Arc<MemoryPool>) -> Config {
    let mut config = Config::new();
    // Packed linear memories: no 4 GiB reservation and no guard pages per instance, so instances
    // cost no extra memory mappings (the default needs ~4 per instance and hits vm.max_map_count
    // at ~16k). Bounds checks become explicit; measured within noise.
    config.memory_reservation(0);
    config.memory_guard_size(0);
    config.memory_reservation_for_growth(0);
    config.guard_before_linear_memory(false);
    config.memory_init_cow(false);
    config.epoch_interruption(true);
    // Linear memories come from a pool of mappings recycled between connections (`memory`).
    config.with_host_memory(Arc::new(PooledMemories(memories)));
    config
}

impl ScenarioEngine {
    /// Compile and link the module at `path` (read once here).
    pub fn load(path: &Path, limits: InstanceLimits) -> Result<ScenarioEngine, ModuleError> {
        let module = ModuleFile::read(path).map_err(|source| ModuleError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_module(path, &module, limits)
    }

    /// Compile and link `scenario`'s module from the bytes `Scenario::load` read and checked
    /// against `module_sha256` (a scenario not loaded from a file reads it now, and the pin is
    /// checked against what was read): never a second read of a file that may have changed.
    pub fn for_scenario(
        scenario: &Scenario,
        limits: InstanceLimits,
    ) -> Result<ScenarioEngine, ModuleError> {
        if let Some(flow) = &scenario.flow {
            return Self::for_flow(flow.clone(), flow_digest(scenario), limits);
        }
        let path = &scenario.module;
        let module = match &scenario.module_file {
            Some(module) => module.clone(),
            None => ModuleFile::read(path).map_err(|source| ModuleError::Read {
                path: path.clone(),
                source,
            })?,
        };
        if let Some(pinned) = &scenario.module_sha256
            && module.digest() != pinned
        {
            return Err(ModuleError::Pinned(pin::mismatch(
                path,
                module.digest(),
                pinned,
            )));
        }
        Self::from_module(path, &module, limits)
    }

    /// Compile and link `module` (named `path` in errors); its digest is the one it was read with.
    pub fn from_module(
        path: &Path,
        module: &ModuleFile,
        limits: InstanceLimits,
    ) -> Result<ScenarioEngine, ModuleError> {
        let memories = MemoryPool::new(limits.memory);
        let engine = Engine::new(&engine_config(memories.clone()))
            .map_err(|error| ModuleError::Engine(format!("{error:#}")))?;
        let digest = module.digest().clone();
        let cache = crate::scenario::cache::folder();
        let component =
            crate::scenario::cache::compile(&engine, module.bytes(), &digest, cache.as_deref())
                .map_err(|error| ModuleError::NotAComponent {
                    path: path.to_owned(),
                    reason: format!("{error:#}"),
                })?;
        let interface_error = |error: wasmtime::Error| ModuleError::Interface {
            path: path.to_owned(),
            reason: format!("{error:#}"),
        };
        let mut linker: Linker<ConnState> = Linker::new(&engine);
        crate::scenario::wasi::add_to_linker(&mut linker).map_err(interface_error)?;
        crate::scenario::bindings::add_to_linker(&mut linker).map_err(interface_error)?;
        let instance_pre = linker
            .instantiate_pre(&component)
            .map_err(interface_error)?;
        let pre = GuestPre::new(instance_pre).map_err(interface_error)?;
        Self::assemble(engine, memories, pre, digest, limits)
    }

    /// The engine with its epoch thread started.
    fn assemble(
        engine: Engine,
        memories: Arc<MemoryPool>,
        pre: GuestPre,
        digest: Sha256Hex,
        limits: InstanceLimits,
    ) -> Result<ScenarioEngine, ModuleError> {
        Ok(ScenarioEngine {
            memories,
            digest,
            _ticker: EpochTicker::start(engine.clone()).map_err(|error| {
                ModuleError::Engine(format!("cannot start the epoch thread: {error}"))
            })?,
            engine,
            pre,
            limits,
        })
    }

    /// An engine for a flow: no module to compile, a [`GuestPre::Flow`] per connection. The
    /// `digest` names the flow in the results, where a module's would be.
    pub fn for_flow(
        flow: Arc<Flow>,
        digest: Sha256Hex,
        limits: InstanceLimits,
    ) -> Result<ScenarioEngine, ModuleError> {
        let memories = MemoryPool::new(limits.memory);
        let engine = Engine::new(&engine_config(memories.clone()))
            .map_err(|error| ModuleError::Engine(format!("{error:#}")))?;
        Self::assemble(engine, memories, GuestPre::Flow(flow), digest, limits)
    }

    /// The per-instance limits.
    pub fn limits(&self) -> InstanceLimits {
        self.limits
    }

    /// What the linear memory of the instance dropped last had become (for `volley check`).
    pub fn last_released_memory(&self) -> Released {
        self.memories.last_released()
    }

    /// The SHA-256 of the bytes compiled.
    pub fn module_digest(&self) -> &Sha256Hex {
        &self.digest
    }

    /// The WIT package (interface version) the module speaks, e.g. `volley:scenario@0.2.0`.
    pub fn interface(&self) -> &'static str {
        self.pre.package()
    }

    /// A fresh store and instance for one connection. Fails only if instantiation traps (e.g. the
    /// module's start-up code exceeds its limits).
    pub fn instantiate(
        &self,
        state: ConnState,
    ) -> Result<(Store<ConnState>, Guest), wasmtime::Error> {
        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| &mut state.limits);
        let window = self.limits.window_ticks();
        let budget = self.limits.callback_time / 2;
        store.epoch_deadline_callback(move |mut context| {
            Ok(on_deadline(context.data_mut(), budget, window))
        });
        self.arm(&mut store);
        let instance = self.pre.instantiate(&mut store)?;
        Ok((store, instance))
    }

    /// Give the next call into `store` its full CPU budget. Call before every export call.
    pub fn arm(&self, store: &mut Store<ConnState>) {
        self.limits.arm(store);
    }
}

/// What names a flow in the results: the SHA-256 of the scenario file's text (the flow is part
/// of it; a file that cannot be read again is named by its steps' count instead).
fn flow_digest(scenario: &Scenario) -> Sha256Hex {
    let text = std::fs::read(&scenario.file).unwrap_or_else(|_| {
        format!(
            "{}:{:?}",
            scenario.name,
            scenario.flow.as_ref().map(|flow| flow.steps)
        )
        .into_bytes()
    });
    pin::digest_of(&text)
}

/// A thread that advances the engine's epoch every [`EPOCH_TICK`] until dropped.
struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    fn start(engine: Engine) -> std::io::Result<EpochTicker> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("volley-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    engine.increment_epoch();
                }
            })?;
        Ok(EpochTicker {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Overrides;
    use crate::config::pin::digest_of;

    /// The smallest component in the binary format: it compiles, but exports nothing a scenario must.
    const EMPTY_COMPONENT: &[u8] = &[0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];

    const LIMITS: InstanceLimits = InstanceLimits {
        callback_time: Duration::from_millis(100),
        memory: 1 << 20,
    };

    #[test]
    fn issue_21_the_bytes_compiled_are_the_bytes_pinned_at_load()
    -> Result<(), Box<dyn std::error::Error>> {
        let folder = tempfile::tempdir()?;
        let module = folder.path().join("m.wasm");
        std::fs::write(&module, EMPTY_COMPONENT)?;
        let file = folder.path().join("s.yaml");
        std::fs::write(
            &file,
            format!(
                "version: 1\nname: pinned\ntarget: embedded://echo\nmodule: m.wasm\nmodule_sha256: {}\nload:\n  connections: 1\n  iterations: 1\n",
                digest_of(EMPTY_COMPONENT).hex()
            ),
        )?;
        let scenario = Scenario::load(&file, &Overrides::default())?;
        // The file changes after the load (a rebuild, another user's write): what compiles is
        // still what was read and pinned — the empty component, which fails at linking, not at
        // compiling as `not wasm` would.
        std::fs::write(&module, b"not wasm")?;
        let compiled = ScenarioEngine::for_scenario(&scenario, LIMITS).err();
        assert!(
            matches!(compiled, Some(ModuleError::Interface { .. })),
            "{compiled:?}"
        );
        // A scenario that did not read its module reads it now, and the pin judges what it read.
        let unread = Scenario {
            module_file: None,
            ..scenario
        };
        let compiled = ScenarioEngine::for_scenario(&unread, LIMITS).err();
        assert!(
            matches!(&compiled, Some(ModuleError::Pinned(message)) if message.contains("but module_sha256 pins")),
            "{compiled:?}"
        );
        Ok(())
    }
}
