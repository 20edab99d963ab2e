//! Targets that cannot be reached are counted by reason, and the run fails (exit 1) without
//! crashing.

use crate::support::{number, results, run_case};

#[test]
fn an_unreachable_target_is_counted_by_reason() {
    // A port that was just free: nobody listens on it.
    let port = match std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
    {
        Ok(address) => address.port(),
        Err(error) => panic!("cannot find a free port: {error}"),
    };
    let target = format!("ws://127.0.0.1:{port}/");
    let ran = run_case("unreachable", &["--target", &target]);
    assert_eq!(ran.code, 1, "{ran:?}");
    let r = results(&ran);
    assert_eq!(number(r, "/connections/attempted"), 3);
    assert_eq!(number(r, "/connections/established"), 0);
    assert_eq!(number(r, "/connections/failed"), 3);
    assert_eq!(
        number(
            r,
            "/connections/failed_by_reason/connect: connection refused"
        ),
        3
    );
    assert!(ran.stdout.contains("3 connections failed"), "{ran:?}");
}
