//! `--mode event-loop`: a hand-written single-threaded mio readiness loop —
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

use std::io::{self, Read, Write};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token, Waker};

use crate::signals;
use crate::stats::{transient_accept_error, Backoff, ACCEPT_LOG, BUF_SIZE, STATS};

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

pub fn run(listener: std::net::TcpListener) -> io::Result<()> {
    listener.set_nonblocking(true)?;
    let mut listener = TcpListener::from_std(listener);
    let mut poll = Poll::new()?;
    let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
    // This function keeps its own reference: if the signal thread dropped
    // the last one, closing the eventfd would remove it from the epoll set,
    // pending wake-up included, before we read it.
    let signal_waker = waker.clone();
    signals::on_termination(move || {
        let _ = signal_waker.wake();
    });
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;
    let mut events = Events::with_capacity(1024);
    let mut conns: Vec<Option<Conn>> = Vec::new();
    let mut free: Vec<usize> = Vec::new();
    let mut backoff = Backoff::new();
    // Set while accepting is paused after an error like EMFILE.
    let mut accept_paused_until: Option<Instant> = None;
    loop {
        let timeout = accept_paused_until.map(|t| t.saturating_duration_since(Instant::now()));
        if let Err(e) = poll.poll(&mut events, timeout) {
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        let mut try_accept = accept_paused_until.is_some_and(|t| Instant::now() >= t);
        for ev in events.iter() {
            match ev.token() {
                // While paused, the timeout above resumes accepting.
                LISTENER => try_accept |= accept_paused_until.is_none(),
                WAKER => {
                    if signals::stopping() {
                        return Ok(());
                    }
                }
                Token(t) => {
                    let i = t - FIRST_CONN;
                    let Some(conn) = conns.get_mut(i).and_then(Option::as_mut) else {
                        continue;
                    };
                    if let Next::Close(failed) = conn.drive() {
                        let mut conn = conns[i].take().expect("live connection");
                        let _ = poll.registry().deregister(&mut conn.stream);
                        STATS.connection_done(conn.echoed, failed);
                        free.push(i);
                    }
                }
            }
        }
        if try_accept {
            accept_paused_until = None;
            if let Err(wait) = accept_all(&listener, &poll, &mut conns, &mut free, &mut backoff) {
                accept_paused_until = Some(Instant::now() + wait);
            }
        }
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
