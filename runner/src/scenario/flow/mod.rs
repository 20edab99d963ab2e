//! A flow run natively: [`FlowRun`] interprets a compiled `config::flow::Flow` for one connection,
//! behind the same callbacks a module gets (`scenario::guest`) and through the same host calls
//! (`scenario::host`), so the event loop, timers, requests, recording and limits are the ones
//! modules use: round trips run from the send's due time to the reply's arrival, a timed expect
//! that misses its deadline is a reply timeout, and pings from the server are answered by the
//! runner. No WebAssembly instance: a connection holds its program counter, loop counters,
//! captured values and the messages waiting for an `expect` (`inbox`); templates are rendered by
//! `values`.
//!
//! Check and metric names were checked against the host's limits when the flow was compiled, so
//! they are recorded without a copy per message.
//!
//! Steps run until one waits (`expect`, `think`); a failed `expect` is a failed check named after
//! the step, and the flow then closes the connection (later steps depend on it). The end of the
//! steps closes the connection normally, as a module's `close` would.

pub mod inbox;
pub mod values;

use crate::config::flow::condition::Subject;
use crate::config::flow::{Expect, Flow, LoopKind, Op, Payload};
use crate::measure::counters::bump;
use crate::scenario::bindings::{HostImports, Message};
use crate::scenario::guest::Callback;
use crate::scenario::host::ConnState;
use inbox::Inbox;
use std::sync::Arc;
use std::time::{Duration, Instant};
use values::Context;

/// Timer for `think`.
const THINK_TIMER: u32 = 1;
/// Timer for an untimed `expect`'s timeout.
const EXPECT_TIMER: u32 = 2;
/// Timer that resumes a flow that ran [`MAX_OPS_PER_CALL`] steps in one call.
const CONTINUE_TIMER: u32 = 3;
/// `every` block `n` uses timer `EVERY_TIMERS + n`.
const EVERY_TIMERS: u32 = 16;
/// Steps run in one callback before the flow yields to the event loop (a `count` loop of sends
/// without a wait must not hold its worker thread).
const MAX_OPS_PER_CALL: usize = 1000;

/// Where the flow is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// Running steps.
    Running,
    /// Waiting for the think timer.
    Thinking,
    /// Waiting for a message for the `expect` at the program counter; `key` when it is timed.
    Expecting { key: Option<String> },
    /// Finished (closed, or closing).
    Done,
}

/// One loop's progress.
#[derive(Debug, Clone, Copy, Default)]
struct LoopState {
    /// Passes finished.
    passes: u32,
    /// When a `duration` loop ends.
    until: Option<Instant>,
}

/// One connection's run of a flow.
pub struct FlowRun {
    flow: Arc<Flow>,
    pc: usize,
    state: State,
    loops: Box<[LoopState]>,
    captures: Box<[Option<Box<str>>]>,
    inbox: Inbox,
    /// Messages sent so far, the one being sent included (`{{counter}}`).
    counter: u64,
    /// The last text sent, when a template reads `{{sent}}`.
    sent: Option<Box<str>>,
    /// The row of the innermost `loop: {over: data}` running.
    data_row: Option<usize>,
    /// The key of the request the last send made, for the timed expect after it.
    request_key: Option<String>,
    /// Running the `goodbye:` steps (the run is ending the connection).
    in_goodbye: bool,
}

impl FlowRun {
    /// A fresh run of `flow` for one connection.
    pub fn new(flow: Arc<Flow>) -> FlowRun {
        FlowRun {
            loops: vec![LoopState::default(); flow.loops].into_boxed_slice(),
            captures: vec![None; flow.captures.len()].into_boxed_slice(),
            flow,
            pc: 0,
            state: State::Running,
            inbox: Inbox::default(),
            counter: 0,
            sent: None,
            data_row: None,
            request_key: None,
            in_goodbye: false,
        }
    }

    /// Handle one callback, as a module's export would.
    pub fn call(&mut self, state: &mut ConnState, callback: Callback) {
        match callback {
            Callback::Open => self.advance(state),
            Callback::Message(message) => self.on_message(state, message),
            Callback::Timer(id) => self.on_timer(state, id),
            Callback::ReplyTimeout(key) => {
                if matches!(&self.state, State::Expecting { key: Some(waiting) } if *waiting == key)
                {
                    self.fail_expect(state);
                }
            }
            Callback::Close(..) => {
                self.state = State::Done;
                let left = self.inbox.clear();
                count_unexpected(state, left);
            }
            Callback::Goodbye => self.goodbye(state),
            Callback::Pong(..) => {}
        }
    }

    /// Whether this flow says goodbye at the run's end: it has `goodbye:` steps.
    pub fn says_goodbye(&self) -> bool {
        self.flow.goodbye_at.is_some()
    }

    /// The run is ending the connection: leave the main steps wherever they are and run the
    /// `goodbye:` steps (their last one closes, as the end of a flow does).
    fn goodbye(&mut self, state: &mut ConnState) {
        let Some(start) = self.flow.goodbye_at else {
            return;
        };
        if self.state == State::Done || self.in_goodbye {
            return;
        }
        for timer in [THINK_TIMER, EXPECT_TIMER, CONTINUE_TIMER] {
            state.cancel_timer(timer);
        }
        self.in_goodbye = true;
        self.pc = start;
        self.state = State::Running;
        self.request_key = None;
        self.advance(state);
    }

    /// Where the steps running now end in `flow.ops`.
    fn end(&self) -> usize {
        if self.in_goodbye {
            self.flow.ops.len()
        } else {
            self.flow.main_len
        }
    }

    fn on_message(&mut self, state: &mut ConnState, message: Message) {
        let flow = self.flow.clone();
        if let State::Expecting { .. } = self.state
            && let Some(Op::Expect(expect)) = flow.ops.get(self.pc)
            && self.accept(state, expect, &message)
        {
            self.pass_expect(state, expect);
            self.advance(state);
            return;
        }
        if self.state == State::Done {
            count_unexpected(state, 1);
            return;
        }
        let dropped = self.inbox.push(message);
        count_unexpected(state, dropped);
    }

    fn on_timer(&mut self, state: &mut ConnState, id: u32) {
        match id {
            THINK_TIMER if self.state == State::Thinking => {
                self.state = State::Running;
                self.pc += 1;
                self.advance(state);
            }
            EXPECT_TIMER if matches!(self.state, State::Expecting { key: None }) => {
                self.fail_expect(state);
            }
            CONTINUE_TIMER if self.state == State::Running => self.advance(state),
            _ if id >= EVERY_TIMERS && self.state != State::Done && !self.in_goodbye => {
                let slot = (id - EVERY_TIMERS) as usize;
                let flow = self.flow.clone();
                if let Some(every) = flow.everies.get(slot) {
                    for op in &every.ops {
                        self.run_background(state, op);
                    }
                    state.set_timer(id, millis(every.interval));
                }
            }
            _ => {}
        }
    }

    /// Run steps until one waits, the steps end, or [`MAX_OPS_PER_CALL`] ran.
    fn advance(&mut self, state: &mut ConnState) {
        let flow = self.flow.clone();
        let mut budget = MAX_OPS_PER_CALL;
        while self.state == State::Running {
            if budget == 0 {
                state.set_timer(CONTINUE_TIMER, 0);
                return;
            }
            budget -= 1;
            let Some(op) = flow.ops.get(self.pc).filter(|_| self.pc < self.end()) else {
                self.finish(state, 1000, String::new());
                return;
            };
            match op {
                Op::Send { payload, request } => {
                    self.send(state, payload, request.as_ref());
                    self.pc += 1;
                }
                Op::Expect(expect) => self.start_expect(state, expect),
                Op::Think { min, max } => {
                    let span = max.saturating_sub(*min);
                    let extra = if span.is_zero() {
                        Duration::ZERO
                    } else {
                        let fraction = (state.random_u64() >> 11) as f64 / (1u64 << 53) as f64;
                        span.mul_f64(fraction)
                    };
                    let pause = *min + extra;
                    if pause.is_zero() {
                        self.pc += 1;
                    } else {
                        self.state = State::Thinking;
                        state.set_timer(THINK_TIMER, millis(pause));
                    }
                }
                Op::LoopStart { slot, kind, exit } => {
                    let rows = state.facts().data.rows();
                    let runs = match kind {
                        LoopKind::Count(count) => *count > 0,
                        LoopKind::Duration(_) => true,
                        LoopKind::Data => rows > 0,
                    };
                    if let Some(loop_state) = self.loops.get_mut(*slot) {
                        *loop_state = LoopState {
                            passes: 0,
                            until: match kind {
                                LoopKind::Duration(duration) => Some(state.due + *duration),
                                _ => None,
                            },
                        };
                    }
                    if runs {
                        if *kind == LoopKind::Data {
                            self.data_row = Some(0);
                        }
                        self.pc += 1;
                    } else {
                        self.pc = *exit;
                    }
                }
                Op::LoopEnd { slot, body } => {
                    let rows = state.facts().data.rows();
                    let Some(loop_state) = self.loops.get_mut(*slot) else {
                        self.pc += 1;
                        continue;
                    };
                    loop_state.passes += 1;
                    let kind = match flow.ops.get(body.saturating_sub(1)) {
                        Some(Op::LoopStart { kind, .. }) => *kind,
                        _ => LoopKind::Count(0),
                    };
                    let again = match kind {
                        LoopKind::Count(count) => loop_state.passes < count,
                        LoopKind::Duration(_) => {
                            loop_state.until.is_some_and(|until| Instant::now() < until)
                        }
                        LoopKind::Data => (loop_state.passes as usize) < rows,
                    };
                    if kind == LoopKind::Data {
                        self.data_row = again.then_some(loop_state.passes as usize);
                    }
                    self.pc = if again { *body } else { self.pc + 1 };
                }
                Op::Every(slot) => {
                    if let Some(every) = flow.everies.get(*slot) {
                        state.set_timer(EVERY_TIMERS + *slot as u32, millis(every.interval));
                    }
                    self.pc += 1;
                }
                Op::Close { code, reason } => {
                    self.finish(state, *code, reason.clone());
                }
                other => {
                    self.run_background(state, other);
                    self.pc += 1;
                }
            }
        }
    }

    /// A step that never waits: send, ping, check, metric.
    fn run_background(&mut self, state: &mut ConnState, op: &Op) {
        match op {
            Op::Send { payload, request } => self.send(state, payload, request.as_ref()),
            Op::Ping(template) => {
                let payload = template.render(&mut self.context(state));
                state.ping(payload.into_bytes());
            }
            Op::Check {
                name,
                value,
                condition,
            } => {
                let text = value.render(&mut self.context(state));
                let ok = condition.holds(Subject::Text(&text), &mut self.context(state));
                state.recorder.check(name, ok);
            }
            Op::Metric { name, value } => {
                let text = value.render(&mut self.context(state));
                match text.trim().parse::<f64>() {
                    Ok(number) if number.is_finite() && number >= 0.0 => {
                        state.recorder.metric(name, number);
                    }
                    // Not a value a metric can hold: a failed check says so, once per step run.
                    _ => state.check(format!("metric {name} is a number"), false),
                }
            }
            _ => {}
        }
    }

    fn send(
        &mut self,
        state: &mut ConnState,
        payload: &Payload,
        request: Option<&(String, Duration)>,
    ) {
        // Counted before rendering: the first send is number 1, and an expect after a send sees
        // that send's number.
        self.counter += 1;
        let key = request.map(|_| self.counter.to_string());
        match payload {
            Payload::Text(template) => {
                let text = template.render(&mut self.context(state));
                if self.flow.reads_sent {
                    self.sent = Some(text.clone().into_boxed_str());
                }
                match (request, &key) {
                    (Some((name, timeout)), Some(key)) => {
                        state.request_text(name.clone(), key.clone(), text, millis(*timeout));
                    }
                    _ => state.send_text(text),
                }
            }
            Payload::Binary(data) => match (request, &key) {
                (Some((name, timeout)), Some(key)) => {
                    state.request_binary(name.clone(), key.clone(), data.clone(), millis(*timeout));
                }
                _ => state.send_binary(data.clone()),
            },
        }
        // The expect right after this send waits for the reply to this key.
        self.request_key = key;
    }

    fn start_expect(&mut self, state: &mut ConnState, expect: &Expect) {
        if expect.timed {
            // Only replies count: messages that arrived before the send are not its answer.
            self.state = State::Expecting {
                key: self.request_key.take(),
            };
            return;
        }
        let mut found = None;
        let mut inbox = std::mem::take(&mut self.inbox);
        let _ = inbox.take_first(|message| match self.matches(state, expect, message) {
            Some(captured) => {
                found = Some(captured);
                true
            }
            None => false,
        });
        self.inbox = inbox;
        match found {
            Some(captured) => {
                self.keep(expect, captured);
                state.recorder.check(&expect.name, true);
                self.pc += 1;
            }
            None => {
                self.state = State::Expecting { key: None };
                state.set_timer(EXPECT_TIMER, millis(expect.timeout));
            }
        }
    }

    /// Whether `message` passes `expect`: its captured values when it does.
    fn matches(
        &self,
        state: &mut ConnState,
        expect: &Expect,
        message: &Message,
    ) -> Option<Vec<Box<str>>> {
        let subject = match message {
            Message::Text(text) => Subject::Text(text),
            Message::Binary(data) => Subject::Binary(data),
        };
        // Parsed once for the JSON test and the captures; a message that is not JSON passes
        // neither.
        let parsed = match message {
            Message::Text(text)
                if expect.condition.json.is_some() || !expect.captures.is_empty() =>
            {
                Some(serde_json::from_str::<serde_json::Value>(text).ok()?)
            }
            _ => None,
        };
        if !expect
            .condition
            .holds_parsed(subject, parsed.as_ref(), &mut self.context(state))
        {
            return None;
        }
        if expect.captures.is_empty() {
            return Some(Vec::new());
        }
        let root = parsed?;
        expect
            .captures
            .iter()
            .map(|(_, path)| {
                path.find(&root)
                    .map(|value| crate::config::flow::json_path::as_text(value).into_boxed_str())
            })
            .collect()
    }

    /// A message arrived while `expect` waits: take it if it passes.
    fn accept(&mut self, state: &mut ConnState, expect: &Expect, message: &Message) -> bool {
        match self.matches(state, expect, message) {
            Some(captured) => {
                self.keep(expect, captured);
                true
            }
            None => false,
        }
    }

    fn keep(&mut self, expect: &Expect, captured: Vec<Box<str>>) {
        for ((slot, _), value) in expect.captures.iter().zip(captured) {
            if let Some(place) = self.captures.get_mut(*slot) {
                *place = Some(value);
            }
        }
    }

    /// The waiting expect passed (its captures kept): record it, end its wait.
    fn pass_expect(&mut self, state: &mut ConnState, expect: &Expect) {
        match std::mem::replace(&mut self.state, State::Running) {
            State::Expecting { key: Some(key) } => {
                state.complete(key);
            }
            _ => state.cancel_timer(EXPECT_TIMER),
        }
        state.recorder.check(&expect.name, true);
        self.pc += 1;
    }

    /// The waiting expect timed out: a failed check, then the flow closes the connection.
    fn fail_expect(&mut self, state: &mut ConnState) {
        if let Some(Op::Expect(expect)) = self.flow.ops.get(self.pc) {
            state.recorder.check(&expect.name, false);
        }
        self.finish(state, 1000, "expect failed".to_owned());
    }

    fn finish(&mut self, state: &mut ConnState, code: u16, reason: String) {
        self.state = State::Done;
        state.close(code, reason);
    }

    fn context<'a>(&'a self, state: &'a mut ConnState) -> Context<'a> {
        Context {
            state,
            captures: &self.captures,
            counter: self.counter,
            sent: self.sent.as_deref(),
            data_row: self.data_row,
        }
    }
}

/// Count messages no expect matched.
fn count_unexpected(state: &ConnState, count: u64) {
    if count > 0 {
        bump(
            &state.recorder.collector().counters.unexpected_messages,
            count,
        );
    }
}

/// A duration as the whole milliseconds a timer takes (rounded up, at most `u32::MAX`).
fn millis(duration: Duration) -> u32 {
    u32::try_from(duration.as_micros().div_ceil(1000)).unwrap_or(u32::MAX)
}
