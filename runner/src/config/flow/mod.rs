//! `flow:`: a scenario written as steps in the scenario file, run by the runner itself
//! (`scenario::flow`), no module needed. `raw` is the YAML as written; [`compile`] turns it into a
//! flat program ([`Flow`]: [`Op`]s with loop jumps resolved, captures numbered) and checks what
//! spans steps: a capture is set before it is used, a timed (named) expect directly follows a
//! send, `every` runs only steps that never wait, a `duration` loop cannot spin without waiting.
//! The language's pure parts: `template` (`{{name}}`), `json_path`, `condition`.

pub mod condition;
pub mod json_path;
pub mod raw;
pub mod template;

use condition::{Compare, Condition, JsonTest};
use json_path::JsonPath;
use raw::{RawExpect, RawStep};
use std::collections::BTreeSet;
use std::time::Duration;
use template::{Part, Template};

/// How long an `expect` waits when it does not say.
pub const DEFAULT_EXPECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A compiled flow: what every connection of the run interprets.
#[derive(Debug, Clone, Default)]
pub struct Flow {
    /// The program.
    pub ops: Vec<Op>,
    /// Capture names, by slot.
    pub captures: Vec<String>,
    /// Loops, by slot.
    pub loops: usize,
    /// `every:` blocks, by slot.
    pub everies: Vec<Every>,
    /// Whether a template reads `{{sent}}` (only then is the last text kept).
    pub reads_sent: bool,
    /// Steps written, loops' and everies' included.
    pub steps: usize,
    /// The main steps are `ops[..main_len]`; the flow ends when they do.
    pub main_len: usize,
    /// Where the `goodbye:` steps start in `ops` (they run to its end), if the file has them.
    pub goodbye_at: Option<usize>,
}

/// One instruction.
#[derive(Debug, Clone)]
pub enum Op {
    /// Send a message; with `request`, it is timed until the expect after it matches.
    Send {
        /// What to send.
        payload: Payload,
        /// The timed expect's name and timeout.
        request: Option<(String, Duration)>,
    },
    /// Wait for a matching message.
    Expect(Box<Expect>),
    /// Pause for a time between `min` and `max`.
    Think {
        /// Shortest.
        min: Duration,
        /// Longest.
        max: Duration,
    },
    /// Enter loop `slot`; `exit` is the op after its end.
    LoopStart {
        /// Its state's slot.
        slot: usize,
        /// When it ends.
        kind: LoopKind,
        /// Where to go when it runs no (more) passes.
        exit: usize,
    },
    /// End of one pass of loop `slot`; `body` is its first op.
    LoopEnd {
        /// Its state's slot.
        slot: usize,
        /// Where the next pass starts.
        body: usize,
    },
    /// Start (or restart) `every` block `slot`.
    Every(usize),
    /// Send a Ping frame.
    Ping(Template),
    /// Record a check on a value.
    Check {
        /// Check name.
        name: String,
        /// The value tested.
        value: Template,
        /// The tests.
        condition: Condition,
    },
    /// Record a custom metric.
    Metric {
        /// Metric name.
        name: String,
        /// Its value (a number once rendered).
        value: Template,
    },
    /// Close the connection.
    Close {
        /// Close code.
        code: u16,
        /// Close reason.
        reason: String,
    },
}

/// What a send sends.
#[derive(Debug, Clone)]
pub enum Payload {
    /// A text message.
    Text(Template),
    /// A binary message.
    Binary(Vec<u8>),
}

/// An `expect` step.
#[derive(Debug, Clone)]
pub struct Expect {
    /// The check's name (and, when `timed`, the round trip's).
    pub name: String,
    /// The send before it is a request under this name: only replies count, and the round trip
    /// is recorded.
    pub timed: bool,
    /// How long it waits.
    pub timeout: Duration,
    /// What the message must pass.
    pub condition: Condition,
    /// Values to keep: capture slot and where in the JSON message.
    pub captures: Vec<(usize, JsonPath)>,
}

/// When a loop ends.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LoopKind {
    /// After this many passes.
    Count(u32),
    /// At the first pass end after this long.
    Duration(Duration),
    /// After one pass per data row.
    Data,
}

/// An `every` block: ops (sends, pings, metrics) run each `interval`.
#[derive(Debug, Clone)]
pub struct Every {
    /// Time between runs.
    pub interval: Duration,
    /// What runs.
    pub ops: Vec<Op>,
}

/// A mistake found by [`compile`]: which step (indexes from 1, outermost first) and what is
/// wrong, with the fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowError {
    /// `[3, 2]`: the second step inside the third.
    pub step: Vec<usize>,
    /// What is wrong.
    pub message: String,
}

/// Compile `steps`; `columns` are the data columns and `vars` the file's variables that
/// `{{var.NAME}}` may read.
/// With the file's `metrics:` declarations, a `metric` step names a declared metric when the file
/// declares any.
pub fn compile_with(
    steps: Vec<RawStep>,
    goodbye: Option<Vec<RawStep>>,
    known_vars: &BTreeSet<String>,
    metrics: &crate::config::metrics::DeclaredMetrics,
) -> Result<Flow, FlowError> {
    if steps.is_empty() {
        return Err(FlowError {
            step: Vec::new(),
            message: "`flow:` has no steps; start with `- send: …`".to_owned(),
        });
    }
    let mut compiler = Compiler {
        flow: Flow::default(),
        set: BTreeSet::new(),
        known_vars,
        metrics,
    };
    let mut ops = Vec::new();
    compiler.steps(steps, &[], &mut ops, false)?;
    compiler.flow.main_len = ops.len();
    if let Some(goodbye) = goodbye {
        let in_goodbye = |error: FlowError| FlowError {
            step: Vec::new(),
            message: format!(
                "{GOODBYE_ERROR}{}: {}",
                step_name(&error.step, "").trim_end_matches(": "),
                error.message
            ),
        };
        for (index, step) in goodbye.iter().enumerate() {
            if step.kind() == "every" {
                return Err(in_goodbye(FlowError {
                    step: vec![index + 1],
                    message: "`every` cannot run in `goodbye:`: it only has until the connection closes; use send".into(),
                }));
            }
        }
        let start = ops.len();
        compiler.flow.goodbye_at = Some(start);
        compiler
            .steps(goodbye, &[], &mut ops, false)
            .map_err(in_goodbye)?;
        // A goodbye holds the connection only for the requests it made: an expect there must be
        // a named one (timed after its send), or the runner's Close would not wait for it.
        if ops[start..]
            .iter()
            .any(|op| matches!(op, Op::Expect(expect) if !expect.timed))
        {
            return Err(FlowError {
                step: Vec::new(),
                message: format!(
                    "{GOODBYE_ERROR}an `expect` in `goodbye:` must have a `name:` and follow a `send` (a request the run waits for, up to load.goodbye_timeout); without one the run closes without waiting"
                ),
            });
        }
    }
    compiler.flow.ops = ops;
    Ok(compiler.flow)
}

/// How an error in the `goodbye:` steps starts (its position is the `goodbye:` key's).
pub const GOODBYE_ERROR: &str = "`goodbye:` ";

/// The name of a step for checks: `step 3: expect`, nested `step 3.2: expect`.
pub fn step_name(path: &[usize], kind: &str) -> String {
    let numbers: Vec<String> = path.iter().map(usize::to_string).collect();
    format!("step {}: {kind}", numbers.join("."))
}

struct Compiler<'a> {
    flow: Flow,
    /// Captures set by the steps compiled so far.
    set: BTreeSet<String>,
    known_vars: &'a BTreeSet<String>,
    /// The file's `metrics:` declarations.
    metrics: &'a crate::config::metrics::DeclaredMetrics,
}

impl Compiler<'_> {
    /// Compile a list of steps into `ops`; `background` for an `every` block's.
    fn steps(
        &mut self,
        steps: Vec<RawStep>,
        parent: &[usize],
        ops: &mut Vec<Op>,
        background: bool,
    ) -> Result<(), FlowError> {
        let mut previous_was_send = false;
        for (index, step) in steps.into_iter().enumerate() {
            let mut path = parent.to_vec();
            path.push(index + 1);
            let fail = |message: String| FlowError {
                step: path.clone(),
                message,
            };
            self.flow.steps += 1;
            let kind = step.kind();
            if background && !matches!(kind, "send" | "send_binary" | "ping" | "metric") {
                return Err(fail(format!(
                    "`{kind}` cannot run inside `every`: its steps run in the background and must never wait; use send, send_binary, ping or metric"
                )));
            }
            let is_send = matches!(kind, "send" | "send_binary");
            match step {
                RawStep::Send(text) => {
                    let template = self.template(text.0, &fail)?;
                    ops.push(Op::Send {
                        payload: Payload::Text(template),
                        request: None,
                    });
                }
                RawStep::SendBinary(bytes) => ops.push(Op::Send {
                    payload: Payload::Binary(bytes.0),
                    request: None,
                }),
                RawStep::Expect(expect) => {
                    let expect = self.expect(*expect, &path, &fail)?;
                    if expect.timed {
                        match ops.last_mut() {
                            Some(Op::Send { request, .. }) if previous_was_send => {
                                *request = Some((expect.name.clone(), expect.timeout));
                            }
                            _ => {
                                return Err(fail(format!(
                                    "a named expect (`name: {}`) times the round trip of the send just before it, and there is none; put it directly after a `send`, or remove `name:`",
                                    expect.name
                                )));
                            }
                        }
                    }
                    ops.push(Op::Expect(Box::new(expect)));
                }
                RawStep::Think(think) => ops.push(Op::Think {
                    min: think.min,
                    max: think.max,
                }),
                RawStep::Loop(raw_loop) => {
                    let given = [
                        raw_loop.count.is_some(),
                        raw_loop.duration.is_some(),
                        raw_loop.over.is_some(),
                    ];
                    let kind = match (raw_loop.count, raw_loop.duration, &raw_loop.over) {
                        _ if given.iter().filter(|g| **g).count() != 1 => {
                            return Err(fail(
                                "a loop needs exactly one of `count: N`, `duration: 30s` or `over: data`".to_owned(),
                            ));
                        }
                        (Some(count), _, _) => LoopKind::Count(count),
                        (_, Some(duration), _) => LoopKind::Duration(duration.0),
                        (_, _, Some(over)) if over == "data" => LoopKind::Data,
                        (_, _, Some(over)) => {
                            return Err(fail(format!(
                                "`over: {over}`: a loop runs over `data` (the file's data rows) only"
                            )));
                        }
                        _ => unreachable!("exactly one is given"),
                    };
                    if raw_loop.steps.is_empty() {
                        return Err(fail("the loop has no `steps:`".to_owned()));
                    }
                    if matches!(kind, LoopKind::Duration(_)) && !waits(&raw_loop.steps) {
                        return Err(fail(
                            "a `duration` loop without a `think` or `expect` would send as fast as the CPU allows; add a `think:` step".to_owned(),
                        ));
                    }
                    let slot = self.flow.loops;
                    self.flow.loops += 1;
                    let start = ops.len();
                    ops.push(Op::LoopStart {
                        slot,
                        kind,
                        exit: 0,
                    });
                    self.steps(raw_loop.steps, &path, ops, false)?;
                    ops.push(Op::LoopEnd {
                        slot,
                        body: start + 1,
                    });
                    let after = ops.len();
                    if let Some(Op::LoopStart { exit, .. }) = ops.get_mut(start) {
                        *exit = after;
                    }
                }
                RawStep::Every(every) => {
                    if every.interval.0.is_zero() {
                        return Err(fail("`every` needs an `interval` longer than 0".to_owned()));
                    }
                    let mut inner = Vec::new();
                    self.steps(every.steps, &path, &mut inner, true)?;
                    let slot = self.flow.everies.len();
                    self.flow.everies.push(Every {
                        interval: every.interval.0,
                        ops: inner,
                    });
                    ops.push(Op::Every(slot));
                }
                RawStep::Ping(payload) => {
                    let template = self.template(payload.0, &fail)?;
                    ops.push(Op::Ping(template));
                }
                RawStep::Check(check) => {
                    let value = self.template(check.value.0, &fail)?;
                    let condition = Condition {
                        binary: false,
                        equals: self.optional(check.equals, &fail)?,
                        contains: self.optional(check.contains, &fail)?,
                        matches: check.matches.map(|pattern| pattern.0),
                        json: None,
                    };
                    name_ok(&check.name).map_err(&fail)?;
                    ops.push(Op::Check {
                        name: check.name,
                        value,
                        condition,
                    });
                }
                RawStep::Metric(metric) => {
                    name_ok(&metric.name).map_err(&fail)?;
                    self.metrics.check_recorded(&metric.name).map_err(&fail)?;
                    let value = self.template(metric.value.0, &fail)?;
                    ops.push(Op::Metric {
                        name: metric.name,
                        value,
                    });
                }
                RawStep::Close(close) => {
                    let close = close.unwrap_or_default();
                    let code = close.code.unwrap_or(1000);
                    // RFC 6455 §7.4: 1004–1006 and 1015 are reserved, 0–999 and 1016–2999 are not codes.
                    if !matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999) {
                        return Err(fail(format!(
                            "close code {code} cannot be sent (RFC 6455: use 1000–1003, 1007–1014 or 3000–4999)"
                        )));
                    }
                    let reason = close.reason.unwrap_or_default();
                    if reason.len() > 123 {
                        return Err(fail(
                            "a close reason is at most 123 bytes (RFC 6455)".to_owned(),
                        ));
                    }
                    ops.push(Op::Close { code, reason });
                }
            }
            previous_was_send = is_send;
        }
        Ok(())
    }

    fn expect(
        &mut self,
        raw: RawExpect,
        path: &[usize],
        fail: &dyn Fn(String) -> FlowError,
    ) -> Result<Expect, FlowError> {
        let json = match raw.json {
            None => None,
            Some(test) => {
                let mut compares = Vec::new();
                if let Some(equals) = test.equals {
                    compares.push(Compare::Equals(self.template(equals.0, fail)?));
                }
                if let Some(contains) = test.contains {
                    compares.push(Compare::Contains(self.template(contains.0, fail)?));
                }
                if let Some(pattern) = test.matches {
                    compares.push(Compare::Matches(pattern.0));
                }
                if test.exists == Some(true) {
                    compares.push(Compare::Exists);
                }
                for (limit, make) in [
                    (test.gt, Compare::Gt as fn(f64) -> Compare),
                    (test.ge, Compare::Ge),
                    (test.lt, Compare::Lt),
                    (test.le, Compare::Le),
                ] {
                    if let Some(limit) = limit {
                        compares.push(make(limit));
                    }
                }
                if compares.len() != 1 {
                    return Err(fail(format!(
                        "`json:` takes `path:` and exactly one of `equals`, `contains`, `matches`, `exists: true`, `gt`, `ge`, `lt`, `le` (found {})",
                        compares.len()
                    )));
                }
                compares.pop().map(|compare| JsonTest {
                    path: test.path.0,
                    compare,
                })
            }
        };
        let condition = Condition {
            binary: raw.binary,
            equals: self.optional(raw.equals, fail)?,
            contains: self.optional(raw.contains, fail)?,
            matches: raw.matches.map(|pattern| pattern.0),
            json,
        };
        let timed = raw.name.is_some();
        let name = match raw.name {
            Some(name) => {
                name_ok(&name).map_err(fail)?;
                name
            }
            None => step_name(path, "expect"),
        };
        let mut captures = Vec::new();
        for (capture, at) in raw.capture {
            if !template::valid_name(&capture) || template::BUILT_IN.contains(&capture.as_str()) {
                return Err(fail(format!(
                    "`{capture}` cannot name a capture: use letters, digits, `_` and `-`, and none of {}",
                    template::BUILT_IN.join(", ")
                )));
            }
            if raw.binary {
                return Err(fail(
                    "a binary expect cannot capture: captures read JSON text".to_owned(),
                ));
            }
            let slot = match self.flow.captures.iter().position(|c| *c == capture) {
                Some(slot) => slot,
                None => {
                    self.flow.captures.push(capture.clone());
                    self.flow.captures.len() - 1
                }
            };
            captures.push((slot, at.0));
            self.set.insert(capture);
        }
        Ok(Expect {
            name,
            timed,
            timeout: raw
                .timeout
                .map(|span| span.0)
                .unwrap_or(DEFAULT_EXPECT_TIMEOUT),
            condition,
            captures,
        })
    }

    fn optional(
        &mut self,
        text: Option<raw::TextTemplate>,
        fail: &dyn Fn(String) -> FlowError,
    ) -> Result<Option<Template>, FlowError> {
        text.map(|text| self.template(text.0, fail)).transpose()
    }

    /// Resolve a template's captures to their slots; a capture not set yet, or a variable the
    /// file does not have, is an error.
    fn template(
        &mut self,
        mut template: Template,
        fail: &dyn Fn(String) -> FlowError,
    ) -> Result<Template, FlowError> {
        for part in template.parts_mut() {
            match part {
                Part::Capture(name) => {
                    let slot = self
                        .flow
                        .captures
                        .iter()
                        .position(|c| c == name)
                        .filter(|_| self.set.contains(name.as_str()));
                    match slot {
                        Some(slot) => *part = Part::Slot(slot),
                        None => {
                            let hint = if self.known_vars.contains(name.as_str()) {
                                format!("; to read the variable write `{{{{var.{name}}}}}`")
                            } else {
                                String::new()
                            };
                            return Err(fail(format!(
                                "`{{{{{name}}}}}` is used before any step captures it; capture it in an earlier `expect` (`capture: {{{name}: $.field}}`){hint}"
                            )));
                        }
                    }
                }
                Part::Var(name) if !self.known_vars.contains(name.as_str()) => {
                    return Err(fail(format!(
                        "`{{{{var.{name}}}}}`: the file has no variable or data column `{name}`; add it under `vars:` or `data:`"
                    )));
                }
                Part::Sent => self.flow.reads_sent = true,
                _ => {}
            }
        }
        Ok(template)
    }
}

/// Whether a list of steps waits somewhere (think or expect, nested loops included).
fn waits(steps: &[RawStep]) -> bool {
    steps.iter().any(|step| match step {
        RawStep::Think(think) => !think.max.is_zero(),
        RawStep::Expect(_) => true,
        RawStep::Loop(inner) => waits(&inner.steps),
        _ => false,
    })
}

fn name_ok(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 200 {
        Err(format!("the name `{name}` must be 1 to 200 bytes long"))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn steps(yaml: &str) -> Vec<RawStep> {
        serde_yaml_ng::from_str(yaml).unwrap_or_default()
    }

    fn compiled(main: &str, goodbye: &str) -> Result<Flow, String> {
        compile_with(
            steps(main),
            Some(steps(goodbye)),
            &BTreeSet::new(),
            &crate::config::metrics::DeclaredMetrics::default(),
        )
        .map_err(|error| error.message)
    }

    #[test]
    fn goodbye_steps_follow_the_main_ones_and_hold_only_for_named_expects() -> Result<(), String> {
        let flow = compiled(
            "- send: hi\n- think: 1s\n",
            "- send: bye\n- expect: {name: bye, equals: bye, timeout: 1s}\n",
        )?;
        assert_eq!(flow.main_len, 2);
        assert_eq!(flow.goodbye_at, Some(2));
        assert_eq!(flow.ops.len(), 4);
        let unnamed = compiled("- send: hi\n", "- send: bye\n- expect: {equals: bye}\n")
            .err()
            .unwrap_or_default();
        assert!(
            unnamed.starts_with("`goodbye:` an `expect` in `goodbye:` must have a `name:`"),
            "{unnamed}"
        );
        let every = compiled(
            "- send: hi\n",
            "- every: {interval: 1s, steps: [{send: x}]}\n",
        )
        .err()
        .unwrap_or_default();
        assert!(
            every.starts_with("`goodbye:` step 1: `every` cannot run in `goodbye:`"),
            "{every}"
        );
        Ok(())
    }
}
