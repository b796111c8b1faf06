//! `--server-mode green`: the echo server and the miners on ONE greenrt
//! runtime, sharing its `--procs` processors.
//!
//! The echo servers' green accept loop (examples/common/serve) and its green thread per connection
//! run beside the N mining green threads (`--mode green`, or the pool). With
//! as many miners as processors, every processor is busy mining, and the
//! server is served by the scheduler alone: each miner calls
//! `greenrt::coop::checkpoint()` every 1 024 draws (~85 µs); sysmon asks a
//! green thread that has run for one time slice to yield at its next
//! checkpoint, and polls the network itself when nobody has for one slice.
//! So a request waits at most about two slices, which is why `--serve`
//! shortens the slice from greenrt's 10 ms to 1 ms (serve_config.rs).
//!
//! The runtime is driven from the main OS thread, which only waits: the
//! client's and the runtime's threads do the work.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use greenrt::net::TcpListener;

use crate::echo::green;
use crate::mine::{Control, Mined};
use crate::modes::{self, Mode, Plan};
use crate::pool;
use crate::serve::Host;

pub struct GreenHost {
    /// Dropping it cancels the accept loop and any connection still open.
    rt: greenrt::Runtime,
}

impl GreenHost {
    /// Builds the runtime the miners will use and starts serving on it.
    pub fn start(listener: TcpListener, plan: &Plan, time_slice: Duration) -> io::Result<Self> {
        let rt = modes::runtime_builder(plan)
            .time_slice(time_slice)
            .build()?;
        // Detached: it runs until the runtime goes.
        drop(rt.spawn(move || green::accept_loop(listener)));
        Ok(GreenHost { rt })
    }
}

impl Host for GreenHost {
    fn mine(&mut self, plan: &Plan, ctl: &Arc<Control>) -> io::Result<Vec<Mined>> {
        let (plan, ctl) = (*plan, ctl.clone());
        let miners = self.rt.spawn(move || match plan.mode {
            Mode::Pool => pool::mine_pool(&plan, &ctl),
            _ => modes::mine_green(&plan, &ctl),
        });
        // Blocks this OS thread, which holds no processor.
        miners
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p))
    }
}
