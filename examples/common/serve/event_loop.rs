//! The event-loop design: a hand-written single-threaded mio readiness loop —
//! the design green threads are measured against.
//!
//! It runs on the main OS thread, with no greenrt runtime at all: a reactor
//! blocks in `epoll_wait`, and inside a green thread that would hold an M and
//! its P hostage; more to the point, the baseline should carry no runtime
//! overhead whatsoever. This is what a careful C or mio programmer writes.
//!
//! Each connection owns one `BUF_SIZE` buffer. The loop reads only when that
//! buffer has been written back completely, so a client that does not read
//! stops being read from (backpressure) and costs a bounded amount of
//! memory. Sockets are registered edge-triggered for both directions and
//! every event drives the connection until a syscall says `WouldBlock`, so
//! no edge is ever needed twice.
//!
//! The loop is an [`EventLoop`] value turned one iteration at a time by
//! [`EventLoop::turn`]: echo_server turns it until a signal stops it, and
//! happycoin `--serve` turns it between chunks of mining on the same thread,
//! the way a Node.js program splits CPU work with `setImmediate`.

use std::io::{self, Read, Write};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token, Waker};

use super::stats::{transient_accept_error, Backoff, ACCEPT_LOG, BUF_SIZE, STATS};

const LISTENER: Token = Token(0);
const WAKER: Token = Token(1);
/// Connection `i` uses token `FIRST_CONN + i`.
const FIRST_CONN: usize = 2;

struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    /// `buf[start..end]` has been read and not yet written back.
    start: usize,
    end: usize,
    echoed: u64,
}

enum Next {
    /// Wait for the next readiness edge.
    Keep,
    /// Close: `true` if it ended in an error.
    Close(bool),
}

impl Conn {
    /// Writes back what is pending, then reads more, until a syscall would
    /// block or the connection ends.
    fn drive(&mut self) -> Next {
        loop {
            while self.start < self.end {
                match self.stream.write(&self.buf[self.start..self.end]) {
                    Ok(n) => {
                        self.start += n;
                        self.echoed += n as u64;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Next::Keep,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => return Next::Close(true),
                }
            }
            self.start = 0;
            self.end = 0;
            match self.stream.read(&mut self.buf) {
                Ok(0) => return Next::Close(false),
                Ok(n) => self.end = n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Next::Keep,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Next::Close(true),
            }
        }
    }
}

/// One single-threaded echo server: the poller, the listener, the
/// connections, and the accept back-off.
pub struct EventLoop {
    poll: Poll,
    waker: Arc<Waker>,
    listener: TcpListener,
    events: Events,
    conns: Vec<Option<Conn>>,
    free: Vec<usize>,
    backoff: Backoff,
    /// Set while accepting is paused after an error like EMFILE.
    accept_paused_until: Option<Instant>,
}

impl EventLoop {
    /// Takes the listener over and registers it; nothing is served until
    /// the first [`turn`](Self::turn).
    pub fn new(listener: std::net::TcpListener) -> io::Result<EventLoop> {
        listener.set_nonblocking(true)?;
        let mut listener = TcpListener::from_std(listener);
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)?;
        Ok(EventLoop {
            poll,
            waker,
            listener,
            events: Events::with_capacity(1024),
            conns: Vec::new(),
            free: Vec::new(),
            backoff: Backoff::new(),
            accept_paused_until: None,
        })
    }

    /// Ends a [`turn`](Self::turn) blocked in the poll, from any thread.
    /// The loop keeps its own reference: if another thread dropped the last
    /// one, closing the eventfd would remove it from the epoll set, pending
    /// wake-up included, before the loop read it.
    pub fn waker(&self) -> Arc<Waker> {
        self.waker.clone()
    }

    /// One iteration: waits up to `timeout` (`None`: until something
    /// happens) for readiness, then drives every ready connection and
    /// accepts what is pending. A wake-up through [`waker`](Self::waker)
    /// just ends the turn; the caller looks at its own flags.
    pub fn turn(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        // While accepting is paused, the poll's timeout resumes it.
        let resume = self
            .accept_paused_until
            .map(|t| t.saturating_duration_since(Instant::now()));
        let timeout = match (timeout, resume) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if let Err(e) = self.poll.poll(&mut self.events, timeout) {
            if e.kind() == io::ErrorKind::Interrupted {
                return Ok(());
            }
            return Err(e);
        }
        let mut try_accept = self
            .accept_paused_until
            .is_some_and(|t| Instant::now() >= t);
        for ev in self.events.iter() {
            match ev.token() {
                LISTENER => try_accept |= self.accept_paused_until.is_none(),
                WAKER => {}
                Token(t) => {
                    let i = t - FIRST_CONN;
                    let Some(conn) = self.conns.get_mut(i).and_then(Option::as_mut) else {
                        continue;
                    };
                    if let Next::Close(failed) = conn.drive() {
                        let mut conn = self.conns[i].take().expect("live connection");
                        let _ = self.poll.registry().deregister(&mut conn.stream);
                        STATS.connection_done(conn.echoed, failed);
                        self.free.push(i);
                    }
                }
            }
        }
        if try_accept {
            self.accept_paused_until = None;
            if let Err(wait) = accept_all(
                &self.listener,
                &self.poll,
                &mut self.conns,
                &mut self.free,
                &mut self.backoff,
            ) {
                self.accept_paused_until = Some(Instant::now() + wait);
            }
        }
        Ok(())
    }
}

/// Accepts until `WouldBlock`. `Err(wait)`: accepting failed (EMFILE, ...);
/// pause it for `wait` — the pending connections stay queued meanwhile.
fn accept_all(
    listener: &TcpListener,
    poll: &Poll,
    conns: &mut Vec<Option<Conn>>,
    free: &mut Vec<usize>,
    backoff: &mut Backoff,
) -> Result<(), Duration> {
    loop {
        match listener.accept() {
            Ok((mut stream, _)) => {
                backoff.reset();
                STATS.accepted.fetch_add(1, Ordering::Relaxed);
                let _ = stream.set_nodelay(true);
                let i = free.pop().unwrap_or_else(|| {
                    conns.push(None);
                    conns.len() - 1
                });
                let token = Token(FIRST_CONN + i);
                if let Err(e) = poll.registry().register(
                    &mut stream,
                    token,
                    Interest::READABLE | Interest::WRITABLE,
                ) {
                    free.push(i);
                    STATS.connection_done(0, true);
                    ACCEPT_LOG.log(|| format!("cannot register a connection: {e}"));
                    continue;
                }
                // Edge-triggered registration reports data that is already
                // there, so the connection is driven by its first event.
                conns[i] = Some(Conn {
                    stream,
                    buf: vec![0u8; BUF_SIZE],
                    start: 0,
                    end: 0,
                    echoed: 0,
                });
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) if transient_accept_error(&e) => {}
            Err(e) => {
                STATS.accept_errors.fetch_add(1, Ordering::Relaxed);
                let wait = backoff.fail();
                ACCEPT_LOG.log(|| format!("accept failed: {e}; retrying in {wait:?}"));
                return Err(wait);
            }
        }
    }
}
