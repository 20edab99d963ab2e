//! The host side of the WIT contract (`sdk/wit/`, seen as `runner/wit/` through a link so the
//! published crate carries it): the only `bindgen!` calls in the runner, one per
//! interface version the runner loads — `volley:scenario@0.3.0` (`sdk/wit/scenario.wit`, current),
//! `volley:scenario@0.2.0` and `volley:scenario@0.1.0` (`sdk/wit/0.2.0/`, `sdk/wit/0.1.0/`, kept for
//! modules built before). `host` implements the current import trait and forwards the old ones to
//! it; `guest` wraps every world's exports behind one type. Nothing else names generated paths.

#![allow(missing_docs)] // generated code

/// The current interface.
pub mod current {
    wasmtime::component::bindgen!({
        path: "wit/scenario.wit",
        world: "volley-scenario",
    });
}

/// The interface of Volley 0.2.0, adapted by `host` and `guest` to the current one.
pub mod v0_2 {
    wasmtime::component::bindgen!({
        path: "wit/0.2.0/scenario.wit",
        world: "volley-scenario",
    });
}

/// The interface of Volley 0.1.0, adapted by `host` and `guest` to the current one.
pub mod v0_1 {
    wasmtime::component::bindgen!({
        path: "wit/0.1.0/scenario.wit",
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
pub use v0_2::volley::scenario::host::Host as HostImportsV0_2;
pub use v0_2::volley::scenario::types::Host as TypesHostV0_2;
pub use v0_2::volley::scenario::types::{
    LogLevel as LogLevelV0_2, Message as MessageV0_2, UpgradeResponse as HandshakeV0_2,
};
pub use v0_2::{VolleyScenario as VolleyScenarioV0_2, VolleyScenarioPre as VolleyScenarioPreV0_2};

/// The WIT package (interface version) of modules built with this runner's SDK.
pub const WIT_PACKAGE: &str = "volley:scenario@0.3.0";
/// An older interface this runner still loads.
pub const WIT_PACKAGE_V0_2: &str = "volley:scenario@0.2.0";
/// The oldest interface this runner still loads.
pub const WIT_PACKAGE_V0_1: &str = "volley:scenario@0.1.0";
/// Every interface this runner loads, the current one first (`volley --version` prints them).
pub const WIT_PACKAGES: [&str; 3] = [WIT_PACKAGE, WIT_PACKAGE_V0_2, WIT_PACKAGE_V0_1];

/// The `volley-sdk` version requirement that speaks `WIT_PACKAGE`: its major and minor (the SDK's
/// version follows the interface's, `sdk/Cargo.toml`), e.g. `0.3` for `volley:scenario@0.3.0`.
pub fn sdk_requirement() -> &'static str {
    let version = WIT_PACKAGE.rsplit('@').next().unwrap_or(WIT_PACKAGE);
    version
        .rsplit_once('.')
        .map_or(version, |(major_minor, _)| major_minor)
}

/// Link every version's `host` and `types` imports for `ConnState`.
pub fn add_to_linker(
    linker: &mut wasmtime::component::Linker<crate::scenario::host::ConnState>,
) -> wasmtime::Result<()> {
    use crate::scenario::host::ConnState;
    use wasmtime::component::HasSelf;
    VolleyScenario::add_to_linker::<ConnState, HasSelf<ConnState>>(linker, |state| state)?;
    VolleyScenarioV0_2::add_to_linker::<ConnState, HasSelf<ConnState>>(linker, |state| state)?;
    VolleyScenarioV0_1::add_to_linker::<ConnState, HasSelf<ConnState>>(linker, |state| state)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `package` line of a WIT file, e.g. `volley:scenario@0.2.0`.
    fn package_of(wit: &str) -> Option<&str> {
        wit.lines()
            .find_map(|line| line.trim().strip_prefix("package "))
            .map(|rest| rest.trim_end_matches(';').trim())
    }

    #[test]
    fn the_named_packages_are_the_ones_bound() {
        assert_eq!(
            package_of(include_str!("../../wit/scenario.wit")),
            Some(WIT_PACKAGE)
        );
        assert_eq!(
            package_of(include_str!("../../wit/0.2.0/scenario.wit")),
            Some(WIT_PACKAGE_V0_2)
        );
        assert_eq!(
            package_of(include_str!("../../wit/0.1.0/scenario.wit")),
            Some(WIT_PACKAGE_V0_1)
        );
    }

    #[test]
    fn the_sdk_requirement_is_the_interface_major_and_minor() {
        assert_eq!(
            sdk_requirement(),
            WIT_PACKAGE
                .rsplit('@')
                .next()
                .and_then(|version| version.rsplit_once('.'))
                .map(|(major_minor, _)| major_minor)
                .unwrap_or_default()
        );
        assert!(!sdk_requirement().contains('@'));
        assert_eq!(sdk_requirement().split('.').count(), 2);
    }
}
