//! A small HTTP/1.1 server on green threads: the connection loop, shared by
//! examples/http_server and tests/http_server.rs (which includes this
//! folder with `#[path]`).
//!
//! One green thread per connection runs plain blocking code: read what the
//! client sent, answer every complete request in the buffer, write all the
//! answers in one `write_all`, repeat. That is keep-alive and pipelining
//! with no state machine: a client that pipelines 16 requests gets 16
//! responses in one write (one syscall instead of 16), and a client that
//! stalls or vanishes parks or ends only its own green thread.
//!
//! Requests are parsed with `httparse` (hyper's parser). Bodies must have a
//! `Content-Length` (a `Transfer-Encoding` gets 501); a head over
//! [`MAX_HEAD`] bytes gets 431 and a body over [`MAX_BODY`] 413; anything
//! httparse rejects gets 400. Each of those closes the connection after
//! the response, since the rest of the byte stream cannot be trusted.

mod date;
mod response;
mod routes;

use std::io::{self, Read, Write};
use std::mem::MaybeUninit;
use std::net::Shutdown;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use greenrt::net::{TcpListener, TcpStream};

use response::{error, Status};
use routes::{route, Request};

/// The largest request head (request line and headers) accepted.
pub const MAX_HEAD: usize = 8 * 1024;
/// The largest request body accepted.
pub const MAX_BODY: usize = 1024 * 1024;
/// Headers per request httparse may return (more: 431).
const MAX_HEADERS: usize = 64;
/// A connection's first read buffer; it grows only for big requests.
const FIRST_BUF: usize = 4096;

/// What the server serves, and its counters.
#[derive(Debug, Default)]
pub struct Server {
    /// `--root`: serve files under this directory for other paths.
    pub root: Option<PathBuf>,
    /// Connections whose green thread is still running.
    pub live: AtomicUsize,
    pub accepted: AtomicU64,
    pub requests: AtomicU64,
}

impl Server {
    pub fn new(root: Option<PathBuf>) -> Arc<Server> {
        Arc::new(Server {
            root,
            ..Server::default()
        })
    }

    /// Read by tests/http_server.rs (the example itself runs until killed).
    #[allow(dead_code)]
    pub fn live_connections(&self) -> usize {
        self.live.load(Ordering::SeqCst)
    }
}

/// Accepts connections on the caller's runtime, a green thread each, until
/// the listener is closed.
pub fn accept_loop(listener: TcpListener, server: Arc<Server>) {
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                server.accepted.fetch_add(1, Ordering::Relaxed);
                server.live.fetch_add(1, Ordering::SeqCst);
                let server = server.clone();
                greenrt::spawn(move || {
                    let _live = Live(&server);
                    let _ = stream.set_nodelay(true);
                    serve(&stream, &server);
                });
            }
            Err(e) if e.kind() == io::ErrorKind::NotConnected => return, // closed
            // EMFILE and friends: back off instead of spinning.
            Err(_) => greenrt::sleep(Duration::from_millis(10)),
        }
    }
}

/// Counts a connection down when its green thread ends, however it ends.
struct Live<'a>(&'a Server);

impl Drop for Live<'_> {
    fn drop(&mut self) {
        self.0.live.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The outcome of parsing at the front of the buffer.
enum Next {
    /// A complete request of `len` bytes (head and body) was answered.
    Answered { len: usize, close: bool },
    /// More bytes are needed.
    Incomplete,
    /// The request cannot be served: answer with this and close.
    Fail(Status),
}

/// Serves one connection until the client closes it, an error, or a
/// response that ends it.
pub fn serve(stream: &TcpStream, server: &Server) {
    let mut buf = vec![0u8; FIRST_BUF];
    let mut filled = 0;
    let mut out = Vec::with_capacity(FIRST_BUF);
    loop {
        match (&*stream).read(&mut buf[filled..]) {
            Ok(0) | Err(_) => return,
            Ok(n) => filled += n,
        }
        let date = date::now();
        let mut pos = 0;
        let mut close = false;
        let mut answered = 0;
        while pos < filled && !close {
            match answer_one(&buf[pos..filled], server, &date, &mut out) {
                Next::Answered { len, close: c } => {
                    answered += 1;
                    pos += len;
                    close = c;
                }
                Next::Incomplete => break,
                Next::Fail(status) => {
                    error(status).write_to(&mut out, &date);
                    close = true;
                }
            }
        }
        // Counted once per read, not per request (16 pipelined requests:
        // one shared atomic add instead of 16), and before the answers go
        // out, so a client that has read an answer finds it counted.
        if answered > 0 {
            server.requests.fetch_add(answered, Ordering::Relaxed);
        }
        if !out.is_empty() {
            if (&*stream).write_all(&out).is_err() {
                return;
            }
            out.clear();
        }
        if close {
            return linger_close(stream);
        }
        buf.copy_within(pos..filled, 0);
        filled -= pos;
        if filled == buf.len() {
            // Only a request bigger than the buffer gets here; the limits
            // in `answer_one` fail it before the buffer passes them.
            buf.resize((buf.len() * 2).min(MAX_HEAD + MAX_BODY), 0);
        }
    }
}

/// Parses the request at the front of `input` and, if it is complete,
/// appends its response to `out`.
fn answer_one(
    input: &[u8],
    server: &Server,
    date: &[u8; date::DATE_LEN],
    out: &mut Vec<u8>,
) -> Next {
    // Uninitialised: the parser writes only the headers it finds, instead
    // of this function clearing all MAX_HEADERS slots for every request.
    let mut headers = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut []);
    let head_len = match req.parse_with_uninit_headers(input, &mut headers) {
        Ok(httparse::Status::Complete(n)) if n > MAX_HEAD => {
            return Next::Fail(Status::HeadersTooLarge)
        }
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if input.len() > MAX_HEAD => {
            return Next::Fail(Status::HeadersTooLarge)
        }
        Ok(httparse::Status::Partial) => return Next::Incomplete,
        Err(httparse::Error::TooManyHeaders) => return Next::Fail(Status::HeadersTooLarge),
        Err(_) => return Next::Fail(Status::BadRequest),
    };
    let mut body_len = 0usize;
    let mut seen_length = false;
    let mut conn_close = false;
    let mut conn_keep_alive = false;
    for h in req.headers.iter() {
        if h.name.eq_ignore_ascii_case("content-length") {
            let Some(n) = std::str::from_utf8(h.value)
                .ok()
                .and_then(|v| v.trim().parse().ok())
            else {
                return Next::Fail(Status::BadRequest);
            };
            if seen_length && n != body_len {
                return Next::Fail(Status::BadRequest);
            }
            seen_length = true;
            body_len = n;
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            return Next::Fail(Status::NotImplemented);
        } else if h.name.eq_ignore_ascii_case("connection") {
            for token in h.value.split(|&b| b == b',') {
                let token = token.trim_ascii();
                conn_close |= token.eq_ignore_ascii_case(b"close");
                conn_keep_alive |= token.eq_ignore_ascii_case(b"keep-alive");
            }
        }
    }
    if body_len > MAX_BODY {
        return Next::Fail(Status::PayloadTooLarge);
    }
    let len = head_len + body_len;
    if input.len() < len {
        return Next::Incomplete;
    }
    // HTTP/1.1 keeps the connection unless told not to; 1.0 closes it
    // unless told to keep it.
    let close = match req.version {
        Some(1) => conn_close,
        _ => !conn_keep_alive,
    };
    let (Some(method), Some(path)) = (req.method, req.path) else {
        return Next::Fail(Status::BadRequest);
    };
    let body = route(&Request { method, path }, server.root.as_deref());
    body.response(close, method == "HEAD").write_to(out, date);
    Next::Answered { len, close }
}

/// Closes after a final response without losing it: a close with unread
/// input makes the kernel send a reset, which can discard the response in
/// flight, so half-close first and drain (bounded) what the client still
/// sends.
fn linger_close(stream: &TcpStream) {
    let _ = stream.shutdown(Shutdown::Write);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    let mut sink = [0u8; 4096];
    let mut drained = 0;
    while drained < 256 * 1024 {
        match (&*stream).read(&mut sink) {
            Ok(0) | Err(_) => return,
            Ok(n) => drained += n,
        }
    }
}
