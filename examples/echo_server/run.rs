//! Each design as a standalone server: the serving loop from
//! examples/common/serve, driven until SIGINT/SIGTERM, with the stop action
//! that design needs to make its loop return.

use std::io;

use greenrt::net::TcpListener;

use crate::serve::event_loop::EventLoop;
use crate::serve::{green, stop, threads};
use crate::signals;

/// `--mode green`: a runtime of its own (`procs` processors, else greenrt's
/// default), the accept loop on it; a signal closes the listener through a
/// clone, which wakes the parked `accept`.
pub fn green(listener: TcpListener, procs: Option<usize>) -> io::Result<()> {
    let mut builder = greenrt::Runtime::builder().thread_name("echo");
    if let Some(p) = procs {
        builder = builder.procs(p);
    }
    let rt = builder.build()?;
    let closer = listener.try_clone()?;
    signals::on_termination(move || closer.close());
    rt.block_on(move || green::accept_loop(listener));
    // Dropping the runtime cancels every connection's green thread; their
    // stacks unwind and their sockets close.
    drop(rt);
    Ok(())
}

/// `--mode event-loop`: the loop on the main thread, turned until a signal
/// wakes its poll.
pub fn event_loop(listener: std::net::TcpListener) -> io::Result<()> {
    let mut event_loop = EventLoop::new(listener)?;
    let signal_waker = event_loop.waker();
    signals::on_termination(move || {
        let _ = signal_waker.wake();
    });
    while !stop::stopping() {
        event_loop.turn(None)?;
    }
    Ok(())
}

/// `--mode thread`: the accept loop on the main thread, at most as many
/// connection threads as the mapping limit allows; a signal shuts the
/// listener down.
pub fn thread(listener: std::net::TcpListener) -> io::Result<()> {
    signals::on_termination(threads::stopper(&listener)?);
    let limit = threads::thread_limit();
    eprintln!(
        "echo_server: thread mode serves at most {limit} connections at once (vm.max_map_count)"
    );
    threads::accept_loop(listener, limit)
}
