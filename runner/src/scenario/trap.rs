//! Turning a failed scenario call into one readable line for the report: a panic with its message,
//! the CPU deadline, the memory cap, or wasmtime's own trap text. Pure formatting; the decision to
//! end the connection lives in `connection::event_loop`.

use crate::config::units::{human_bytes, human_duration};
use std::time::Duration;
use wasmtime::Trap;

/// Describe `error` from callback `callback`; `stderr` is what the guest printed (panics go there).
pub fn describe(
    error: &wasmtime::Error,
    callback: &str,
    stderr: &str,
    callback_time: Duration,
    memory: usize,
) -> String {
    if let Some(message) = panic_message(stderr) {
        return format!("scenario: panicked in {callback}: {message}");
    }
    if let Some(Trap::Interrupt) = error.downcast_ref::<Trap>() {
        return format!(
            "scenario: {callback} ran past its {} CPU limit (endless loop?); raise limits.callback_time if it is legitimate",
            human_duration(callback_time)
        );
    }
    let grew_memory = error.chain().any(|cause| {
        cause.to_string().contains("growing memory") || cause.to_string().contains("memory growth")
    });
    if grew_memory {
        return format!(
            "scenario: {callback} exceeded its {} memory cap; raise limits.memory if it is legitimate",
            human_bytes(memory as u64)
        );
    }
    let root = error.root_cause().to_string();
    let first = root.lines().next().unwrap_or("trap");
    format!("scenario: {callback} trapped: {first}")
}

/// The message of a Rust panic printed by the guest's std: the text after `panicked at FILE:L:C:`.
pub fn panic_message(stderr: &str) -> Option<String> {
    let start = stderr.find("panicked at ")?;
    let after = &stderr[start + "panicked at ".len()..];
    let mut lines = after.lines();
    let location = lines.next()?.trim_end_matches(':');
    let message: Vec<&str> = lines
        .take_while(|line| !line.starts_with("note:") && !line.is_empty())
        .collect();
    Some(format!("{} (at {location})", message.join(" ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panic_messages_are_extracted() {
        let stderr = "\nthread '<unnamed>' panicked at faulty/src/lib.rs:27:13:\nscenario gave up (vu 1)\nnote: run with `RUST_BACKTRACE=1`\n";
        assert_eq!(
            panic_message(stderr),
            Some("scenario gave up (vu 1) (at faulty/src/lib.rs:27:13)".into())
        );
        assert_eq!(panic_message("nothing"), None);
    }
}
