//! Waiting on a socket from a plain OS thread: `poll(2)` on the one fd.
//!
//! Outside any green thread there is no G to park and no M that would poll
//! for us, so a green socket used from an ordinary thread behaves like a
//! `std` socket: the thread blocks. `poll(2)` is level-triggered and
//! independent of the fd's (edge-triggered) netpoller registration, so both
//! may coexist on one socket.

use std::io;
use std::os::fd::RawFd;
use std::time::Instant;

use super::socket::Wait;
use crate::sched::Direction;

/// Blocks until `fd` is ready for `dir` (or has an error or hang-up), or
/// until `deadline`.
pub(crate) fn wait(fd: RawFd, dir: Direction, deadline: Option<Instant>) -> io::Result<Wait> {
    let events = match dir {
        Direction::Read => libc::POLLIN,
        Direction::Write => libc::POLLOUT,
    };
    loop {
        let timeout_ms = match deadline {
            None => -1,
            Some(d) => {
                let now = Instant::now();
                if now >= d {
                    return Ok(Wait::TimedOut);
                }
                // Round up so we never wake before the deadline; longer
                // waits than poll(2) takes are done in slices by the loop.
                let micros = (d - now).as_micros();
                micros.div_ceil(1000).min(i32::MAX as u128) as i32
            }
        };
        let mut pfd = libc::pollfd {
            fd,
            events,
            revents: 0,
        };
        // SAFETY: `pfd` is a valid, exclusively borrowed pollfd and nfds is
        // 1, so the kernel reads and writes only that one struct.
        let r = unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
        match r {
            0 => continue, // slice over: the loop re-checks the deadline
            r if r > 0 => return Ok(Wait::Retry),
            _ => {
                let e = io::Error::last_os_error();
                if e.kind() != io::ErrorKind::Interrupted {
                    return Err(e);
                }
            }
        }
    }
}

/// True when `fd` is ready for `dir` (or has an error or hang-up) right
/// now: `poll(2)` with a zero timeout, the level-triggered check that lets
/// a readiness wait start from the fd's state instead of a past syscall.
pub(crate) fn ready_now(fd: RawFd, dir: Direction) -> io::Result<bool> {
    let events = match dir {
        Direction::Read => libc::POLLIN,
        Direction::Write => libc::POLLOUT,
    };
    loop {
        let mut pfd = libc::pollfd {
            fd,
            events,
            revents: 0,
        };
        // SAFETY: as in `wait`: one valid, exclusively borrowed pollfd.
        match unsafe { libc::poll(&mut pfd, 1, 0) } {
            0 => return Ok(false),
            r if r > 0 => return Ok(true),
            _ => {
                let e = io::Error::last_os_error();
                if e.kind() != io::ErrorKind::Interrupted {
                    return Err(e);
                }
            }
        }
    }
}
