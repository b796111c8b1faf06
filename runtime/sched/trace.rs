//! The scheduler trace (`GREENRT_TRACE=path.json`, `Builder::trace`):
//! scheduler events recorded into bounded per-thread rings and written as
//! Chrome trace-event JSON, which Perfetto's UI and `chrome://tracing` open.
//!
//! # Recording
//! Each OS thread that records (every M, sysmon, a plain thread that wakes
//! a G) gets its own ring on its first event, so recording takes a lock
//! nobody else wants except a writer flushing the file. A ring holds a
//! fixed number of events; when it is full the oldest is overwritten and
//! counted as dropped (the count is written into the file). When tracing is
//! off, each recording site costs the test of `Scheduler::tracer` (`None`).
//!
//! # Events
//! G start/stop on a P (the stop says why: yield, preemption, park with its
//! wait reason, return, syscall), unpark, steal, syscall enter/exit and
//! sysmon's retake of a P, and netpoll results.
//!
//! # The file
//! One process (`pid` 1). One track per P (`tid` = P index + 1), where each
//! run of a G is a complete event (`ph: "X"`) and parks and steals are
//! instants; one track per thread that was in a syscall (its span, also
//! `X`); one track per other thread, for the instants it recorded
//! (unparks from outside the runtime, sysmon's retakes, netpoll). `ts` and
//! `dur` are µs since the runtime was built. Written on `Runtime` drop and
//! on `Runtime::flush_trace` (which keeps the events, so the final file
//! holds everything still in the rings).

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;

use super::wait_reason::WaitReason;

/// Default events kept per thread.
pub(crate) const DEFAULT_RING_EVENTS: usize = 1 << 16;

/// No P (the event happened on a thread that holds none).
pub(crate) const NO_P: u32 = u32::MAX;

/// Why a run of a G ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RunEnd {
    Yield,
    Preempted,
    Park(WaitReason),
    Return,
    /// Back from a syscall without a P: queued globally.
    NeedsP,
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Start,
    Stop(RunEnd),
    Unpark,
    Steal,
    SyscallEnter,
    /// `p`: the P the G continues on (`NO_P`: none free).
    SyscallExit,
    /// sysmon took P `p` from a syscall.
    Retake,
    /// A poll that made `g` (a count here) Gs runnable.
    Netpoll,
}

#[derive(Debug, Clone, Copy)]
struct Event {
    ns: u64,
    kind: Kind,
    g: u64,
    p: u32,
}

struct Ring {
    /// Order of first use, for stable track ids.
    seq: usize,
    thread: String,
    inner: Mutex<RingInner>,
}

struct RingInner {
    events: Vec<Event>,
    /// Next slot to overwrite once `events` is full.
    next: usize,
    dropped: u64,
}

/// One runtime's trace.
pub(crate) struct Tracer {
    id: usize,
    path: PathBuf,
    epoch: Instant,
    capacity: usize,
    rings: Mutex<Vec<Arc<Ring>>>,
    names: Mutex<HashMap<u64, Box<str>>>,
}

static NEXT_TRACER: AtomicUsize = AtomicUsize::new(1);

thread_local! {
    /// This thread's ring of the tracer it last recorded for.
    static LOCAL: RefCell<Option<(usize, Arc<Ring>)>> = const { RefCell::new(None) };
}

impl Tracer {
    pub(crate) fn new(path: PathBuf, capacity: usize) -> Self {
        Tracer {
            id: NEXT_TRACER.fetch_add(1, Ordering::Relaxed),
            path,
            epoch: Instant::now(),
            capacity: capacity.max(1),
            rings: Mutex::new(Vec::new()),
            names: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn g_start(&self, p: usize, g: u64) {
        self.record(Kind::Start, g, p as u32);
    }

    pub(crate) fn g_stop(&self, p: u32, g: u64, end: RunEnd) {
        self.record(Kind::Stop(end), g, p);
    }

    /// `p`: the waker's P, or `NO_P`.
    pub(crate) fn unpark(&self, p: u32, g: u64) {
        self.record(Kind::Unpark, g, p);
    }

    pub(crate) fn steal(&self, p: usize, g: u64) {
        self.record(Kind::Steal, g, p as u32);
    }

    pub(crate) fn syscall_enter(&self, p: usize, g: u64) {
        self.record(Kind::SyscallEnter, g, p as u32);
    }

    pub(crate) fn syscall_exit(&self, p: u32, g: u64) {
        self.record(Kind::SyscallExit, g, p);
    }

    pub(crate) fn retake(&self, p: usize) {
        self.record(Kind::Retake, 0, p as u32);
    }

    pub(crate) fn netpoll(&self, ready: usize) {
        self.record(Kind::Netpoll, ready as u64, NO_P);
    }

    /// Remembers a named G's name for the file (once per G).
    pub(crate) fn name(&self, g: u64, name: &str) {
        self.names.lock().insert(g, name.into());
    }

    /// Appends one event to this thread's ring (made on first use).
    /// Out of line: the thread-local lookup must not be cached across a
    /// switch (invariant 5, no cached identity), and the callers' off path
    /// stays one test.
    #[inline(never)]
    fn record(&self, kind: Kind, g: u64, p: u32) {
        let ns = self.epoch.elapsed().as_nanos() as u64;
        let event = Event { ns, kind, g, p };
        let _ = LOCAL.try_with(|local| {
            let mut local = local.borrow_mut();
            let ring = match &*local {
                Some((id, ring)) if *id == self.id => ring.clone(),
                _ => {
                    let ring = self.new_ring();
                    *local = Some((self.id, ring.clone()));
                    ring
                }
            };
            drop(local);
            let mut r = ring.inner.lock();
            if r.events.len() < self.capacity {
                r.events.push(event);
            } else {
                let i = r.next;
                r.events[i] = event;
                r.next = (i + 1) % self.capacity;
                r.dropped += 1;
            }
        });
    }

    fn new_ring(&self) -> Arc<Ring> {
        let mut rings = self.rings.lock();
        let ring = Arc::new(Ring {
            seq: rings.len(),
            thread: std::thread::current()
                .name()
                .unwrap_or("thread")
                .to_string(),
            inner: Mutex::new(RingInner {
                events: Vec::new(),
                next: 0,
                dropped: 0,
            }),
        });
        rings.push(ring.clone());
        ring
    }

    /// Writes the trace file (everything still in the rings).
    pub(crate) fn write(&self, procs: usize) -> io::Result<()> {
        let json = self.to_json(procs);
        std::fs::write(&self.path, json)
    }

    fn to_json(&self, procs: usize) -> String {
        let rings: Vec<Arc<Ring>> = self.rings.lock().clone();
        let names = self.names.lock().clone();
        let mut out = Json::default();
        out.meta("process_name", 0, "greenrt");
        for p in 0..procs {
            out.meta("thread_name", p_tid(p as u32), &format!("P{p}"));
            out.sort_index(p_tid(p as u32), p);
        }
        let mut dropped = 0;
        for ring in &rings {
            let (events, d) = {
                let r = ring.inner.lock();
                let mut ev = r.events[r.next..].to_vec();
                ev.extend_from_slice(&r.events[..r.next]);
                (ev, r.dropped)
            };
            dropped += d;
            out.meta("thread_name", thread_tid(ring.seq), &ring.thread);
            out.sort_index(thread_tid(ring.seq), 100_000 + ring.seq);
            out.meta(
                "thread_name",
                syscall_tid(ring.seq),
                &format!("{} syscall", ring.thread),
            );
            out.sort_index(syscall_tid(ring.seq), 200_000 + ring.seq);
            ring_events(&mut out, ring.seq, &events, &names);
        }
        out.finish(dropped)
    }
}

fn p_tid(p: u32) -> u64 {
    u64::from(p) + 1
}

fn thread_tid(seq: usize) -> u64 {
    10_000 + seq as u64
}

fn syscall_tid(seq: usize) -> u64 {
    20_000 + seq as u64
}

fn g_label(g: u64, names: &HashMap<u64, Box<str>>) -> String {
    match names.get(&g) {
        Some(n) => format!("G{g} {n}"),
        None => format!("G{g}"),
    }
}

/// One thread's events, in order, as trace events: runs and syscalls are
/// paired into complete events (an end whose start was overwritten is left
/// out), the rest are instants.
fn ring_events(out: &mut Json, seq: usize, events: &[Event], names: &HashMap<u64, Box<str>>) {
    // The open run (start ns, G, P) and the open syscall (start ns, G).
    let mut run: Option<(u64, u64, u32)> = None;
    let mut syscall: Option<(u64, u64)> = None;
    let instant_tid = |p: u32| {
        if p == NO_P {
            thread_tid(seq)
        } else {
            p_tid(p)
        }
    };
    for e in events {
        match e.kind {
            Kind::Start => run = Some((e.ns, e.g, e.p)),
            Kind::Stop(end) => {
                if let Some((start, g, p)) = run.take() {
                    if g == e.g {
                        let why = match end {
                            RunEnd::Yield => "yield".to_string(),
                            RunEnd::Preempted => "preempted".to_string(),
                            RunEnd::Park(r) => format!("park ({r:?})"),
                            RunEnd::Return => "return".to_string(),
                            RunEnd::NeedsP => "no P after syscall".to_string(),
                        };
                        out.complete(&g_label(g, names), p_tid(p), start, e.ns, g, &why);
                        if let RunEnd::Park(r) = end {
                            out.instant(&format!("park {r:?}"), p_tid(p), e.ns, g);
                        }
                    }
                }
            }
            Kind::SyscallEnter => {
                // The P goes into its syscall slot and may run other Gs:
                // the run ends here on its track, the syscall's own span
                // goes on this thread's syscall track.
                if let Some((start, g, p)) = run.take() {
                    out.complete(&g_label(g, names), p_tid(p), start, e.ns, g, "syscall");
                }
                syscall = Some((e.ns, e.g));
            }
            Kind::SyscallExit => {
                if let Some((start, g)) = syscall.take() {
                    let label = format!("syscall {}", g_label(g, names));
                    let back = if e.p == NO_P {
                        "no P free".to_string()
                    } else {
                        format!("continues on P{}", e.p)
                    };
                    out.complete(&label, syscall_tid(seq), start, e.ns, g, &back);
                }
                if e.p != NO_P {
                    run = Some((e.ns, e.g, e.p));
                }
            }
            Kind::Unpark => out.instant(
                &format!("unpark {}", g_label(e.g, names)),
                instant_tid(e.p),
                e.ns,
                e.g,
            ),
            Kind::Steal => out.instant(
                &format!("steal {}", g_label(e.g, names)),
                p_tid(e.p),
                e.ns,
                e.g,
            ),
            Kind::Retake => out.instant(&format!("retake P{}", e.p), thread_tid(seq), e.ns, 0),
            Kind::Netpoll => {
                out.instant(&format!("netpoll: {} ready", e.g), thread_tid(seq), e.ns, 0)
            }
        }
    }
}

/// A trace-event JSON writer (no serde in the library).
#[derive(Default)]
struct Json {
    body: String,
}

impl Json {
    fn sep(&mut self) {
        if !self.body.is_empty() {
            self.body.push_str(",\n");
        }
    }

    fn meta(&mut self, what: &str, tid: u64, name: &str) {
        self.sep();
        let _ = write!(
            self.body,
            r#"{{"name":"{what}","ph":"M","pid":1,"tid":{tid},"args":{{"name":{}}}}}"#,
            quote(name)
        );
    }

    fn sort_index(&mut self, tid: u64, index: usize) {
        self.sep();
        let _ = write!(
            self.body,
            r#"{{"name":"thread_sort_index","ph":"M","pid":1,"tid":{tid},"args":{{"sort_index":{index}}}}}"#
        );
    }

    fn complete(&mut self, name: &str, tid: u64, start_ns: u64, end_ns: u64, g: u64, end: &str) {
        self.sep();
        let _ = write!(
            self.body,
            r#"{{"name":{},"cat":"g","ph":"X","ts":{},"dur":{},"pid":1,"tid":{tid},"args":{{"g":{g},"end":{}}}}}"#,
            quote(name),
            us(start_ns),
            us(end_ns.saturating_sub(start_ns)),
            quote(end)
        );
    }

    fn instant(&mut self, name: &str, tid: u64, ns: u64, g: u64) {
        self.sep();
        let _ = write!(
            self.body,
            r#"{{"name":{},"cat":"sched","ph":"i","s":"t","ts":{},"pid":1,"tid":{tid},"args":{{"g":{g}}}}}"#,
            quote(name),
            us(ns)
        );
    }

    fn finish(self, dropped: u64) -> String {
        format!(
            "{{\"traceEvents\":[\n{}\n],\n\"displayTimeUnit\":\"ns\",\n\"otherData\":{{\"dropped_events\":{dropped}}}}}\n",
            self.body
        )
    }
}

/// Nanoseconds as µs with three decimals (the format's unit).
fn us(ns: u64) -> String {
    format!("{}.{:03}", ns / 1000, ns % 1000)
}

/// A JSON string literal.
fn quote(s: &str) -> String {
    let mut q = String::with_capacity(s.len() + 2);
    q.push('"');
    for c in s.chars() {
        match c {
            '"' => q.push_str("\\\""),
            '\\' => q.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(q, "\\u{:04x}", c as u32);
            }
            c => q.push(c),
        }
    }
    q.push('"');
    q
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped() {
        assert_eq!(quote("a\"b\\c\n"), r#""a\"b\\c\u000a""#);
    }

    #[test]
    fn a_full_ring_keeps_the_newest_and_counts_the_rest() {
        let t = Tracer::new(PathBuf::from("/dev/null"), 4);
        for g in 1..=10 {
            t.unpark(NO_P, g);
        }
        let json = t.to_json(1);
        assert!(json.contains("\"dropped_events\":6"), "{json}");
        assert!(!json.contains("unpark G6\""), "{json}");
        for g in 7..=10 {
            assert!(json.contains(&format!("unpark G{g}\"")), "{json}");
        }
    }
}
