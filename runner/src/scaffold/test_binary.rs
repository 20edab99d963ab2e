//! `volley test-module FILE [ARGS…]`: runs a scenario crate's test binary, which `cargo test`
//! builds for wasm32-wasip2 (the crate's `.cargo/config.toml` makes that the default target) as a
//! WASI command component. Cargo cannot execute a `.wasm` itself (`Permission denied (os error
//! 13)`); the crate's config names `volley test-module` as the target's `runner`, so plain `cargo
//! test` works. The binary gets the command line, the environment, the standard streams and the
//! current folder (cargo runs tests in the crate's folder), like a native test; the runner's own
//! imports (`volley:scenario/host`) trap if called, since tests use `volley_sdk::testing::TestHost`.

use std::path::Path;
use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::p2::bindings::sync::Command;
use wasmtime_wasi::{FsPerms, I32Exit, WasiCtx, WasiCtxView, WasiView};

/// The exit code when the binary traps (a panic aborts on wasm32, as `panic = "abort"` natively),
/// the one a panicking Rust program exits with.
pub const TRAPPED: i32 = 101;

/// What one test binary's WASI sees.
struct TestState {
    ctx: WasiCtx,
    table: ResourceTable,
}

impl WasiView for TestState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.ctx,
            table: &mut self.table,
        }
    }
}

/// Run the command component at `path` with `args` (the binary's own arguments, after its name);
/// the exit code it asks for, or an error when it cannot start (not a component, not a command, a
/// missing import the runner cannot stand in for). A trap is printed and exits with `TRAPPED`.
pub fn run_test_binary(path: &Path, args: &[String]) -> Result<i32, String> {
    let engine = Engine::default();
    let component = Component::from_file(&engine, path)
        .map_err(|error| format!("{}: not a WebAssembly component: {error:#}", path.display()))?;
    let mut linker = Linker::<TestState>::new(&engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker)
        .map_err(|error| format!("cannot link WASI: {error:#}"))?;
    stub_runner_imports(&mut linker, &component, &engine)
        .map_err(|error| format!("{}: {error:#}", path.display()))?;
    let name = path.file_name().map_or_else(
        || "test".to_owned(),
        |name| name.to_string_lossy().into_owned(),
    );
    let mut builder = WasiCtx::builder();
    builder
        .inherit_stdio()
        .inherit_env()
        .arg(&name)
        .args(args)
        .preopened_dir(".", ".", FsPerms::ReadWrite)
        .map_err(|error| format!("cannot give the test the current folder: {error:#}"))?;
    let mut store = Store::new(
        &engine,
        TestState {
            ctx: builder.build(),
            table: ResourceTable::new(),
        },
    );
    let command = Command::instantiate(&mut store, &component, &linker).map_err(|error| {
        format!(
            "{}: not a WASI command (a test binary built by `cargo test` for wasm32-wasip2): {error:#}",
            path.display()
        )
    })?;
    match command.wasi_cli_run().call_run(&mut store) {
        Ok(Ok(())) => Ok(0),
        Ok(Err(())) => Ok(1),
        Err(error) => match error.downcast_ref::<I32Exit>() {
            Some(exit) => Ok(exit.0),
            None => {
                eprintln!("{}: trapped: {error:#}", path.display());
                Ok(TRAPPED)
            }
        },
    }
}

/// Every function of every non-WASI instance the binary imports (`volley:scenario/host`, linked in
/// by the SDK) as a trap that says what to use instead. WASI itself is left to the linker, which
/// matches the binary's WASI version (e.g. 0.2.6) to wasmtime-wasi's by semver; wasmtime's
/// `define_unknown_imports_as_traps` matches names exactly and would stub WASI out.
fn stub_runner_imports(
    linker: &mut Linker<TestState>,
    component: &Component,
    engine: &Engine,
) -> wasmtime::Result<()> {
    let component_type = component.component_type();
    for (name, import) in component_type.imports(engine) {
        if name.starts_with("wasi:") {
            continue;
        }
        let ComponentItem::ComponentInstance(instance) = import.ty else {
            continue;
        };
        let mut stubs = linker.instance(name)?;
        for (function, export) in instance.exports(engine) {
            if !matches!(export.ty, ComponentItem::ComponentFunc(_)) {
                continue;
            }
            let what = format!("{name}#{function}");
            stubs.func_new(function, move |_, _, _, _| {
                wasmtime::bail!(
                    "{what} is the runner's and does not exist in a test; call the scenario through volley_sdk::testing::TestHost"
                )
            })?;
        }
    }
    Ok(())
}
