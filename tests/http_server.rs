//! examples/http_server's connection loop (included from the example with
//! `#[path]`), driven over loopback: pipelining answered in order, 400 /
//! 413 / 431 / 501 then close, clients that vanish mid-request, a client
//! that never reads its answers, static files, and 1 000 concurrent
//! keep-alive connections. Every test is
//! bounded by a watchdog.

mod common;
mod net_common;

#[path = "../examples/http_server/http/mod.rs"]
mod http;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{rt_test, runtime, stress, Watchdog};
use net_common::{raise_fd_limit, Latch};

/// A server on its own runtime; dropping it closes the listener and the
/// runtime.
struct Running {
    addr: SocketAddr,
    server: Arc<http::Server>,
    closer: greenrt::net::TcpListener,
    _rt: greenrt::Runtime,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.closer.close();
    }
}

fn start(procs: usize, root: Option<std::path::PathBuf>) -> Running {
    let rt = runtime(procs);
    let listener = greenrt::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let closer = listener.try_clone().unwrap();
    let server = http::Server::new(root);
    let s = server.clone();
    drop(rt.spawn(move || http::accept_loop(listener, s)));
    Running {
        addr,
        server,
        closer,
        _rt: rt,
    }
}

/// One parsed response.
#[derive(Debug)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Reads responses from a stream, keeping bytes past the last one.
struct Client<S> {
    stream: S,
    buf: Vec<u8>,
}

impl<S: Read + Write> Client<S> {
    fn new(stream: S) -> Self {
        Client {
            stream,
            buf: Vec::new(),
        }
    }

    /// Reads one response (`head_only`: a reply to HEAD has no body).
    fn reply(&mut self, head_only: bool) -> Reply {
        loop {
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut rsp = httparse::Response::new(&mut headers);
            if let httparse::Status::Complete(n) = rsp.parse(&self.buf).expect("valid response") {
                let headers: Vec<(String, String)> = rsp
                    .headers
                    .iter()
                    .map(|h| {
                        (
                            h.name.to_string(),
                            String::from_utf8(h.value.to_vec()).unwrap(),
                        )
                    })
                    .collect();
                let status = rsp.code.unwrap();
                let len: usize = headers
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                    .map(|(_, v)| v.parse().unwrap())
                    .expect("every response has a Content-Length");
                let len = if head_only { 0 } else { len };
                if self.buf.len() >= n + len {
                    let body = self.buf[n..n + len].to_vec();
                    self.buf.drain(..n + len);
                    return Reply {
                        status,
                        headers,
                        body,
                    };
                }
            }
            let mut chunk = [0u8; 8192];
            let k = self.stream.read(&mut chunk).expect("read a response");
            assert!(k > 0, "EOF inside a response; have {:?}", self.buf);
            self.buf.extend_from_slice(&chunk[..k]);
        }
    }

    /// Asserts the server closed the connection (EOF, no more bytes).
    fn expect_eof(&mut self) {
        assert!(self.buf.is_empty(), "bytes after the last response");
        let mut rest = Vec::new();
        self.stream
            .read_to_end(&mut rest)
            .expect("EOF, not an error");
        assert!(rest.is_empty(), "bytes after the last response: {rest:?}");
    }
}

fn os_client(addr: SocketAddr) -> Client<TcpStream> {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    Client::new(s)
}

rt_test!(pipelined_requests_are_answered_in_order);
fn pipelined_requests_are_answered_in_order(procs: usize) {
    let _w = Watchdog::new("pipelining", Duration::from_secs(60));
    let srv = start(procs, None);
    let mut c = os_client(srv.addr);
    let routes = ["/plaintext", "/json", "/nope", "/plaintext?x=1"];
    let mut batch = Vec::new();
    for i in 0..16 {
        let path = routes[i % routes.len()];
        batch.extend_from_slice(format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
    }
    // A body the route ignores, and a HEAD: both answered in turn.
    batch.extend_from_slice(
        b"POST /plaintext HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello",
    );
    batch.extend_from_slice(b"HEAD /plaintext HTTP/1.1\r\nHost: t\r\n\r\n");
    // Split mid-request: the rest arrives in a second write.
    let (a, b) = batch.split_at(batch.len() / 2 + 3);
    c.stream.write_all(a).unwrap();
    c.stream.write_all(b).unwrap();
    for i in 0..16 {
        let r = c.reply(false);
        match routes[i % routes.len()] {
            "/nope" => assert_eq!(r.status, 404, "request {i}"),
            "/json" => {
                assert_eq!(r.status, 200);
                assert_eq!(r.body, br#"{"message":"Hello, World!"}"#);
                assert_eq!(r.header("content-type"), Some("application/json"));
            }
            _ => {
                assert_eq!(r.status, 200, "request {i}");
                assert_eq!(r.body, b"Hello, World!");
            }
        }
        assert_eq!(r.header("date").map(str::len), Some(29), "IMF-fixdate");
        assert_eq!(r.header("connection"), None, "keep-alive");
    }
    assert_eq!(c.reply(false).status, 405, "POST");
    let head = c.reply(true);
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), Some("13"));
    // Still open: one more request on the same connection.
    c.stream
        .write_all(b"GET /plaintext HTTP/1.1\r\nConnection: close\r\n\r\n")
        .unwrap();
    let last = c.reply(false);
    assert_eq!(last.header("connection"), Some("close"));
    c.expect_eof();
    assert_eq!(
        srv.server
            .requests
            .load(std::sync::atomic::Ordering::Relaxed),
        19
    );
}

rt_test!(bad_requests_get_an_error_and_the_connection_closes);
fn bad_requests_get_an_error_and_the_connection_closes(procs: usize) {
    let _w = Watchdog::new("bad requests", Duration::from_secs(60));
    let srv = start(procs, None);
    let big_header = format!(
        "GET /plaintext HTTP/1.1\r\nX-Big: {}\r\n\r\n",
        "a".repeat(http::MAX_HEAD)
    );
    let many_headers = format!(
        "GET /plaintext HTTP/1.1\r\n{}\r\n",
        (0..100)
            .map(|i| format!("X-{i}: v\r\n"))
            .collect::<String>()
    );
    let big_body = format!(
        "POST /plaintext HTTP/1.1\r\nContent-Length: {}\r\n\r\n",
        http::MAX_BODY + 1
    );
    let cases: [(&[u8], u16); 7] = [
        (b"GARBAGE\r\n\r\n", 400),
        (b"GET /plaintext HTTP/9.9\r\n\r\n", 400),
        (b"GET /plaintext HTTP/1.1\r\nContent-Length: x\r\n\r\n", 400),
        (big_header.as_bytes(), 431),
        (many_headers.as_bytes(), 431),
        (big_body.as_bytes(), 413),
        (
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            501,
        ),
    ];
    for (request, status) in cases {
        let mut c = os_client(srv.addr);
        // A good request first: the bad one ends a working connection.
        c.stream
            .write_all(b"GET /plaintext HTTP/1.1\r\n\r\n")
            .unwrap();
        c.stream.write_all(request).unwrap();
        assert_eq!(c.reply(false).status, 200);
        let r = c.reply(false);
        assert_eq!(
            r.status,
            status,
            "{:?}",
            String::from_utf8_lossy(&request[..20])
        );
        assert_eq!(r.header("connection"), Some("close"));
        c.expect_eof();
    }
    // HTTP/1.0 closes after one answer unless asked to keep alive.
    let mut c = os_client(srv.addr);
    c.stream
        .write_all(b"GET /plaintext HTTP/1.0\r\n\r\n")
        .unwrap();
    assert_eq!(c.reply(false).status, 200);
    c.expect_eof();
}

/// Waits (bounded) until `cond` holds, polling.
fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < Duration::from_secs(20), "never: {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

rt_test!(a_client_that_vanishes_mid_request_leaves_nothing_behind);
fn a_client_that_vanishes_mid_request_leaves_nothing_behind(procs: usize) {
    let _w = Watchdog::new("vanishing clients", Duration::from_secs(60));
    let srv = start(procs, None);
    let n = stress(20);
    let clients: Vec<_> = (0..n)
        .map(|i| {
            let mut s = TcpStream::connect(srv.addr).unwrap();
            let req = b"POST /plaintext HTTP/1.1\r\nContent-Length: 10\r\n\r\nhalf";
            // Half a head for some, half a body for others.
            s.write_all(&req[..if i % 2 == 0 { 20 } else { req.len() }])
                .unwrap();
            s
        })
        .collect();
    eventually("every connection is being served", || {
        srv.server.live_connections() == n
    });
    drop(clients);
    eventually("every connection's green thread ended", || {
        srv.server.live_connections() == 0
    });
    assert_eq!(
        srv.server
            .requests
            .load(std::sync::atomic::Ordering::Relaxed),
        0
    );
}

rt_test!(a_client_that_never_reads_holds_up_only_itself);
/// A client pipelines requests and never reads the answers. Once its
/// socket's buffers are full, its green thread waits in its write and stops
/// reading, so the server holds a bounded amount for it (one read's worth
/// of requests and their answers) instead of reading and answering without
/// end; the other clients are answered meanwhile, and when the client goes
/// away its green thread ends.
fn a_client_that_never_reads_holds_up_only_itself(procs: usize) {
    use std::os::fd::AsRawFd;
    let _w = Watchdog::new("a client that never reads", Duration::from_secs(60));
    let srv = start(procs, None);
    let mut hog = TcpStream::connect(srv.addr).unwrap();
    // A small receive buffer (no autotuning) fills fast.
    let rcvbuf: libc::c_int = 64 * 1024;
    // SAFETY: a live socket fd and a c_int option value of the given size.
    let rc = unsafe {
        libc::setsockopt(
            hog.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            (&rcvbuf as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "setsockopt: {}", std::io::Error::last_os_error());
    hog.set_write_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let batch = b"GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n".repeat(1000);
    // Far more than the buffers of both sockets hold (megabytes), far less
    // than a server that never stops reading would take in.
    const BOUND: usize = 256 << 20;
    let mut sent = 0usize;
    loop {
        match hog.write(&batch) {
            Ok(n) => sent += n,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                break
            }
            Err(e) => panic!("writing requests: {e}"),
        }
        assert!(
            sent < BOUND,
            "the server read {sent} bytes of requests whose answers nobody reads"
        );
    }
    let answered = srv
        .server
        .requests
        .load(std::sync::atomic::Ordering::Relaxed);
    assert!(answered > 0, "some of the requests were answered");
    // Another client is served as usual meanwhile.
    let mut other = os_client(srv.addr);
    other
        .stream
        .write_all(b"GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let reply = other.reply(false);
    assert_eq!(
        (reply.status, &reply.body[..]),
        (200, &b"Hello, World!"[..])
    );
    eventually("both connections are being served", || {
        srv.server.live_connections() == 2
    });
    // Going away with answers unread resets the connection: the waiting
    // write fails and the green thread ends.
    drop(hog);
    eventually("the never-reading connection's green thread ended", || {
        srv.server.live_connections() == 1
    });
    drop(other);
    eventually("every connection's green thread ended", || {
        srv.server.live_connections() == 0
    });
}

rt_test!(static_files_under_root);
fn static_files_under_root(procs: usize) {
    let _w = Watchdog::new("static files", Duration::from_secs(60));
    let root = std::env::temp_dir().join(format!("greenrt-http-{}-{procs}", std::process::id()));
    std::fs::create_dir_all(root.join("sub")).unwrap();
    std::fs::write(root.join("index.html"), b"<h1>home</h1>").unwrap();
    std::fs::write(root.join("sub/a.txt"), b"file a").unwrap();
    let srv = start(procs, Some(root.clone()));
    let mut c = os_client(srv.addr);
    let cases: [(&str, u16, &[u8]); 5] = [
        ("/", 200, b"<h1>home</h1>"),
        ("/sub/a.txt", 200, b"file a"),
        ("/sub/missing", 404, b"not found\n"),
        ("/../etc/passwd", 404, b"not found\n"),
        ("/plaintext", 200, b"Hello, World!"),
    ];
    for (path, status, body) in cases {
        c.stream
            .write_all(format!("GET {path} HTTP/1.1\r\n\r\n").as_bytes())
            .unwrap();
        let r = c.reply(false);
        assert_eq!((r.status, r.body.as_slice()), (status, body), "{path}");
    }
    drop(srv);
    let _ = std::fs::remove_dir_all(&root);
}

rt_test!(a_thousand_concurrent_keep_alive_connections_are_all_answered);
fn a_thousand_concurrent_keep_alive_connections_are_all_answered(procs: usize) {
    let _w = Watchdog::new("1000 keep-alive connections", Duration::from_secs(120));
    const CONNS: usize = 1000;
    // Both ends of every connection live in this process.
    assert!(raise_fd_limit(2 * CONNS as u64 + 100) >= 2 * CONNS as u64 + 100);
    let srv = start(procs, None);
    let addr = srv.addr;
    let clients = runtime(2);
    let answered = clients.block_on(move || {
        let latch = Arc::new(Latch::new(CONNS));
        let handles: Vec<_> = (0..CONNS)
            .map(|i| {
                let latch = latch.clone();
                greenrt::spawn(move || {
                    let mut c = Client::new(greenrt::net::TcpStream::connect(addr).unwrap());
                    let mut answered = 0;
                    for round in 0..2 {
                        let path = if (i + round) % 2 == 0 {
                            "/plaintext"
                        } else {
                            "/json"
                        };
                        c.stream
                            .write_all(format!("GET {path} HTTP/1.1\r\n\r\n").as_bytes())
                            .unwrap();
                        let r = c.reply(false);
                        assert_eq!(r.status, 200);
                        answered += 1;
                        if round == 0 {
                            // All 1 000 are open at once before anyone goes on.
                            latch.arrive_and_wait();
                        }
                    }
                    answered
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .sum::<usize>()
    });
    assert_eq!(answered, 2 * CONNS);
    assert_eq!(
        srv.server
            .accepted
            .load(std::sync::atomic::Ordering::Relaxed),
        CONNS as u64
    );
}
