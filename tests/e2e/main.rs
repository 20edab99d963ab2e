//! End-to-end tests of the `volley` binary: real WebSocket servers on loopback (the embedded one,
//! `volley serve` in another process), real scenario modules built from `scenarios/`, real signals.
//! Fixtures are folders under `tests/cases/<name>/`. Timings are never asserted here; `just bench`
//! prints them.

mod support;

mod autobahn_case;
mod child_server;
mod compare;
mod compression;
mod config_errors;
mod data;
mod echo;
mod engine;
mod first_contact;
mod flows;
mod import_har;
mod interrupt;
mod kubernetes;
mod manifests;
mod measurements;
mod metrics;
mod module_cache;
mod mqtt;
mod network;
mod network_ports;
mod network_real;
mod one_core;
mod outputs;
mod populations;
mod protocols;
mod ramp;
mod regressions;
mod requests;
mod scaffold;
mod scale;
mod scenario_faults;
mod search;
mod servers;
mod shards;
mod stomp;
mod wit_features;
mod workers;
