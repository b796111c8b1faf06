//! greenrt beside the runtimes users would pick instead, measured in one
//! process run so the ratios carry from one machine to the next:
//!
//! * `yield`: two tasks on one worker taking turns with their runtime's
//!   yield; one iteration is one yield (one switch).
//! * `hop`: one-way message latency, ping-pong between two tasks on one
//!   worker; greenrt over a rendezvous `bounded(0)`, tokio over a 1-slot
//!   `mpsc::channel(1)`, may over its (unbounded) `mpsc::channel` — with one
//!   message in flight the capacity does not change the work of a hop.
//! * `spawn_join`: 100 000 no-op tasks spawned, then joined in order, from a
//!   task on the same runtime; the table reports the time per task (may in
//!   waves of 10 000, see [`MAY_WAVE`]).
//!
//! Systems: greenrt at procs 1; tokio `current_thread` and `multi_thread`
//! with one worker; may with one worker. Go runs as its own program
//! (`benches/go/peers.go`, driven by `scripts/peers.sh`), whose medians this
//! bench reads from the file named by `GREENRT_PEERS_GO` to print them in
//! the same table.
//!
//! `bash scripts/peers.sh` (or `cargo bench --bench peers` without Go).
//! The table is printed last and written to `<target>/peers.md`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

#[path = "common/rendezvous.rs"]
mod rendezvous;

use criterion::{black_box, Criterion, Throughput};

const SPAWN_BATCH: u64 = 100_000;

/// may gives every coroutine its stack (a mapping plus a guard page) when it
/// is spawned, so 100 000 live coroutines exceed Linux's default
/// `vm.max_map_count` and its spawn panics; may spawns the batch in waves of
/// this many, each joined before the next (which favours may slightly: its
/// stacks are reused warm).
const MAY_WAVE: u64 = 10_000;

/// The benchmarks, in table order: (criterion group, what a row says).
const BENCHES: [(&str, &str); 3] = [
    ("peers_yield", "yield ping-pong, ns per yield"),
    ("peers_hop", "channel hop, ns one way"),
    ("peers_spawn_join", "spawn+join of 100 000, ns per task"),
];

/// The systems, in column order: (criterion function name, column title).
const SYSTEMS: [(&str, &str); 5] = [
    ("greenrt", "greenrt (1 P)"),
    ("tokio_current_thread", "tokio current_thread"),
    ("tokio_multi_thread_1", "tokio multi_thread(1)"),
    ("may_1_worker", "may (1 worker)"),
    ("go", "Go (GOMAXPROCS=1)"),
];

// --------------------------------------------------------------- greenrt

fn greenrt_benches(c: &mut Criterion) {
    let rt = greenrt::Runtime::builder().procs(1).build().unwrap();

    c.benchmark_group("peers_yield")
        .bench_function("greenrt", |b| {
            b.iter_custom(|iters| {
                rt.block_on(move || {
                    let half = iters.div_ceil(2);
                    let start = Instant::now();
                    let yielders: Vec<_> = (0..2)
                        .map(|_| {
                            greenrt::spawn(move || {
                                for _ in 0..half {
                                    greenrt::yield_now();
                                }
                            })
                        })
                        .collect();
                    yielders.into_iter().for_each(|h| h.join().unwrap());
                    start.elapsed()
                })
            })
        });

    c.benchmark_group("peers_hop")
        .bench_function("greenrt", |b| {
            b.iter_custom(|iters| rt.block_on(move || rendezvous::greenrt_oneway_rendezvous(iters)))
        });

    spawn_join_group(c).bench_function("greenrt", |b| {
        b.iter_custom(|iters| {
            rt.block_on(move || {
                let start = Instant::now();
                for _ in 0..iters {
                    let handles: Vec<_> = (0..SPAWN_BATCH)
                        .map(|i| greenrt::spawn(move || i))
                        .collect();
                    for h in handles {
                        black_box(h.join().unwrap());
                    }
                }
                start.elapsed()
            })
        })
    });
}

// ----------------------------------------------------------------- tokio

fn tokio_benches(c: &mut Criterion, name: &str, rt: tokio::runtime::Runtime) {
    c.benchmark_group("peers_yield").bench_function(name, |b| {
        b.iter_custom(|iters| {
            rt.block_on(async move {
                let half = iters.div_ceil(2);
                let start = Instant::now();
                let yielders: Vec<_> = (0..2)
                    .map(|_| {
                        tokio::spawn(async move {
                            for _ in 0..half {
                                tokio::task::yield_now().await;
                            }
                        })
                    })
                    .collect();
                for h in yielders {
                    h.await.unwrap();
                }
                start.elapsed()
            })
        })
    });

    c.benchmark_group("peers_hop").bench_function(name, |b| {
        b.iter_custom(|iters| {
            rt.block_on(async move {
                let (ping_tx, mut ping_rx) = tokio::sync::mpsc::channel::<u64>(1);
                let (pong_tx, mut pong_rx) = tokio::sync::mpsc::channel::<u64>(1);
                // Both ends run as spawned tasks so that, on multi_thread,
                // they share the one worker like the other systems' tasks.
                let echo = tokio::spawn(async move {
                    while let Some(v) = ping_rx.recv().await {
                        pong_tx.send(v).await.unwrap();
                    }
                });
                let pinger = tokio::spawn(async move {
                    let start = Instant::now();
                    for i in 0..iters {
                        ping_tx.send(i).await.unwrap();
                        black_box(pong_rx.recv().await.unwrap());
                    }
                    start.elapsed()
                });
                let round_trips = pinger.await.unwrap();
                echo.await.unwrap();
                round_trips / 2
            })
        })
    });

    spawn_join_group(c).bench_function(name, |b| {
        b.iter_custom(|iters| {
            rt.block_on(async move {
                tokio::spawn(async move {
                    let start = Instant::now();
                    for _ in 0..iters {
                        let handles: Vec<_> = (0..SPAWN_BATCH)
                            .map(|i| tokio::spawn(async move { i }))
                            .collect();
                        for h in handles {
                            black_box(h.await.unwrap());
                        }
                    }
                    start.elapsed()
                })
                .await
                .unwrap()
            })
        })
    });
}

// ------------------------------------------------------------------- may

/// Runs `f` as a may coroutine and waits for it from this OS thread.
fn on_may<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    // SAFETY: `may::coroutine::spawn` is unsafe because a coroutine that
    // touches thread-local storage can migrate between worker threads; the
    // closures run here use no thread-locals of their own, only may's
    // channels, yield and spawn.
    unsafe { may::coroutine::spawn(f) }.join().unwrap()
}

fn may_benches(c: &mut Criterion) {
    c.benchmark_group("peers_yield")
        .bench_function("may_1_worker", |b| {
            b.iter_custom(|iters| {
                on_may(move || {
                    let half = iters.div_ceil(2);
                    let start = Instant::now();
                    let yielders: Vec<_> = (0..2)
                        .map(|_| {
                            // SAFETY: as in `on_may`: no thread-locals.
                            unsafe {
                                may::coroutine::spawn(move || {
                                    for _ in 0..half {
                                        may::coroutine::yield_now();
                                    }
                                })
                            }
                        })
                        .collect();
                    yielders.into_iter().for_each(|h| h.join().unwrap());
                    start.elapsed()
                })
            })
        });

    c.benchmark_group("peers_hop")
        .bench_function("may_1_worker", |b| {
            b.iter_custom(|iters| {
                on_may(move || {
                    let (ping_tx, ping_rx) = may::sync::mpsc::channel::<u64>();
                    let (pong_tx, pong_rx) = may::sync::mpsc::channel::<u64>();
                    // SAFETY: as in `on_may`: no thread-locals.
                    let echo = unsafe {
                        may::coroutine::spawn(move || {
                            for v in ping_rx.iter() {
                                pong_tx.send(v).unwrap();
                            }
                        })
                    };
                    let start = Instant::now();
                    for i in 0..iters {
                        ping_tx.send(i).unwrap();
                        black_box(pong_rx.recv().unwrap());
                    }
                    let round_trips = start.elapsed();
                    drop(ping_tx);
                    echo.join().unwrap();
                    round_trips / 2
                })
            })
        });

    spawn_join_group(c).bench_function("may_1_worker", |b| {
        b.iter_custom(|iters| {
            on_may(move || {
                let start = Instant::now();
                for _ in 0..iters {
                    for wave in 0..SPAWN_BATCH / MAY_WAVE {
                        let handles: Vec<_> = (wave * MAY_WAVE..(wave + 1) * MAY_WAVE)
                            // SAFETY: as in `on_may`: no thread-locals.
                            .map(|i| unsafe { may::coroutine::spawn(move || i) })
                            .collect();
                        for h in handles {
                            black_box(h.join().unwrap());
                        }
                    }
                }
                start.elapsed()
            })
        })
    });
}

fn spawn_join_group(
    c: &mut Criterion,
) -> criterion::BenchmarkGroup<'_, criterion::measurement::WallTime> {
    let mut g = c.benchmark_group("peers_spawn_join");
    g.sample_size(10)
        .throughput(Throughput::Elements(SPAWN_BATCH));
    g
}

// ----------------------------------------------------------------- table

/// Median ns per operation of every benchmark criterion ran in this process
/// (estimates written since `started`), keyed by (group, system).
fn medians_of_this_run(out: &Path, started: SystemTime) -> BTreeMap<(String, String), f64> {
    let mut medians = BTreeMap::new();
    for (group, _) in BENCHES {
        for (system, _) in SYSTEMS {
            let file = out.join(group).join(system).join("new/estimates.json");
            let fresh = std::fs::metadata(&file)
                .and_then(|m| m.modified())
                .is_ok_and(|t| t >= started);
            if !fresh {
                continue;
            }
            let json: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
            let per_iter = json["median"]["point_estimate"].as_f64().unwrap();
            let per_op = if group == "peers_spawn_join" {
                per_iter / SPAWN_BATCH as f64
            } else {
                per_iter
            };
            medians.insert((group.to_string(), system.to_string()), per_op);
        }
    }
    medians
}

/// Go's medians from `scripts/peers.sh`: lines `<group> <ns per op>`.
fn go_medians(medians: &mut BTreeMap<(String, String), f64>) {
    let Some(path) = std::env::var_os("GREENRT_PEERS_GO") else {
        return;
    };
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("GREENRT_PEERS_GO={path:?}: cannot read: {e}"));
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let mut words = line.split_whitespace();
        let (Some(group), Some(ns), None) = (words.next(), words.next(), words.next()) else {
            panic!("GREENRT_PEERS_GO={path:?}: expected `<group> <ns>`, got {line:?}");
        };
        let ns: f64 = ns
            .parse()
            .unwrap_or_else(|_| panic!("GREENRT_PEERS_GO={path:?}: not a number in {line:?}"));
        medians.insert((group.to_string(), "go".to_string()), ns);
    }
}

fn table(medians: &BTreeMap<(String, String), f64>) -> String {
    let cell = |group: &str, system: &str| medians.get(&(group.to_string(), system.to_string()));
    let mut t = String::from("| benchmark |");
    for (_, title) in SYSTEMS {
        t += &format!(" {title} |");
    }
    for (_, title) in &SYSTEMS[1..] {
        t += &format!(" greenrt ÷ {title} |");
    }
    t += "\n|---|";
    t += &"---:|".repeat(2 * SYSTEMS.len() - 1);
    for (group, what) in BENCHES {
        t += &format!("\n| {what} |");
        for (system, _) in SYSTEMS {
            match cell(group, system) {
                Some(ns) => t += &format!(" {ns:.1} |"),
                None => t += " – |",
            }
        }
        for (system, _) in &SYSTEMS[1..] {
            match (cell(group, "greenrt"), cell(group, system)) {
                (Some(ours), Some(theirs)) => t += &format!(" {:.2}× |", ours / theirs),
                _ => t += " – |",
            }
        }
    }
    t + "\n"
}

/// `<target>/criterion`: the bench binary is `<target>/<profile>/deps/peers-…`.
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.ancestors()
        .nth(3)
        .expect("bench binary under <target>/<profile>/deps")
        .to_path_buf()
}

fn main() {
    // may reads its configuration when its scheduler first starts.
    may::config().set_workers(1);
    let target = target_dir();
    let out = target.join("criterion");
    let started = SystemTime::now();
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .output_directory(&out)
        .configure_from_args();

    greenrt_benches(&mut c);
    let current_thread = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    tokio_benches(&mut c, "tokio_current_thread", current_thread);
    let multi_thread = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .unwrap();
    tokio_benches(&mut c, "tokio_multi_thread_1", multi_thread);
    may_benches(&mut c);
    c.final_summary();

    let mut medians = medians_of_this_run(&out, started);
    if medians.is_empty() {
        return; // `cargo test --benches` or a filter that matched nothing
    }
    go_medians(&mut medians);
    let table = table(&medians);
    println!("\nMedians of this run (ns per operation):\n\n{table}");
    std::fs::write(target.join("peers.md"), &table).unwrap();
}
