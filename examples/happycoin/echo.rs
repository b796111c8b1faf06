//! The echo examples, compiled into happycoin so that `--serve` runs the
//! very code docs/BENCHMARKS.md measures, not a second copy of it:
//! examples/echo_server's three designs (and the counters and stop flag
//! they share) and examples/echo_client's round-trip loop.
//!
//! Each file is built as it is for its own example; the parts happycoin
//! does not call (the signal handling, the client's `main`) are dead code
//! here, hence the `allow`.
#![allow(dead_code)]

#[path = "../echo_server/event_loop.rs"]
pub mod event_loop;
#[path = "../echo_server/green.rs"]
pub mod green;
#[path = "../echo_server/signals.rs"]
pub mod signals;
#[path = "../echo_server/stats.rs"]
pub mod stats;
#[path = "../echo_server/threads.rs"]
pub mod threads;

#[path = "../echo_client.rs"]
pub mod client;
