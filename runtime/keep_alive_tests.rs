//! A runtime's scheduler lives exactly as long as its Gs need it
//! (invariant 9, scheduler outlives its Gs; `sched/keep_alive.rs`): freed
//! once the `Runtime` and every G are gone, even though its Ps hold units
//! in stashes, and kept while a `JoinHandle` outlives the `Runtime`.

use crate::Builder;

/// Spawns and joins more Gs than one stash batch, on the runtime's Ps.
fn spawn_and_join_on_ps(n: u64) -> u64 {
    let hs: Vec<_> = (0..n).map(|i| crate::spawn(move || i)).collect();
    hs.into_iter().map(|h| h.join().unwrap()).sum()
}

fn freed_after_spawning_on_its_ps(procs: usize) {
    let rt = Builder::new().procs(procs).build().unwrap();
    let weak = rt.scheduler_weak();
    let n = 2_000;
    assert_eq!(
        rt.block_on(move || spawn_and_join_on_ps(n)),
        n * (n - 1) / 2
    );
    // Off the runtime's Ms too (no P: a unit each).
    assert_eq!(rt.spawn(|| 5).join().unwrap(), 5);
    drop(rt);
    assert!(
        weak.upgrade().is_none(),
        "the scheduler outlived its runtime and every G (units left in a P stash?)"
    );
}

#[test]
fn the_scheduler_is_freed_with_its_runtime_after_spawning_on_its_ps() {
    for procs in [1, 2, 4] {
        freed_after_spawning_on_its_ps(procs);
    }
}

fn kept_for_a_join_handle_that_outlives_its_runtime(procs: usize) {
    let rt = Builder::new().procs(procs).build().unwrap();
    let weak = rt.scheduler_weak();
    // Spawned on a P (its unit from the P's stash), finished, not joined.
    let on_p = rt.block_on(|| {
        let h = crate::spawn(|| 7u32);
        while !h.is_finished() {
            crate::yield_now();
        }
        h
    });
    // Spawned from outside the runtime (its unit taken alone).
    let off_p = rt.spawn(|| 8u32);
    while !off_p.is_finished() {
        std::thread::yield_now();
    }
    drop(rt);
    assert!(weak.upgrade().is_some(), "freed while two Gs are alive");
    assert_eq!(on_p.join().unwrap(), 7);
    assert!(weak.upgrade().is_some(), "freed while a G is alive");
    assert_eq!(off_p.join().unwrap(), 8);
    assert!(
        weak.upgrade().is_none(),
        "kept after its last G was dropped"
    );
}

#[test]
fn the_scheduler_lives_while_a_join_handle_outlives_its_runtime() {
    for procs in [1, 2, 4] {
        kept_for_a_join_handle_that_outlives_its_runtime(procs);
    }
}
