//! The netpoller: one `mio::Poll` per runtime, and the place an idle M sleeps.
//!
//! Like Go's netpoll, this is where the *last* idle M blocks: in `poll` with a
//! timeout equal to the earliest timer, so a runtime whose Gs all sleep costs
//! no CPU, and a timer or socket becoming ready wakes exactly one M. Only one
//! M blocks here at a time (the `Poll` sits behind a mutex); other idle Ms
//! park on their own parkers. Anyone who needs the sleeping poller to look
//! again — a new earliest timer, shutdown — calls [`NetPoller::wake`], which
//! trips a `mio::Waker`.
//!
//! The poller never calls into the scheduler: it returns the Gs it found ready
//! as a list and the scheduler queues them (DESIGN.md §4).

use std::io;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use mio::{Events, Poll, Token, Waker};
use parking_lot::Mutex;

use crate::sched::GreenThread;

const WAKER_TOKEN: Token = Token(usize::MAX);
/// Events taken per poll (Go's netpoll reads 128 at a time).
const EVENTS_PER_POLL: usize = 128;

pub(crate) struct NetPoller {
    poll: Mutex<(Poll, Events)>,
    waker: Waker,
    /// An M is blocked in `poll` with a timeout (so `wake` has a sleeper).
    blocked: AtomicBool,
    /// Gs parked on sockets right now; the scheduling loop skips the
    /// non-blocking poll while this is zero.
    waiters: AtomicUsize,
}

impl NetPoller {
    pub(crate) fn new() -> io::Result<Self> {
        let poll = Poll::new()?;
        let waker = Waker::new(poll.registry(), WAKER_TOKEN)?;
        Ok(NetPoller {
            poll: Mutex::new((poll, Events::with_capacity(EVENTS_PER_POLL))),
            waker,
            blocked: AtomicBool::new(false),
            waiters: AtomicUsize::new(0),
        })
    }

    /// Polls once. `timeout == Some(ZERO)` never blocks; `None` blocks until
    /// an event or a `wake`. Returns `None` when another M is already polling.
    pub(crate) fn poll(&self, timeout: Option<Duration>) -> Option<Vec<Arc<GreenThread>>> {
        let mut guard = self.poll.try_lock()?;
        let (poll, events) = &mut *guard;
        let blocking = timeout != Some(Duration::ZERO);
        if blocking {
            self.blocked.store(true, Ordering::SeqCst);
        }
        let res = poll.poll(events, timeout);
        if blocking {
            self.blocked.store(false, Ordering::SeqCst);
        }
        let ready = Vec::new();
        match res {
            Ok(()) => {
                for ev in events.iter() {
                    if ev.token() == WAKER_TOKEN {
                        continue;
                    }
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => eprintln!("greenrt: netpoll failed: {e}"),
        }
        Some(ready)
    }

    /// True when some G waits for a socket (worth a non-blocking poll).
    pub(crate) fn has_waiters(&self) -> bool {
        self.waiters.load(Ordering::Relaxed) != 0
    }

    /// True while an M is blocked in `poll`.
    pub(crate) fn is_blocked(&self) -> bool {
        self.blocked.load(Ordering::SeqCst)
    }

    /// Makes a blocked (or the next) `poll` return promptly.
    pub(crate) fn wake(&self) {
        if let Err(e) = self.waker.wake() {
            eprintln!("greenrt: could not wake the netpoller: {e}");
        }
    }
}
