//! Stack-overflow reports for green threads.
//!
//! Every green-thread stack has a guard page below it, so an overflow faults
//! instead of corrupting memory. By default that fault kills the process with
//! a bare SIGSEGV, which says nothing about which green thread overflowed or
//! what to do. This module installs a SIGSEGV/SIGBUS handler (once per
//! process) that runs on an alternate signal stack, checks whether the fault
//! address lies in (or just below) the running green thread's guard page, and
//! if so prints which green thread overflowed and how to raise the stack size,
//! then aborts. Any other fault is handed to the handler that was installed
//! before ours (Rust's own, or a user's) by calling it, so ours stays
//! installed for later faults: a user handler that repairs a fault and
//! returns does not switch off overflow reports. Only a default or ignored
//! previous disposition is restored, and we return so the faulting
//! instruction runs again and the kernel's default action ends the process.

use std::io;
use std::sync::OnceLock;

use super::context;

/// Faults this far below the guard page still count as an overflow: a frame
/// with large locals can skip over the guard page entirely.
const BELOW_GUARD_SLACK: usize = 256 * 1024;
/// Size of the alternate signal stack we install on Ms that have none.
const ALT_STACK_SIZE: usize = 64 * 1024;

struct Previous {
    segv: libc::sigaction,
    bus: libc::sigaction,
}

static PREVIOUS: OnceLock<Previous> = OnceLock::new();

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 {
        p as usize
    } else {
        4096
    }
}

/// Installs the handler once per process.
pub(crate) fn install_handler() {
    PREVIOUS.get_or_init(|| {
        // SAFETY: we build a zeroed sigaction, fill in a valid handler with
        // SA_SIGINFO | SA_ONSTACK, and save the previous actions so the
        // handler can restore them for faults that are not ours.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_fault as *const () as usize;
            action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
            libc::sigemptyset(&mut action.sa_mask);
            let mut segv: libc::sigaction = std::mem::zeroed();
            let mut bus: libc::sigaction = std::mem::zeroed();
            libc::sigaction(libc::SIGSEGV, &action, &mut segv);
            libc::sigaction(libc::SIGBUS, &action, &mut bus);
            Previous { segv, bus }
        }
    });
}

/// Makes sure the calling M has an alternate signal stack (std gives its
/// threads one; this covers threads where it did not). The stack is leaked
/// on purpose: it must outlive every signal on this thread.
pub(crate) fn ensure_alt_stack() -> io::Result<()> {
    // SAFETY: querying the current alternate stack writes into `old`; setting
    // a new one points the kernel at a fresh private mapping we never unmap.
    unsafe {
        let mut old: libc::stack_t = std::mem::zeroed();
        if libc::sigaltstack(std::ptr::null(), &mut old) != 0 {
            return Err(io::Error::last_os_error());
        }
        if old.ss_flags & libc::SS_DISABLE == 0 {
            return Ok(());
        }
        let mem = libc::mmap(
            std::ptr::null_mut(),
            ALT_STACK_SIZE,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        if mem == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let new = libc::stack_t {
            ss_sp: mem,
            ss_flags: 0,
            ss_size: ALT_STACK_SIZE,
        };
        if libc::sigaltstack(&new, std::ptr::null_mut()) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

extern "C" fn on_fault(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo for SA_SIGINFO handlers. The
    // context read is a plain load of a const-initialised thread-local (no
    // lazy initialisation, no allocation), and the G it names is kept alive
    // by its M while it runs. Only async-signal-safe calls follow (write,
    // abort, sigaction, and the previous handler, itself a signal handler).
    unsafe {
        let addr = (*info).si_addr() as usize;
        if let Some(g) = context::current_g_ptr() {
            let g = g.as_ref();
            let guard = g.stack_guard.get();
            let page = page_size();
            if guard != 0 && addr < guard + page && addr >= guard.saturating_sub(BELOW_GUARD_SLACK)
            {
                report_overflow(g);
                libc::abort();
            }
        }
        // Not a green-thread overflow: hand it to whoever handled it before.
        if let Some(prev) = PREVIOUS.get() {
            let action = if sig == libc::SIGBUS {
                &prev.bus
            } else {
                &prev.segv
            };
            forward(sig, info, ctx, action);
        }
    }
}

/// Passes a fault that is not ours to `prev` (module docs).
///
/// # Safety
/// Called from `on_fault` with the kernel's arguments; `prev` is the action
/// `sigaction` reported before ours was installed.
unsafe fn forward(
    sig: libc::c_int,
    info: *mut libc::siginfo_t,
    ctx: *mut libc::c_void,
    prev: &libc::sigaction,
) {
    let handler = prev.sa_sigaction;
    if handler == libc::SIG_DFL || handler == libc::SIG_IGN {
        // The fault is fatal: let the kernel's default action have it when
        // the instruction runs again.
        // SAFETY: restoring a saved disposition is async-signal-safe.
        unsafe { libc::sigaction(sig, prev, std::ptr::null_mut()) };
        return;
    }
    if prev.sa_flags & libc::SA_SIGINFO != 0 {
        // SAFETY: an SA_SIGINFO handler has this signature; it gets the
        // kernel's own arguments, as if it had been called directly.
        unsafe {
            let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                std::mem::transmute(handler);
            f(sig, info, ctx);
        }
    } else {
        // SAFETY: a plain handler takes the signal number only.
        unsafe {
            let f: extern "C" fn(libc::c_int) = std::mem::transmute(handler);
            f(sig);
        }
    }
}

/// Writes the report with no allocation (we are in a signal handler).
fn report_overflow(g: &super::GreenThread) {
    let mut buf = [0u8; 512];
    let mut w = Writer {
        buf: &mut buf,
        len: 0,
    };
    w.put(b"\ngreenrt: green thread ");
    w.num(g.id());
    if let Some(name) = g.name() {
        w.put(b" (");
        w.put(name.as_bytes());
        w.put(b")");
    }
    w.put(b" overflowed its ");
    let size = match g.own_stack_size.get() {
        0 => g.sched().stacks.stack_size(),
        own => own,
    };
    w.num(size as u64 / 1024);
    w.put(
        b" KiB stack. Raise it with greenrt::Runtime::builder().stack_size(bytes) \
          (every green thread) or greenrt::spawn_builder().stack_size(bytes) (one), \
          or move large buffers to the heap. Aborting.\n",
    );
    let len = w.len;
    // SAFETY: writing an initialised buffer to stderr is async-signal-safe.
    unsafe {
        libc::write(2, buf.as_ptr().cast(), len);
    }
}

struct Writer<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl Writer<'_> {
    fn put(&mut self, s: &[u8]) {
        let n = s.len().min(self.buf.len() - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&s[..n]);
        self.len += n;
    }

    fn num(&mut self, mut v: u64) {
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        self.put(&digits[i..]);
    }
}
