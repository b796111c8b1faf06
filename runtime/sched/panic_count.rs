//! std's per-thread panic count travels with a G that switches while it
//! unwinds (issue 14 defect 5).
//!
//! std counts panics in flight per OS thread: a panic's start raises the
//! count of the thread it starts on, and the `catch_unwind` that ends it
//! lowers the count of the thread it ends on; `std::thread::panicking()`
//! reads it (std `Mutex` poisoning and every "on unwind" guard depend on
//! it). A G whose destructor parks during an unwind and resumes on another
//! M would leave its count behind (every other G on the first M then sees
//! `panicking()` true) and end the panic on a thread whose count is zero
//! (which wraps). std has no API to read or set the count, so it is moved
//! with the only tools std offers, started and ended panics:
//!
//! * A *token* is a tiny coroutine suspended in the middle of an unwind
//!   (a destructor suspends it). Starting one raises the count of the
//!   thread that starts it; finishing one lowers the count of the thread
//!   that finishes it.
//! * Before switching out while `panicking()` (the cold path of
//!   `GreenThread::switch_out`), the G finishes tokens on its current
//!   thread until the count there is zero, counting them; tokens come ready
//!   started from a *bank* thread, which never runs user code, so its own
//!   count does not matter.
//! * After it is resumed, the G starts as many tokens on its new thread,
//!   raising that count back, and hands them to the bank to finish.
//!
//! The cost, a round trip to the bank and a small stack per token, is paid
//! only by a G that switches while unwinding. A G that never switches
//! mid-unwind pays one load of std's global panic count per switch.

use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::mpsc::{channel, Sender};
use std::sync::{Mutex, OnceLock};

use corosensei::stack::DefaultStack;
use corosensei::{Coroutine, CoroutineResult, Yielder};

/// Stack of a token: it only unwinds two frames.
const TOKEN_STACK: usize = 16 * 1024;
/// More nested panics in flight than any program has: a count this large
/// means `panicking()` is not tracking what we think it is.
const MAX_CARRIED: usize = 64;

/// A coroutine suspended in the middle of an unwind (module docs).
struct Token(Coroutine<(), (), (), DefaultStack>);

// SAFETY: a token's stack holds only its own frames: the unwind payload (a
// `Box<TokenPanic>`, Send), a `SuspendOnDrop` (a reference to its yielder,
// which lives on that same stack) and std's unwinding state. None of them
// is tied to the thread that started it; moving a suspended coroutine to
// another thread is what corosensei's `Send`-less type forbids only for
// the sake of arbitrary closures.
unsafe impl Send for Token {}

/// The payload of a token's panic.
struct TokenPanic;

/// Suspends the token's coroutine when dropped, i.e. during its unwind.
struct SuspendOnDrop<'a>(&'a Yielder<(), ()>);

impl Drop for SuspendOnDrop<'_> {
    fn drop(&mut self) {
        self.0.suspend(());
    }
}

impl Token {
    /// Starts a token on this thread: raises this thread's panic count.
    fn start() -> Token {
        let stack = DefaultStack::new(TOKEN_STACK).expect("a stack for a panic-count token");
        let mut co = Coroutine::with_stack(stack, |y: &Yielder<(), ()>, ()| {
            let ended = catch_unwind(AssertUnwindSafe(|| {
                let _suspend = SuspendOnDrop(y);
                resume_unwind(Box::new(TokenPanic));
            }));
            debug_assert!(ended.is_err());
        });
        match co.resume(()) {
            CoroutineResult::Yield(()) => Token(co),
            CoroutineResult::Return(()) => unreachable!("a token suspends in its unwind"),
        }
    }

    /// Finishes the token on this thread: lowers this thread's count.
    fn finish(mut self) {
        match self.0.resume(()) {
            CoroutineResult::Return(()) => {}
            CoroutineResult::Yield(()) => unreachable!("a token suspends once"),
        }
    }
}

enum Request {
    /// Reply with a token started on the bank thread.
    Started(Sender<Token>),
    /// Finish this token on the bank thread.
    Finish(Token),
}

/// The bank thread's inbox, started on first use.
fn bank() -> &'static Mutex<Sender<Request>> {
    static BANK: OnceLock<Mutex<Sender<Request>>> = OnceLock::new();
    BANK.get_or_init(|| {
        let (tx, rx) = channel::<Request>();
        std::thread::Builder::new()
            .name("greenrt-panic-count".into())
            .spawn(move || {
                for req in rx {
                    match req {
                        Request::Started(reply) => {
                            let _ = reply.send(Token::start());
                        }
                        Request::Finish(token) => token.finish(),
                    }
                }
            })
            .expect("greenrt: cannot start the panic-count thread");
        Mutex::new(tx)
    })
}

fn send(req: Request) {
    let tx = bank().lock().unwrap_or_else(|e| e.into_inner()).clone();
    tx.send(req)
        .expect("the panic-count thread runs for the whole process");
}

/// Lowers this thread's panic count to zero, before a G switches out while
/// `panicking()`. Returns how many counts the G carries away.
#[cold]
#[inline(never)]
pub(crate) fn leave_thread() -> usize {
    let mut carried = 0;
    while std::thread::panicking() {
        assert!(
            carried < MAX_CARRIED,
            "greenrt: std's panic count is not tracked"
        );
        let (reply, token) = channel();
        send(Request::Started(reply));
        token
            .recv()
            .expect("the panic-count thread replies")
            .finish();
        carried += 1;
    }
    carried
}

/// Raises this thread's panic count by `carried`, after a G that left a
/// thread with [`leave_thread`] resumes.
#[cold]
#[inline(never)]
pub(crate) fn enter_thread(carried: usize) {
    for _ in 0..carried {
        send(Request::Finish(Token::start()));
    }
}
