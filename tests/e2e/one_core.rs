//! On one CPU (CPU affinity or a cgroup quota of one) the runner uses a current-thread runtime
//! instead of a multi-thread one: a run's counts, the CPU limit on a looping callback (the epoch
//! thread still interrupts it) and SIGTERM's report must come out as on more cores.

use crate::echo::assert_echo_exact;
use crate::interrupt::interrupt_mid_run;
use crate::scenario_faults::assert_endless_loop_stopped;
use crate::support::{run_case_using, volley_on_one_core};

#[test]
fn on_one_core_the_echo_counts_are_exact() {
    assert_echo_exact(&run_case_using(
        volley_on_one_core(),
        "echo-exact",
        &[],
        &[],
    ));
}

#[test]
fn on_one_core_an_endless_loop_still_stops_at_the_cpu_limit() {
    assert_endless_loop_stopped(&run_case_using(
        volley_on_one_core(),
        "endless-loop",
        &[],
        &[],
    ));
}

#[test]
fn on_one_core_sigterm_still_writes_the_report() {
    interrupt_mid_run(volley_on_one_core(), libc::SIGTERM, "SIGTERM");
}
