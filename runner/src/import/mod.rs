//! Importers: recordings of real sessions turned into flow files (scenarios with `flow:` steps
//! the runner carries out itself). `har` reads a browser's HAR export; `flow` is the flow file as
//! plain data and `yaml_out` writes it as YAML text. Beside the flow of a run like `scaffold` and
//! `kubernetes`: nothing here loads or runs a scenario, and writing the files is the command's
//! (`commands/import.rs`).

mod flow;
pub mod har;
mod yaml_out;
