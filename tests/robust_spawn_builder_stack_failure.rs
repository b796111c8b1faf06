//! A builder spawn whose stack cannot be mapped returns the OS's error to
//! the spawner — no green thread, the closure dropped unrun — instead of a
//! green thread that fails at start. The mapping fails for real: the
//! process's address space is capped (`RLIMIT_AS`) below the asked stack.
//! Its own test binary, since the cap applies to the whole process.

mod common;

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::Watchdog;

struct CountsDrops(Arc<AtomicUsize>);

impl Drop for CountsDrops {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn address_space_limit() -> libc::rlimit {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we pass.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_AS, &mut lim) }, 0);
    lim
}

fn set_address_space_limit(lim: libc::rlimit) {
    // SAFETY: setrlimit reads the struct we pass; lowering the soft limit
    // (and raising it back up to the unchanged hard limit) is always allowed.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_AS, &lim) }, 0);
}

/// Bytes of address space this process has mapped (`VmSize`).
fn mapped_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmSize:")).unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

#[test]
fn a_stack_that_cannot_be_mapped_is_the_spawners_error() {
    let _w = Watchdog::new("builder stack failure", Duration::from_secs(60));
    let rt = greenrt::Runtime::builder().procs(2).build().unwrap();
    // Start the Ms (their OS threads need address space too).
    rt.block_on(|| greenrt::spawn(|| ()).join().unwrap());
    let drops = Arc::new(AtomicUsize::new(0));
    let d = Arc::clone(&drops);
    let before = rt.stats().spawned;
    let saved = address_space_limit();
    // 256 MiB of room: less than the 1 GiB stack asked for below.
    set_address_space_limit(libc::rlimit {
        rlim_cur: mapped_bytes() + (256 << 20),
        rlim_max: saved.rlim_max,
    });
    let results = rt.block_on(move || {
        let guard = CountsDrops(d);
        let failed = greenrt::spawn_builder()
            .name("too-big")
            .stack_size(1 << 30)
            .spawn(move || {
                let _g = guard;
                panic!("must not run");
            })
            .map(|_| ());
        // A modest stack still fits.
        let fits = greenrt::spawn_builder()
            .stack_size(128 * 1024)
            .spawn(|| 7)
            .map(|h| h.join().unwrap());
        (failed, fits)
    });
    set_address_space_limit(saved);
    let (failed, fits) = results;
    let err = failed.expect_err("a 1 GiB stack cannot be mapped under the cap");
    assert_eq!(err.kind(), io::ErrorKind::OutOfMemory, "{err}");
    assert!(err.to_string().contains("green-thread stack"), "{err}");
    assert_eq!(drops.load(Ordering::SeqCst), 1, "the closure was dropped");
    assert_eq!(fits.unwrap(), 7);
    // The block_on G and the one that fit; none for the failed spawn.
    assert_eq!(rt.stats().spawned, before + 2);
}
