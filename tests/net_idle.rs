//! Idle connections cost no CPU: 1 000 open, silent connections (both ends
//! green threads parked in `read`) leave the runtime asleep in the poller.
//! Its own test binary, so nothing else runs in the process while it
//! measures.

mod common;
mod net_common;

use std::io::Read;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{process_cpu_time, runtime, Watchdog};
use greenrt::net::{TcpListener, TcpStream};
use greenrt::WaitReason;
use net_common::{raise_fd_limit, wait_parked, NET_PROCS};

const CONNS: usize = 1000;

#[test]
fn one_thousand_idle_connections_use_no_measurable_cpu() {
    raise_fd_limit(2 * CONNS as u64 + 256);
    for procs in NET_PROCS {
        let _w = Watchdog::new("idle connections", Duration::from_secs(60));
        let rt = runtime(procs);
        let ready = Arc::new(AtomicUsize::new(0));
        let r = ready.clone();
        let (server, clients) = rt.block_on(move || {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let r2 = r.clone();
            let server = greenrt::spawn(move || {
                (0..CONNS)
                    .map(|_| {
                        let (mut s, _) = listener.accept().unwrap();
                        r2.fetch_add(1, Ordering::SeqCst);
                        greenrt::spawn(move || s.read(&mut [0u8; 64]).map(|_| ()))
                    })
                    .collect::<Vec<_>>()
            });
            let clients: Vec<_> = (0..CONNS)
                .map(|_| {
                    let r = r.clone();
                    greenrt::spawn(move || {
                        let mut s = TcpStream::connect(addr).unwrap();
                        r.fetch_add(1, Ordering::SeqCst);
                        s.read(&mut [0u8; 64]).map(|_| ())
                    })
                })
                .collect();
            (server.join().unwrap(), clients)
        });
        // Every green thread is parked on its socket before we measure. (Only
        // then has every client counted itself: the server can accept a
        // connection before the connecting G has run again.)
        for h in server.iter().chain(clients.iter()) {
            wait_parked(h.thread(), WaitReason::NetRead);
        }
        assert_eq!(ready.load(Ordering::SeqCst), 2 * CONNS);
        let before = process_cpu_time();
        // The thing measured is time itself, so this waits a fixed window.
        std::thread::sleep(Duration::from_secs(1));
        let used = process_cpu_time() - before;
        eprintln!("procs = {procs}: {CONNS} idle connections used {used:?} of CPU in 1 s");
        assert!(
            used < Duration::from_millis(30),
            "procs = {procs}: {CONNS} idle connections burned {used:?} of CPU in 1 s"
        );
        // Shutdown cancels all 2 000 parked readers and closes the sockets.
        drop(rt);
        for h in server.into_iter().chain(clients) {
            assert!(h.join().is_err());
        }
    }
}
