//! `--server-mode thread`: the echo servers' thread-per-connection
//! server beside N OS mining threads (`--mode threads`). Nothing in the
//! process schedules anything: the kernel shares the cores among the
//! miners, the connection threads and the client, and a connection thread
//! woken by a request competes with miners that never block.

use std::io;
use std::net::TcpListener;
use std::sync::Arc;
use std::thread::JoinHandle;

use crate::echo::{stop, threads};
use crate::mine::{Control, Mined};
use crate::modes::{self, Plan};
use crate::serve::Host;

pub struct ThreadHost {
    accept: Option<JoinHandle<io::Result<()>>>,
    stop: Option<Box<dyn FnOnce() + Send>>,
}

impl ThreadHost {
    /// Starts the accept loop on its own thread.
    pub fn start(listener: TcpListener) -> io::Result<Self> {
        let stop = Box::new(threads::stopper(&listener)?);
        let accept = std::thread::Builder::new()
            .name("echo-accept".into())
            .spawn(move || threads::accept_loop(listener, threads::thread_limit()))?;
        Ok(ThreadHost {
            accept: Some(accept),
            stop: Some(stop),
        })
    }
}

impl Host for ThreadHost {
    fn mine(&mut self, plan: &Plan, ctl: &Arc<Control>) -> io::Result<Vec<Mined>> {
        modes::mine_threads(plan, ctl)
    }
}

impl Drop for ThreadHost {
    /// Ends the accept loop the way SIGTERM does in echo_server. Connection
    /// threads end by themselves when the client hangs up.
    fn drop(&mut self) {
        stop::request_stop();
        if let Some(stop) = self.stop.take() {
            stop();
        }
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}
