//! On one CPU (CPU affinity or a cgroup quota of one) the runner uses a current-thread runtime
//! instead of a multi-thread one: a run's counts, the CPU limit on a looping callback (the epoch
//! thread still interrupts it) and SIGTERM's report must come out as on more cores.

use crate::interrupt::interrupt_mid_run;
use crate::support::{number, results, run_case_using, volley_on_one_core};

#[test]
fn on_one_core_the_echo_counts_are_exact() {
    let ran = run_case_using(volley_on_one_core(), "echo-exact", &[], &[]);
    assert_eq!(ran.code, 0, "{ran:?}");
    let r = results(&ran);
    assert_eq!(number(r, "/connections/established"), 5);
    assert_eq!(number(r, "/connections/failed"), 0);
    assert_eq!(number(r, "/messages/sent"), 100);
    assert_eq!(number(r, "/messages/received"), 100);
    assert_eq!(number(r, "/round_trips/count"), 100);
    assert_eq!(number(r, "/timer_lag/count"), 100);
    assert_eq!(r["verdict"]["passed"], true);
}

#[test]
fn on_one_core_an_endless_loop_still_stops_at_the_cpu_limit() {
    let ran = run_case_using(volley_on_one_core(), "endless-loop", &[], &[]);
    assert_eq!(ran.code, 1, "{ran:?}");
    let r = results(&ran);
    assert_eq!(number(r, "/connections/failed"), 2);
    let message = "scenario: on-message ran past its 50ms CPU limit (endless loop?); raise limits.callback_time if it is legitimate";
    assert_eq!(r["scenario_errors"][message], 2, "{r:#}");
}

#[test]
fn on_one_core_sigterm_still_writes_the_report() {
    interrupt_mid_run(volley_on_one_core(), libc::SIGTERM, "SIGTERM");
}
