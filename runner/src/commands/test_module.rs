//! `volley test-module FILE [ARGS…]`: run a scenario crate's test binary (`cargo test`'s runner for
//! wasm32-wasip2) and exit with its code.

use crate::cli::TestModuleArgs;
use crate::commands::COULD_NOT_RUN;
use std::process::ExitCode;

/// Run `args.file` with `args.args`.
pub fn test_module(args: TestModuleArgs) -> ExitCode {
    match volley::run_test_binary(&args.file, &args.args) {
        Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(COULD_NOT_RUN)
        }
    }
}
