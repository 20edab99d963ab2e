//! The host side of the WIT contract (`sdk/wit/`): the only `bindgen!` calls in the runner, one per
//! interface version the runner loads — `volley:scenario@0.2.0` (`sdk/wit/scenario.wit`, current)
//! and `volley:scenario@0.1.0` (`sdk/wit/0.1.0/scenario.wit`, kept for modules built before). `host`
//! implements the current import trait and forwards the old one to it; `guest` wraps either world's
//! exports behind one type. Nothing else names generated paths.

#![allow(missing_docs)] // generated code

/// The current interface.
pub mod current {
    wasmtime::component::bindgen!({
        path: "../sdk/wit/scenario.wit",
        world: "volley-scenario",
    });
}

/// The interface of Volley 0.1.0, adapted by `host` and `guest` to the current one.
pub mod v0_1 {
    wasmtime::component::bindgen!({
        path: "../sdk/wit/0.1.0/scenario.wit",
        world: "volley-scenario",
    });
}

pub use current::volley::scenario::host::Host as HostImports;
pub use current::volley::scenario::types::Host as TypesHost;
pub use current::volley::scenario::types::{LogLevel, Message, UpgradeResponse as Handshake};
pub use current::{VolleyScenario, VolleyScenarioPre};
pub use v0_1::volley::scenario::host::Host as HostImportsV0_1;
pub use v0_1::volley::scenario::types::Host as TypesHostV0_1;
pub use v0_1::volley::scenario::types::{LogLevel as LogLevelV0_1, Message as MessageV0_1};
pub use v0_1::{VolleyScenario as VolleyScenarioV0_1, VolleyScenarioPre as VolleyScenarioPreV0_1};

/// The WIT package (interface version) of modules built with this runner's SDK.
pub const WIT_PACKAGE: &str = "volley:scenario@0.2.0";
/// The older interface this runner still loads.
pub const WIT_PACKAGE_V0_1: &str = "volley:scenario@0.1.0";
/// Every interface this runner loads, the current one first (`volley --version` prints them).
pub const WIT_PACKAGES: [&str; 2] = [WIT_PACKAGE, WIT_PACKAGE_V0_1];

/// Link both versions' `host` and `types` imports for `ConnState`.
pub fn add_to_linker(
    linker: &mut wasmtime::component::Linker<crate::scenario::host::ConnState>,
) -> wasmtime::Result<()> {
    use crate::scenario::host::ConnState;
    use wasmtime::component::HasSelf;
    VolleyScenario::add_to_linker::<ConnState, HasSelf<ConnState>>(linker, |state| state)?;
    VolleyScenarioV0_1::add_to_linker::<ConnState, HasSelf<ConnState>>(linker, |state| state)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The constants are what `--version` and the interface errors print: they must be the
    /// `package` lines of the WIT files the `bindgen!` calls above read.
    #[test]
    fn the_package_constants_are_the_wit_files_packages() {
        let current = include_str!("../../../sdk/wit/scenario.wit");
        let v0_1 = include_str!("../../../sdk/wit/0.1.0/scenario.wit");
        assert!(current.contains(&format!("\npackage {WIT_PACKAGE};\n")));
        assert!(v0_1.contains(&format!("\npackage {WIT_PACKAGE_V0_1};\n")));
    }
}
