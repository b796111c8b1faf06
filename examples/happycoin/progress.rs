//! A progress bar on stderr, for runs that last more than a second.
//!
//! A plain OS thread (not a green thread: it must not take a processor from
//! the miners) wakes ten times a second, reads the shared draw counter and
//! redraws one line. It shows nothing when stderr is not a terminal, so
//! redirected output and test captures stay clean, and nothing for runs
//! shorter than a second, which would only flash.

use std::io::{IsTerminal, Write};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::mine::Control;

const SHOW_AFTER: Duration = Duration::from_secs(1);
const REDRAW_EVERY: Duration = Duration::from_millis(100);
const BAR_WIDTH: usize = 24;

/// A running progress bar; dropping it erases the bar and stops its thread.
pub struct Progress {
    /// Dropping this wakes the drawing thread at once (its `recv_timeout`
    /// sees the channel disconnect).
    done: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Progress {
    /// Starts a bar for `total` draws counted by `ctl`, if stderr is a
    /// terminal; otherwise an inert value.
    pub fn start(total: u64, ctl: Arc<Control>) -> Progress {
        if total == 0 || !std::io::stderr().is_terminal() {
            return Progress {
                done: None,
                thread: None,
            };
        }
        let (done, wait) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("progress".into())
            .spawn(move || draw_until_done(total, &ctl, &wait))
            .ok();
        Progress {
            done: Some(done),
            thread,
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        drop(self.done.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn draw_until_done(total: u64, ctl: &Control, done: &mpsc::Receiver<()>) {
    let start = Instant::now();
    if done.recv_timeout(SHOW_AFTER) != Err(RecvTimeoutError::Timeout) {
        return;
    }
    let mut err = std::io::stderr();
    loop {
        let line = render(ctl.draws_done().min(total), total, start.elapsed());
        // Rewrite the line, then erase whatever a longer frame left after it.
        let _ = write!(err, "\r{line}\x1b[K");
        let _ = err.flush();
        if done.recv_timeout(REDRAW_EVERY) != Err(RecvTimeoutError::Timeout) {
            break;
        }
    }
    // Erase the bar: carriage return, then ANSI "erase whole line".
    let _ = write!(err, "\r\x1b[2K");
    let _ = err.flush();
}

/// One frame: `[#####-----]  52%  5.2M/10.0M draws  13.1M/s  ETA 0.4s`.
fn render(done: u64, total: u64, elapsed: Duration) -> String {
    let frac = done as f64 / total as f64;
    let filled = ((frac * BAR_WIDTH as f64) as usize).min(BAR_WIDTH);
    let rate = done as f64 / elapsed.as_secs_f64().max(1e-9);
    let eta = if done > 0 {
        format!("{:.1}s", (total - done) as f64 / rate)
    } else {
        "?".into()
    };
    format!(
        "[{}{}] {:>3.0}%  {:.1}M/{:.1}M draws  {:.1}M/s  ETA {eta}",
        "#".repeat(filled),
        "-".repeat(BAR_WIDTH - filled),
        frac * 100.0,
        done as f64 / 1e6,
        total as f64 / 1e6,
        rate / 1e6,
    )
}
