//! The greenrt one-way hop that benches/channel.rs and benches/peers.rs
//! both measure: two Gs ping-pong over `bounded(0)`, and the time of the
//! round trips is halved. One copy so that both benches quote the same code.
//! (Cargo takes benches/common/ for no bench: it has no `main.rs`.)

use std::time::{Duration, Instant};

/// Runs `iters` round trips on the calling G; returns the one-way time.
pub fn greenrt_oneway_rendezvous(iters: u64) -> Duration {
    let (ping_tx, ping_rx) = greenrt::sync::bounded::<u64>(0);
    let (pong_tx, pong_rx) = greenrt::sync::bounded::<u64>(0);
    let echo = greenrt::spawn(move || {
        for v in ping_rx.iter() {
            pong_tx.send(v).unwrap();
        }
    });
    let start = Instant::now();
    for i in 0..iters {
        ping_tx.send(i).unwrap();
        std::hint::black_box(pong_rx.recv().unwrap());
    }
    let round_trips = start.elapsed();
    drop(ping_tx);
    echo.join().unwrap();
    round_trips / 2
}
