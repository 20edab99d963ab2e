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
        vars: &BTreeMap<String, String>,
        data: &DataTable,
    ) -> Result<Flow, ConfigError> {
        let known: BTreeSet<String> = vars
            .keys()
            .cloned()
            .chain(data.columns().iter().cloned())
            .collect();
        flow::compile(steps, &known).map_err(|error| {
            let position = locate_step(self.text, &error.step)
                .or_else(|| locate::locate(self.text, &["flow"]));
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
