//! `--server-mode event-loop`: what a Node.js server does when it also has
//! CPU work — one thread does everything.
//!
//! The echo servers' mio loop (examples/common/serve) runs on the main thread, and the mining
//! runs on that same thread in chunks of `--loop-chunk` draws (default
//! 100 000, about 8 ms); after each chunk the loop polls once without
//! waiting and serves whatever is ready, like a Node program that splits
//! its work with `setImmediate` so that I/O callbacks run in between. A
//! request that arrives during a chunk waits for the chunk to end, and the
//! mining gets one core, whatever `--workers` would have asked for.
//!
//! The chunk is the mining loop's checkpoint interval: the hook that green
//! miners use to offer a yield is, here, one turn of the event loop.

use std::io;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use crate::echo::event_loop::EventLoop;
use crate::mine::{Control, Mined, Source};
use crate::modes::Plan;
use crate::serve::Host;
use crate::serve_client::Notify;

pub struct LoopHost {
    event_loop: EventLoop,
    chunk: u64,
}

impl LoopHost {
    /// Takes the listener over; serving happens in `wait` and `mine`.
    pub fn start(listener: TcpListener, chunk: u64) -> io::Result<Self> {
        Ok(LoopHost {
            event_loop: EventLoop::new(listener)?,
            chunk,
        })
    }
}

impl Host for LoopHost {
    /// The client wakes the loop out of its poll.
    fn notifier(&self) -> Notify {
        let waker = self.event_loop.waker();
        Arc::new(move || {
            let _ = waker.wake();
        })
    }

    /// Serves (blocking in the poll) until `until()`.
    fn wait(&mut self, until: &dyn Fn() -> bool) -> io::Result<()> {
        while !until() {
            self.event_loop.turn(None)?;
        }
        Ok(())
    }

    fn mine(&mut self, plan: &Plan, ctl: &Arc<Control>) -> io::Result<Vec<Mined>> {
        let mut cfg = plan.mine;
        cfg.checkpoint_every = self.chunk;
        let mut failure = None;
        let event_loop = &mut self.event_loop;
        let mined = Source::new(plan.rng)?.mine(0..plan.draws, &cfg, ctl, || {
            if let Err(e) = event_loop.turn(Some(Duration::ZERO)) {
                failure.get_or_insert(e);
                ctl.request_stop();
            }
        });
        failure.map_or(Ok(vec![mined]), Err)
    }
}
