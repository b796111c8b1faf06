//! Green threads that keep every processor's queue non-empty: each loops on
//! `yield_now` until stopped. Tests use them to make a P "busy" without
//! blocking it (retakes, handoffs and migrations need queued work).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// `n` yielding green threads on `rt`; [`stop`](Self::stop) ends and joins
/// them (dropping does the same, so a failing test does not leave them).
pub struct Yielders {
    stop: Arc<AtomicBool>,
    handles: Vec<greenrt::JoinHandle<()>>,
}

impl Yielders {
    pub fn start(rt: &greenrt::Runtime, n: usize) -> Yielders {
        let stop = Arc::new(AtomicBool::new(false));
        let handles = (0..n)
            .map(|_| {
                let stop = stop.clone();
                rt.spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        greenrt::yield_now();
                    }
                })
            })
            .collect();
        Yielders { stop, handles }
    }

    /// Stops them and waits until all have finished.
    pub fn stop(mut self) {
        self.stop_and_join();
    }

    fn stop_and_join(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for h in self.handles.drain(..) {
            h.join().expect("a yielder does not panic");
        }
    }
}

impl Drop for Yielders {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}
