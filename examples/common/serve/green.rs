//! The green design: one green thread per connection, written as plain
//! blocking code on `greenrt::net`. The accept loop is a green thread too;
//! a stop closes it through a clone of the listener (`TcpListener::close`),
//! which wakes the parked `accept` with an error.
//!
//! [`accept_loop`] runs on whatever runtime calls it, so a program can serve
//! echo beside its own green threads (happycoin `--serve` mines on the same
//! processors); dropping that runtime ends the loop and its connections.

use greenrt::net::{TcpListener, TcpStream};

use super::stats::{echo_until_closed, transient_accept_error, Backoff, ACCEPT_LOG, STATS};
use super::stop;

/// Accepts connections and spawns a green thread for each on the caller's
/// runtime, until the listener is closed during a stop.
pub fn accept_loop(listener: TcpListener) {
    let mut backoff = Backoff::new();
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                backoff.reset();
                STATS
                    .accepted
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                greenrt::spawn(move || serve(stream));
            }
            Err(_) if stop::stopping() => return,
            Err(e) if transient_accept_error(&e) => {}
            Err(e) => {
                STATS
                    .accept_errors
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let wait = backoff.fail();
                ACCEPT_LOG.log(|| format!("accept failed: {e}; retrying in {wait:?}"));
                greenrt::sleep(wait);
            }
        }
    }
}

/// Echoes until EOF or an error. `write_all` parks while the client does not
/// read, and nothing is read meanwhile: the backpressure is the code shape.
fn serve(stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    echo_until_closed(stream);
}
