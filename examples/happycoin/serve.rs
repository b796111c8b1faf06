//! `--serve`: mining beside an echo server in one process, and what the
//! mining does to the serving.
//!
//! The seeds' claim, made measurable: a busy event loop stops serving, green
//! threads with cooperative checkpoints keep serving, OS threads lean on the
//! kernel's scheduler. So one process runs one of examples/echo_server's
//! three designs (a [`Host`]: serve_green.rs, serve_event_loop.rs,
//! serve_thread.rs) and the internal client (serve_client.rs) measures it
//! twice with the same connections count, message size and duration:
//!
//! 1. **baseline** — the server alone, for `--serve-secs`;
//! 2. **mining** — the same while the miners run, from the moment they
//!    start until they finish or `--serve-secs` pass, whichever is first.
//!    The mining then runs to the end of its draws, so the coins and the
//!    count are the job's, exactly as without `--serve`.
//!
//! The difference between the two phases is the cost of mining to the
//! server's clients. Only the mining is timed for the summary line.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::mine::{Control, Mined};
use crate::modes::{gather, Outcome, Plan};
use crate::progress::Progress;
use crate::serve_client::{Figures, Notify, Phase};
use crate::serve_config::{ServeConfig, Server};

/// Where the echo server runs, and how mining shares the machine with it.
pub trait Host {
    /// What the client calls when a phase changes state: it must wake
    /// [`wait`](Self::wait). By default, unparks the calling thread.
    fn notifier(&self) -> Notify {
        let me = std::thread::current();
        Arc::new(move || me.unpark())
    }

    /// Returns once `until()` is true, serving meanwhile if serving needs
    /// this thread. By default, parks (the server has threads of its own).
    fn wait(&mut self, until: &dyn Fn() -> bool) -> io::Result<()> {
        while !until() {
            std::thread::park();
        }
        Ok(())
    }

    /// Mines the whole job while the server keeps serving; returns what
    /// the miners found.
    fn mine(&mut self, plan: &Plan, ctl: &Arc<Control>) -> io::Result<Vec<Mined>>;
}

/// What `--serve` measured, with the settings it ran under.
#[derive(Debug, Clone, Copy)]
pub struct ServeReport {
    pub config: ServeConfig,
    /// The address served (with the port the OS picked).
    pub addr: SocketAddr,
    /// Draws between two checkpoints of the green miners.
    pub checkpoint_every: u64,
    pub baseline: Figures,
    pub mining: Figures,
    /// Draws per second during the mining phase's window (the client's
    /// load included), unlike the summary line's whole-job rate.
    pub window_draws_per_s: f64,
}

impl ServeReport {
    /// True when every round trip came back intact.
    pub fn clean(&self) -> bool {
        [self.baseline, self.mining]
            .iter()
            .all(|f| f.errors == 0 && f.mismatches == 0)
    }
}

/// Serves echo on `cfg.addr`, measures it without and then with mining, and
/// mines `plan` (module docs).
pub fn run(
    plan: &Plan,
    cfg: &ServeConfig,
    ctl: Arc<Control>,
) -> io::Result<(Outcome, ServeReport)> {
    // greenrt's bind asks for the kernel's largest accept backlog (as
    // echo_server does); the event-loop and thread designs take it over.
    let listener = greenrt::net::TcpListener::bind(cfg.addr)?;
    let addr = listener.local_addr()?;
    let mut host: Box<dyn Host> = match cfg.server {
        Server::Green { time_slice } => Box::new(crate::serve_green::GreenHost::start(
            listener, plan, time_slice,
        )?),
        Server::EventLoop { chunk } => Box::new(crate::serve_event_loop::LoopHost::start(
            listener.into_std()?,
            chunk,
        )?),
        Server::Thread => Box::new(crate::serve_thread::ThreadHost::start(
            listener.into_std()?,
        )?),
    };

    let baseline = Phase::start(addr, cfg.conns, cfg.secs, host.notifier())?;
    host.wait(&|| baseline.ready())?;
    baseline.go();
    host.wait(&|| baseline.done())?;
    let baseline = baseline.join();

    let during = Phase::start(addr, cfg.conns, cfg.secs, host.notifier())?;
    host.wait(&|| during.ready())?;
    let progress = Progress::start(plan.draws, ctl.clone());
    let start = Instant::now();
    during.go();
    let window_draws = WindowDraws::start(ctl.clone(), cfg.secs);
    let mined = host.mine(plan, &ctl);
    let elapsed = start.elapsed();
    let window_draws_per_s = window_draws.per_sec(&ctl, elapsed);
    drop(progress);
    during.end();
    // The requests still in flight need the server (the event loop serves
    // only while it is turned).
    host.wait(&|| during.done())?;
    let mining = during.join();
    drop(host);

    let report = ServeReport {
        config: *cfg,
        addr,
        checkpoint_every: plan.mine.checkpoint_every,
        baseline,
        mining,
        window_draws_per_s,
    };
    Ok((gather(mined?, elapsed), report))
}

/// Counts the draws made in the first `secs` of mining, the mining phase's
/// window (when the mining outlasts it), from a thread that sleeps until
/// then, since the thread that started the mining is busy or blocked.
struct WindowDraws {
    /// Dropped when the mining ends, which wakes the thread early.
    mining: mpsc::Sender<()>,
    thread: JoinHandle<Option<u64>>,
    secs: Duration,
}

impl WindowDraws {
    fn start(ctl: Arc<Control>, secs: Duration) -> WindowDraws {
        let (mining, ended) = mpsc::channel::<()>();
        let thread = std::thread::spawn(move || match ended.recv_timeout(secs) {
            Err(RecvTimeoutError::Timeout) => Some(ctl.draws_done()),
            _ => None,
        });
        WindowDraws {
            mining,
            thread,
            secs,
        }
    }

    /// Draws per second over the window, once the mining has ended after
    /// `elapsed`.
    fn per_sec(self, ctl: &Control, elapsed: Duration) -> f64 {
        drop(self.mining);
        let (draws, secs) = match self.thread.join() {
            Ok(Some(draws)) => (draws, self.secs),
            _ => (ctl.draws_done(), elapsed),
        };
        draws as f64 / secs.as_secs_f64().max(1e-9)
    }
}

/// The machine-readable `serve ...` line; `-` for a knob the design lacks.
impl fmt::Display for ServeReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dash = || "-".to_string();
        let (slice, checkpoint, chunk) = match self.config.server {
            Server::Green { time_slice } => (
                format!("{}", time_slice.as_secs_f64() * 1e3),
                self.checkpoint_every.to_string(),
                dash(),
            ),
            Server::EventLoop { chunk } => (dash(), dash(), chunk.to_string()),
            Server::Thread => (dash(), dash(), dash()),
        };
        write!(
            f,
            "serve server_mode={} addr={} conns={} time_slice_ms={slice} \
             checkpoint_every={checkpoint} loop_chunk={chunk}",
            self.config.server, self.addr, self.config.conns,
        )?;
        for (phase, x) in [("baseline", &self.baseline), ("mining", &self.mining)] {
            write!(
                f,
                " {phase}_secs={:.3} {phase}_round_trips={} {phase}_rtt_per_s={:.1} \
                 {phase}_p50_us={:.1} {phase}_p99_us={:.1} {phase}_max_us={:.1} \
                 {phase}_errors={} {phase}_mismatches={}",
                x.secs,
                x.round_trips,
                x.rtt_per_s(),
                x.p50_us,
                x.p99_us,
                x.max_us,
                x.errors,
                x.mismatches,
            )?;
        }
        write!(f, " mining_draws_per_s={:.1}", self.window_draws_per_s)
    }
}
