//! One connection's WASI state, built the first time its scenario calls a WASI function. Rust's
//! std links WASI into every module, but the examples never call it while they run: building a
//! `WasiCtx` for each connection anyway cost about 0.9 KB (seeding a ChaCha generator for its
//! `random` interface, two output pipes, boxed clocks) and the CPU to seed it. A scenario that
//! prints or panics builds it then; its stderr (where panics print) is kept for the report.

use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{ResourceTable, WasiCtx, WasiCtxBuilder, WasiCtxView};

/// How much of a scenario's stderr (where Rust panics print) is kept for the report.
const STDERR_CAPTURE: usize = 4096;
/// stdout of a scenario is discarded beyond this much.
const STDOUT_CAPTURE: usize = 1024;

/// WASI for one connection: nothing until the scenario first calls it.
#[derive(Default)]
pub struct LazyWasi(Option<Box<Wasi>>);

/// What WASI needs once a scenario uses it.
struct Wasi {
    ctx: WasiCtx,
    table: ResourceTable,
    stderr: MemoryOutputPipe,
}

impl LazyWasi {
    fn built(&mut self) -> &mut Wasi {
        self.0.get_or_insert_with(|| {
            let stderr = MemoryOutputPipe::new(STDERR_CAPTURE);
            // stdout is kept small and never read: scenarios log through `ctx.log`.
            let ctx = WasiCtxBuilder::new()
                .stdout(MemoryOutputPipe::new(STDOUT_CAPTURE))
                .stderr(stderr.clone())
                .build();
            Box::new(Wasi {
                ctx,
                table: ResourceTable::new(),
                stderr,
            })
        })
    }

    /// The context and resource table wasmtime-wasi's host functions use.
    pub fn view(&mut self) -> WasiCtxView<'_> {
        let wasi = self.built();
        WasiCtxView {
            ctx: &mut wasi.ctx,
            table: &mut wasi.table,
        }
    }

    /// The WASI resource table (streams, pollables).
    pub fn table(&mut self) -> &mut ResourceTable {
        &mut self.built().table
    }

    /// What the scenario wrote to stderr (a panic message, usually), lossily decoded; empty when
    /// it never used WASI.
    pub fn stderr_text(&self) -> String {
        self.0.as_ref().map_or_else(String::new, |wasi| {
            String::from_utf8_lossy(&wasi.stderr.contents()).into_owned()
        })
    }

    /// Whether the scenario has used WASI yet.
    #[cfg(test)]
    fn is_built(&self) -> bool {
        self.0.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_is_built_until_first_use_and_stderr_is_empty_then() {
        let mut wasi = LazyWasi::default();
        assert!(!wasi.is_built());
        assert_eq!(wasi.stderr_text(), "");
        let _ = wasi.table();
        assert!(wasi.is_built());
        assert_eq!(wasi.stderr_text(), "");
    }
}
