//! `green_local!`: a value per green thread that survives parks while the
//! green thread changes OS thread, made lazily, dropped on the green
//! thread when it finishes, and a plain thread-local outside the runtime.

mod common;

use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{rt_test, runtime, stress, Watchdog};

/// The kernel's id of the calling OS thread (no thread-local involved, so
/// nothing the compiler could cache across a switch).
fn os_thread_id() -> i64 {
    // SAFETY: gettid has no arguments and cannot fail.
    unsafe { libc::syscall(libc::SYS_gettid) }
}

greenrt::green_local! {
    static COUNT: Cell<u64> = Cell::new(0);
    static SEEN: RefCell<Vec<i64>> = const { RefCell::new(Vec::new()) };
}

/// Each of two green threads parks 1 000 times (woken from an OS thread,
/// so it resumes on whichever M takes it from the global queue) while busy
/// green threads keep every P occupied. Its green-locals keep counting its
/// own parks, and at procs ≥ 2 it is seen on more than one OS thread.
fn survives_parks_across_os_threads(procs: usize) {
    let _w = Watchdog::new("green_local across parks", Duration::from_secs(120));
    let rt = runtime(procs);
    let parks = 1_000u64;
    let busy = common::Yielders::start(&rt, procs);
    let workers: Vec<_> = (0..2)
        .map(|_| {
            rt.spawn(move || {
                // At least `parks` parks; at procs >= 2, more (up to 20x)
                // until a second OS thread has been seen: on a loaded
                // 2-core machine one M can take every wake for a while.
                let mut done = 0u64;
                let moved = || SEEN.with(|s| s.borrow().iter().any(|&t| t != s.borrow()[0]));
                while done < parks || (procs >= 2 && !moved() && done < 20 * parks) {
                    SEEN.with(|s| s.borrow_mut().push(os_thread_id()));
                    COUNT.with(|c| c.set(c.get() + 1));
                    done += 1;
                    greenrt::park();
                }
                (
                    done,
                    COUNT.with(Cell::get),
                    SEEN.with(|s| s.borrow().clone()),
                )
            })
        })
        .collect();
    // Wake each worker whenever it is parked, from this OS thread.
    while workers.iter().any(|h| !h.is_finished()) {
        for h in &workers {
            if h.thread().wait_reason() == greenrt::WaitReason::Park {
                h.thread().unpark();
            }
        }
        std::thread::yield_now();
    }
    busy.stop();
    for h in workers {
        let (done, count, seen) = h.join().unwrap();
        assert!(done >= parks);
        assert_eq!(count, done, "the value survived every park");
        assert_eq!(seen.len() as u64, done);
        let threads: HashSet<i64> = seen.into_iter().collect();
        if procs >= 2 {
            assert!(threads.len() >= 2, "never changed OS thread: {threads:?}");
        }
    }
}
rt_test!(survives_parks_across_os_threads);

/// Green threads sharing OS threads never see each other's values.
fn each_green_thread_has_its_own(procs: usize) {
    let _w = Watchdog::new("green_local isolation", Duration::from_secs(60));
    let n = stress(64) as u64;
    let ok = runtime(procs).block_on(move || {
        let hs: Vec<_> = (0..n)
            .map(|i| {
                greenrt::spawn(move || {
                    for _ in 0..=i {
                        COUNT.with(|c| c.set(c.get() + 1));
                        greenrt::yield_now();
                    }
                    COUNT.with(Cell::get) == i + 1
                })
            })
            .collect();
        hs.into_iter().all(|h| h.join().unwrap())
    });
    assert!(ok);
}
rt_test!(each_green_thread_has_its_own);

static INITS: AtomicUsize = AtomicUsize::new(0);

/// Where each drop ran: (on a green thread?, its id).
type DropLog = Arc<Mutex<Vec<(bool, Option<u64>)>>>;

/// Records where it was dropped.
struct Recorder {
    log: DropLog,
}

impl Drop for Recorder {
    fn drop(&mut self) {
        let where_ = (
            greenrt::in_green_thread(),
            greenrt::current().map(|g| g.id()),
        );
        self.log.lock().unwrap().push(where_);
    }
}

greenrt::green_local! {
    static RECORDER: RefCell<Option<Recorder>> = const { RefCell::new(None) };
    static LAZY: u8 = {
        INITS.fetch_add(1, Ordering::SeqCst);
        7
    };
}

/// The initialiser runs once per green thread that touches the key, and
/// never for one that does not. (One test: `INITS` counts for the binary.)
#[test]
fn made_lazily_once_per_green_thread() {
    let rt = runtime(2);
    rt.spawn(greenrt::yield_now).join().unwrap();
    assert_eq!(INITS.load(Ordering::SeqCst), 0, "not made unused");
    let v = rt
        .spawn(|| {
            let a = LAZY.with(|v| *v);
            greenrt::yield_now();
            a + LAZY.with(|v| *v)
        })
        .join()
        .unwrap();
    assert_eq!(v, 14);
    assert_eq!(INITS.load(Ordering::SeqCst), 1);
}

/// The value is dropped once, on the green thread itself, before `join`
/// returns.
fn dropped_on_the_green_thread_at_its_end(procs: usize) {
    let _w = Watchdog::new("green_local drop", Duration::from_secs(60));
    let rt = runtime(procs);
    let log = Arc::new(Mutex::new(Vec::new()));
    let l = log.clone();
    let h = rt.spawn(move || {
        RECORDER.with(|r| *r.borrow_mut() = Some(Recorder { log: l }));
        greenrt::sleep(Duration::from_millis(1));
        greenrt::current().unwrap().id()
    });
    let id = h.thread().id();
    assert_eq!(h.join().unwrap(), id);
    assert_eq!(
        *log.lock().unwrap(),
        [(true, Some(id))],
        "dropped once, on the G"
    );
}
rt_test!(dropped_on_the_green_thread_at_its_end);

greenrt::green_local! {
    static TOUCHES_OTHERS_ON_DROP: RefCell<Option<TouchesOnDrop>> = const { RefCell::new(None) };
}

struct TouchesOnDrop(Arc<Mutex<Option<bool>>>);

impl Drop for TouchesOnDrop {
    fn drop(&mut self) {
        let refused = COUNT.try_with(|_| ()).is_err();
        *self.0.lock().unwrap() = Some(refused);
    }
}

/// A destructor of a green-local that reaches a green-local gets
/// `AccessError`; the green thread still finishes normally.
#[test]
fn touching_a_green_local_while_dropping_is_refused() {
    let _w = Watchdog::new("green_local in drop", Duration::from_secs(60));
    let seen = Arc::new(Mutex::new(None));
    let s = seen.clone();
    let r = runtime(2).block_on(move || {
        greenrt::spawn(move || {
            COUNT.with(|c| c.set(5));
            TOUCHES_OTHERS_ON_DROP.with(|t| *t.borrow_mut() = Some(TouchesOnDrop(s)));
        })
        .join()
    });
    assert!(r.is_ok());
    assert_eq!(*seen.lock().unwrap(), Some(true));
}

/// Outside the runtime a green-local is a thread-local of the OS thread.
#[test]
fn a_thread_local_on_plain_os_threads() {
    COUNT.with(|c| c.set(41));
    let other = std::thread::spawn(|| {
        COUNT.with(|c| c.set(c.get() + 1));
        COUNT.with(Cell::get)
    })
    .join()
    .unwrap();
    assert_eq!(other, 1, "another OS thread starts from the initialiser");
    COUNT.with(|c| c.set(c.get() + 1));
    assert_eq!(COUNT.with(Cell::get), 42);
    // A green thread spawned from here does not see this thread's value.
    assert_eq!(greenrt::spawn(|| COUNT.with(Cell::get)).join().unwrap(), 0);
}
