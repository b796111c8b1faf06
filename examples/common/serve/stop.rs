//! The process-wide "stop serving" flag that every design's accept loop
//! consults when an accept fails, so that the failure a stop causes (a
//! closed or shut-down listener) ends the loop instead of being retried.
//!
//! Who sets it differs: echo_server's signal thread on SIGINT/SIGTERM,
//! happycoin `--serve` when it is done measuring. Either then wakes the
//! loop in the way its design needs (examples/echo_server/run.rs).

use std::sync::atomic::{AtomicBool, Ordering};

static STOPPING: AtomicBool = AtomicBool::new(false);

/// True once a stop was requested.
pub fn stopping() -> bool {
    STOPPING.load(Ordering::SeqCst)
}

/// Asks the serving loops to stop. The caller then wakes the loop (closes
/// or shuts down its listener, or wakes its poll).
pub fn request_stop() {
    STOPPING.store(true, Ordering::SeqCst);
}
