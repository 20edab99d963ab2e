//! Test fixture, not an example: a scenario that misbehaves on purpose so the end-to-end tests can
//! prove one connection's fault stays in that connection. Odd VUs misbehave; even VUs send "hello"
//! (or the value of var `say`, so a test can see which data row `ctx.var` read), check the echo
//! and close cleanly.
//!
//! Var `mode`: `panic` (panic on open), `panic-open` (every VU, even ones included, panics on open),
//! `loop` (endless loop on the echo), `bomb` (allocate until the
//! memory cap), `fail-check` (record a failing check named "reply has the secret"), `sleep` (block
//! in `thread::sleep`, which scenarios may not do), `print` (flood stdout and stderr, then behave),
//! `spin-timer` (re-arm a zero-delay timer forever and never close), `timer-flood` (set 20,000
//! timers at once), `udp` (open a UDP socket with std::net), `stdin` (read standard input),
//! `request-flood` (issue 100,000 named requests at once, which the memory cap must stop),
//! `log` (every VU logs the value of var `say` on open, then behaves), anything else: behave.
//!
//! Two modes make every VU behave in one particular way instead: `slow-complete` (parse for 50 ms
//! of CPU before completing the echo's request: the round trip must still end at the echo's
//! arrival) and `ping-every-second` (the SDK's front-page example: request "ping" every second
//! with a one-second timeout, against a server that never answers every request must time out).

use std::time::Duration;
use volley_sdk::{Context, Message, Scenario};

/// Per-connection state.
pub struct Faulty {
    misbehaves: bool,
    mode: String,
    said: String,
}

impl Scenario for Faulty {
    fn open(ctx: &mut Context) -> Self {
        let mode = ctx.var("mode").unwrap_or_default();
        let misbehaves = ctx.vu() % 2 == 1;
        if mode == "ping-every-second" {
            ctx.set_timer(PING, Duration::ZERO);
            return Faulty {
                misbehaves,
                mode,
                said: String::new(),
            };
        }
        if (misbehaves && mode == "panic") || mode == "panic-open" {
            panic!("scenario gave up on purpose (vu {})", ctx.vu());
        }
        let said = ctx.var("say").unwrap_or_else(|| "hello".to_owned());
        if mode == "log" {
            ctx.log(volley_sdk::LogLevel::Info, &said);
        }
        ctx.request_text("hello", &said, Duration::from_secs(5));
        Faulty {
            misbehaves,
            mode,
            said,
        }
    }

    fn on_message(&mut self, ctx: &mut Context, message: Message) {
        if self.mode == "ping-every-second" {
            ctx.complete("ping");
            return;
        }
        if self.mode == "slow-complete" {
            busy(ctx, Duration::from_millis(50));
        }
        ctx.complete("hello");
        ctx.check(
            "echo says hello",
            message.as_text() == Some(self.said.as_str()),
        );
        if self.misbehaves {
            match self.mode.as_str() {
                "loop" => endless(ctx),
                "bomb" => bomb(),
                "sleep" => std::thread::sleep(Duration::from_secs(1)),
                "udp" => {
                    let bound = std::net::UdpSocket::bind("127.0.0.1:0");
                    ctx.log(volley_sdk::LogLevel::Info, &format!("bind: {bound:?}"));
                }
                "stdin" => {
                    use std::io::Read as _;
                    let mut buffer = [0u8; 16];
                    let read = std::io::stdin().read(&mut buffer);
                    ctx.log(volley_sdk::LogLevel::Info, &format!("stdin: {read:?}"));
                }
                "request-flood" => {
                    for key in 0..100_000u32 {
                        ctx.named_request_text(
                            "flood",
                            &key.to_string(),
                            "x",
                            Duration::from_secs(3600),
                        );
                    }
                }
                "timer-flood" => {
                    for id in 0..20_000 {
                        ctx.set_timer(id + 100, Duration::from_secs(3600));
                    }
                }
                "spin-timer" => {
                    ctx.set_timer(SPIN, Duration::ZERO);
                    return;
                }
                "print" => {
                    for line in 0..1_000 {
                        println!("stdout line {line}");
                        eprintln!("stderr line {line}");
                    }
                }
                "fail-check" => {
                    ctx.check("reply has the secret", false);
                }
                _ => {}
            }
        }
        ctx.close(1000, "done");
    }

    fn on_timer(&mut self, ctx: &mut Context, timer: u32) {
        if timer == PING {
            ctx.request_text("ping", "ping", Duration::from_secs(1));
            ctx.set_timer(PING, Duration::from_secs(1));
        }
        if timer == SPIN {
            ctx.metric("spins", 1.0);
            ctx.set_timer(SPIN, Duration::ZERO);
        }
    }
}

const SPIN: u32 = 9;
const PING: u32 = 10;

/// Spin for `how_long` of wall-clock time, as a scenario parsing a large reply would.
fn busy(ctx: &mut Context, how_long: Duration) {
    let start = ctx.now();
    while ctx.now().saturating_sub(start) < how_long {
        std::hint::black_box(0u64);
    }
}

fn endless(ctx: &mut Context) {
    let mut spins: u64 = 0;
    loop {
        spins = spins.wrapping_add(std::hint::black_box(1));
        if spins == u64::MAX {
            ctx.log(volley_sdk::LogLevel::Info, "unreachable");
        }
    }
}

fn bomb() {
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        hoard.push(std::hint::black_box(vec![1u8; 1 << 20]));
    }
}

volley_sdk::export_scenario!(Faulty);
