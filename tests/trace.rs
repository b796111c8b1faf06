//! The scheduler trace (issue 17 item 6): the file is Chrome trace-event
//! JSON (`traceEvents`, `ph`, `ts` in µs, `pid`, `tid`, names) and holds
//! runs of green threads on every P, parks with their wait reasons,
//! unparks and syscalls; its rings are bounded.

mod common;

use std::time::Duration;

use common::Watchdog;
use serde_json::Value;

fn temp_path(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("greenrt-{}-{name}.json", std::process::id()))
}

/// Work that parks, unparks, yields and makes syscalls, spread over Ps.
fn workload(rt: &greenrt::Runtime, procs: usize) {
    rt.block_on(move || {
        let (tx, rx) = greenrt::sync::bounded::<u32>(0);
        let consumer = greenrt::spawn_named("consumer", move || rx.iter().sum::<u32>());
        let producers: Vec<_> = (0..4 * procs as u32)
            .map(|i| {
                let tx = tx.clone();
                greenrt::spawn(move || {
                    for _ in 0..20 {
                        greenrt::yield_now();
                    }
                    greenrt::syscall(|| std::thread::sleep(Duration::from_micros(200)));
                    tx.send(i).unwrap();
                })
            })
            .collect();
        drop(tx);
        producers.into_iter().for_each(|h| h.join().unwrap());
        consumer.join().unwrap()
    });
}

fn parse(path: &std::path::Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON: {e}\n{text}"))
}

/// tids of the P tracks, from the metadata events.
fn p_tids(events: &[Value], procs: usize) -> Vec<u64> {
    (0..procs)
        .map(|p| {
            events
                .iter()
                .find(|e| e["ph"] == "M" && e["args"]["name"] == format!("P{p}"))
                .unwrap_or_else(|| panic!("no track for P{p}"))["tid"]
                .as_u64()
                .unwrap()
        })
        .collect()
}

fn trace_has_every_p(procs: usize) {
    let _w = Watchdog::new("trace_has_every_p", Duration::from_secs(60));
    let path = temp_path(&format!("every-p-{procs}"));
    let rt = greenrt::Runtime::builder()
        .procs(procs)
        .trace(&path)
        .build()
        .unwrap();
    // Repeat the work until every P has run a green thread (the OS decides
    // when each M gets a core; the watchdog bounds the wait).
    let events = loop {
        workload(&rt, procs);
        rt.flush_trace().unwrap();
        let json = parse(&path);
        let events = json["traceEvents"].as_array().unwrap().clone();
        let tids = p_tids(&events, procs);
        let every_p = tids
            .iter()
            .all(|t| events.iter().any(|e| e["ph"] == "X" && e["tid"] == *t));
        if every_p {
            assert!(json["otherData"]["dropped_events"].is_u64(), "{json}");
            break events;
        }
    };
    for e in &events {
        assert!(e["name"].is_string(), "{e}");
        assert!(e["ph"].is_string(), "{e}");
        assert_eq!(e["pid"], 1, "{e}");
        assert!(e["tid"].is_u64(), "{e}");
        if e["ph"] != "M" {
            assert!(e["ts"].as_f64().unwrap() >= 0.0, "{e}");
        }
        if e["ph"] == "X" {
            assert!(e["dur"].as_f64().unwrap() >= 0.0, "{e}");
        }
    }
    let named =
        |pred: &dyn Fn(&str) -> bool| events.iter().any(|e| e["name"].as_str().is_some_and(pred));
    assert!(named(&|n| n.starts_with("G") && n.ends_with(" consumer")));
    assert!(named(&|n| n == "park ChanRecv" || n == "park ChanSend"));
    assert!(named(&|n| n == "park Join"));
    assert!(named(&|n| n.starts_with("unpark G")));
    assert!(named(&|n| n.starts_with("syscall G")));
    assert!(events
        .iter()
        .any(|e| e["ph"] == "X" && e["args"]["end"] == "yield"));
    // ts is in µs: runs are far shorter than a second.
    let longest = events
        .iter()
        .filter(|e| e["ph"] == "X" && e["cat"] == "g")
        .map(|e| e["dur"].as_f64().unwrap())
        .fold(0.0, f64::max);
    assert!(longest < 1e6, "a run of {longest} µs: not µs?");
    drop(rt);
    // Dropping the runtime writes the file once more.
    let _ = parse(&path);
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn trace_has_every_p_procs_1() {
    trace_has_every_p(1);
}

#[test]
fn trace_has_every_p_procs_2() {
    trace_has_every_p(2);
}

#[test]
fn trace_has_every_p_procs_4() {
    trace_has_every_p(4);
}

#[test]
fn trace_rings_are_bounded() {
    let path = temp_path("bounded");
    let rt = greenrt::Runtime::builder()
        .procs(2)
        .trace(&path)
        .trace_buffer(64)
        .build()
        .unwrap();
    workload(&rt, 2);
    drop(rt);
    let json = parse(&path);
    assert!(
        json["otherData"]["dropped_events"].as_u64().unwrap() > 0,
        "nothing dropped with 64-event rings"
    );
    let events = json["traceEvents"].as_array().unwrap();
    let threads = events
        .iter()
        .filter(|e| e["ph"] == "M" && e["name"] == "thread_name")
        .count();
    // At most 64 events per thread, each giving at most two trace events,
    // plus metadata.
    assert!(events.len() <= threads * 64 * 2 + 4 * threads + 4);
    std::fs::remove_file(&path).unwrap();
}
