//! What a flow's `{{placeholders}}` are worth on one connection: [`Context`] answers the
//! templates of `config::flow` from the connection's state (VU, iteration, variables, its
//! generator) and the flow's own (captures, messages sent, the last text, the data row of the
//! innermost `loop: {over: data}`).

use crate::config::flow::template::{Part, Values};
use crate::scenario::bindings::HostImports;
use crate::scenario::host::ConnState;
use std::fmt::Write as _;

/// One rendering's view of a connection.
pub struct Context<'a> {
    /// The connection.
    pub state: &'a mut ConnState,
    /// Captured values, by slot.
    pub captures: &'a [Option<Box<str>>],
    /// Messages the flow sent so far.
    pub counter: u64,
    /// The last text the flow sent.
    pub sent: Option<&'a str>,
    /// The data row of the innermost `loop: {over: data}` running, if any.
    pub data_row: Option<usize>,
}

impl Values for Context<'_> {
    fn value(&mut self, part: &Part, out: &mut String) {
        match part {
            Part::Literal(text) => out.push_str(text),
            Part::Vu => {
                let _ = write!(out, "{}", self.state.vu());
            }
            Part::Iteration => {
                let _ = write!(out, "{}", self.state.iteration());
            }
            Part::Counter => {
                let _ = write!(out, "{}", self.counter);
            }
            Part::Timestamp => {
                let millis = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|since| since.as_millis())
                    .unwrap_or(0);
                let _ = write!(out, "{millis}");
            }
            Part::NowUs => {
                let _ = write!(out, "{}", self.state.now_us());
            }
            Part::Random => {
                let _ = write!(out, "{}", self.state.random_u64() as u32);
            }
            Part::Sent => out.push_str(self.sent.unwrap_or("")),
            Part::Var(name) => {
                let facts = self.state.facts();
                let value = match self.data_row {
                    Some(row) => facts
                        .data
                        .value(row, name)
                        .or_else(|| facts.vars.get(name).map(String::as_str)),
                    None => facts.var(self.state.row(), name),
                };
                out.push_str(value.unwrap_or(""));
            }
            Part::Slot(slot) => {
                if let Some(Some(value)) = self.captures.get(*slot) {
                    out.push_str(value);
                }
            }
            // Resolved to slots when the flow was compiled.
            Part::Capture(_) => {}
        }
    }
}
