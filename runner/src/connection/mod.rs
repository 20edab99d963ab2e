//! Stage `connection`: one WebSocket connection. `connect` opens it phase by phase (DNS through
//! `dns`, TCP, TLS through `tls`, the HTTP upgrade), each timed and with its own timeout, over a
//! `transport` (plain TCP, or boxed TLS); `event_loop` then drives the open socket and its scenario
//! instance until it ends (told to stop through `stop`, an atomic flag per look); `keepalive`
//! schedules heartbeat pings and the idle timeout.
//!
//! Hands to `load`: an [`event_loop::Outcome`] per connection (how it ended), and to `measure`,
//! through the connection's recorder, its timings, counts and failure reasons. Does not live here:
//! when and how often to connect (`load`), what to send (`scenario`), aggregation (`measure`).

pub mod callback_clock;
pub mod connect;
pub mod deadlines;
pub mod dns;
pub mod event_loop;
pub mod failure;
pub mod keepalive;
pub mod send_queue;
pub mod stop;
pub mod tls;
pub mod transport;
pub mod wake;
