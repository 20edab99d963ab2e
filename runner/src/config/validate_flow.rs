//! `flow:` validated: the steps compiled by `flow::compile`, with the variables it may read (the
//! file's `vars:` and data columns), and its mistakes placed at the step they concern
//! (`file:line:column`, nested steps followed through their `steps:` lists).

use super::error::ConfigError;
use super::flow::raw::RawStep;
use super::flow::{self, Flow};
use super::validate::Validator;
use super::{DataTable, locate};
use std::collections::{BTreeMap, BTreeSet};

impl Validator<'_> {
    /// Compile the file's flow; an error names the step's line and column.
    pub(super) fn flow(
        &self,
        steps: Vec<RawStep>,
        goodbye: Option<Vec<RawStep>>,
        vars: &BTreeMap<String, String>,
        data: &DataTable,
        metrics: &crate::config::metrics::DeclaredMetrics,
    ) -> Result<Flow, ConfigError> {
        let known: BTreeSet<String> = vars
            .keys()
            .cloned()
            .chain(data.columns().iter().cloned())
            .collect();
        flow::compile_with(steps, goodbye, &known, metrics).map_err(|error| {
            let position = if error.message.starts_with(flow::GOODBYE_ERROR) {
                locate::locate(self.text, &self.path_of(&["goodbye"]))
            } else {
                locate_step(self.text, &error.step)
                    .or_else(|| locate::locate(self.text, &self.path_of(&["flow"])))
            };
            let message = if error.step.is_empty() {
                error.message
            } else {
                format!(
                    "{}: {}",
                    flow::step_name(&error.step, "").trim_end_matches(": "),
                    error.message
                )
            };
            ConfigError::at(self.file, position, message)
        })
    }
}

/// 1-based (line, column) of the step at `path` (indexes from 1): the top-level item of `flow:`,
/// then for each deeper index the item of the `steps:` list under the step found so far.
fn locate_step(text: &str, path: &[usize]) -> Option<(usize, usize)> {
    let (&first, rest) = path.split_first()?;
    let mut at = locate::locate_item(text, &["flow"], first.checked_sub(1)?)?;
    let lines: Vec<&str> = text.lines().collect();
    for &index in rest {
        let item_indent = at.1 - 1;
        // The `steps:` key inside the item, then its `index`-th entry.
        let mut steps_line = None;
        for (number, line) in lines.iter().enumerate().skip(at.0) {
            let trimmed = line.trim_start();
            let indent = line.len() - trimmed.len();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            if indent < item_indent || trimmed.starts_with("- ") && indent <= item_indent {
                break;
            }
            if trimmed.starts_with("steps:") {
                steps_line = Some((number, indent));
                break;
            }
        }
        let (steps_at, steps_indent) = steps_line?;
        let mut seen = 0;
        let mut found = None;
        for (number, line) in lines.iter().enumerate().skip(steps_at + 1) {
            let trimmed = line.trim_start();
            let indent = line.len() - trimmed.len();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            if indent < steps_indent || (indent == steps_indent && !trimmed.starts_with("- ")) {
                break;
            }
            if trimmed.starts_with("- ") {
                seen += 1;
                if seen == index {
                    found = Some((number + 1, indent + 3));
                    break;
                }
            }
        }
        at = found?;
    }
    Some(at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Overrides, Scenario};
    use std::path::Path;

    /// The error `flow` (the lines under `flow:`) gets, as `line:column: message`.
    fn error_of(flow: &str) -> String {
        let text = format!(
            "version: 1\nname: x\ntarget: embedded://echo\nvars:\n  user: ada\nflow:\n{flow}load: {{connections: 1, iterations: 1}}\n"
        );
        match Scenario::from_text(Path::new("f.yaml"), &text, &Overrides::default(), |_| None) {
            Ok(_) => "accepted".to_owned(),
            Err(error) => error.to_string().trim_start_matches("f.yaml:").to_owned(),
        }
    }

    #[test]
    fn each_mistake_is_named_at_its_step_with_the_fix() {
        for (flow, expected) in [
            (
                "  - send: hi\n  - sned: hi\n",
                "8:5: flow[1]: unknown step `sned`, did you mean `send`?",
            ),
            (
                "  - expect: {json: {path: type, equals: x}}\n",
                "JSON path `type`: it must start with `$`",
            ),
            (
                "  - expect: {matches: '(('}\n",
                "is not a regular expression",
            ),
            ("  - send: hi\n  - think: 2\n", "think:"),
            (
                "  - think: 1s\n  - expect: {name: reply}\n",
                "8:5: step 2: a named expect (`name: reply`) times the round trip of the send just before it",
            ),
            (
                "  - loop:\n      duration: 10s\n      steps:\n        - send: hi\n",
                "7:5: step 1: a `duration` loop without a `think` or `expect`",
            ),
            (
                "  - loop:\n      count: 2\n      steps:\n        - send: '{{token}}'\n        - expect: {capture: {token: $.t}}\n",
                "10:11: step 1.1: `{{token}}` is used before any step captures it",
            ),
            (
                "  - send: '{{user}}'\n",
                "to read the variable write `{{var.user}}`",
            ),
            (
                "  - send: '{{var.nobody}}'\n",
                "the file has no variable or data column `nobody`",
            ),
            (
                "  - every:\n      interval: 1s\n      steps:\n        - think: 1s\n",
                "step 1.1: `think` cannot run inside `every`",
            ),
            (
                "  - close: {code: 1005}\n",
                "close code 1005 cannot be sent",
            ),
            ("  - send: hi\n    expect: {}\n", "`expect` beside `send`"),
            ("  - send_binary: '***'\n", "`send_binary` takes base64"),
        ] {
            let error = error_of(flow);
            assert!(
                error.contains(expected),
                "{flow}\n  gave: {error}\n  wanted: {expected}"
            );
        }
    }

    #[test]
    fn a_file_is_a_module_or_a_flow() {
        let both = "version: 1\nname: x\ntarget: embedded://echo\nmodule: m.wasm\nflow:\n  - send: hi\nload: {connections: 1, iterations: 1}\n";
        let neither =
            "version: 1\nname: x\ntarget: embedded://echo\nload: {connections: 1, iterations: 1}\n";
        for (text, expected) in [
            (both, "both `module:` and `flow:`"),
            (neither, "neither `module:` nor `flow:`"),
        ] {
            let error =
                Scenario::from_text(Path::new("f.yaml"), text, &Overrides::default(), |_| None)
                    .err()
                    .map(|error| error.to_string())
                    .unwrap_or_default();
            assert!(error.contains(expected), "{error}");
        }
        assert_eq!(
            error_of("  - send: '{\"user\":\"{{var.user}}\"}'\n  - expect:\n  - close\n"),
            "accepted"
        );
    }

    const TEXT: &str = "flow:\n  - send: a\n  - loop:\n      count: 2\n      steps:\n        - send: b\n        - think: 1s\n  - close:\n";

    #[test]
    fn nested_steps_are_found_through_their_steps_lists() {
        assert_eq!(locate_step(TEXT, &[1]), Some((2, 5)));
        assert_eq!(locate_step(TEXT, &[2]), Some((3, 5)));
        assert_eq!(locate_step(TEXT, &[2, 2]), Some((7, 11)));
        assert_eq!(locate_step(TEXT, &[3]), Some((8, 5)));
        assert_eq!(locate_step(TEXT, &[2, 9]), None);
    }
}
