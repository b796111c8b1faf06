//! Writing responses into the connection's output buffer. Every response
//! of one read's worth of pipelined requests is appended here and the
//! buffer goes out in one `write_all`.

use super::date;

/// The status codes this server sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    BadRequest,
    NotFound,
    MethodNotAllowed,
    PayloadTooLarge,
    HeadersTooLarge,
    NotImplemented,
}

impl Status {
    fn line(self) -> &'static [u8] {
        match self {
            Status::Ok => b"HTTP/1.1 200 OK\r\n",
            Status::BadRequest => b"HTTP/1.1 400 Bad Request\r\n",
            Status::NotFound => b"HTTP/1.1 404 Not Found\r\n",
            Status::MethodNotAllowed => b"HTTP/1.1 405 Method Not Allowed\r\nAllow: GET, HEAD\r\n",
            Status::PayloadTooLarge => b"HTTP/1.1 413 Content Too Large\r\n",
            Status::HeadersTooLarge => b"HTTP/1.1 431 Request Header Fields Too Large\r\n",
            Status::NotImplemented => b"HTTP/1.1 501 Not Implemented\r\n",
        }
    }
}

/// One response's head and body, appended to `out`. `date` is the cached
/// `Date` text; `close` adds `Connection: close`; `head_only` (a HEAD
/// request) sends the head with the body's length but not the body.
pub struct Response<'a> {
    pub status: Status,
    pub content_type: &'static str,
    pub body: &'a [u8],
    pub close: bool,
    pub head_only: bool,
}

impl Response<'_> {
    pub fn write_to(&self, out: &mut Vec<u8>, date: &[u8; date::DATE_LEN]) {
        out.extend_from_slice(self.status.line());
        out.extend_from_slice(b"Server: greenrt\r\nContent-Type: ");
        out.extend_from_slice(self.content_type.as_bytes());
        out.extend_from_slice(b"\r\nContent-Length: ");
        let mut digits = [0u8; 20];
        out.extend_from_slice(decimal(self.body.len(), &mut digits));
        out.extend_from_slice(b"\r\nDate: ");
        out.extend_from_slice(date);
        if self.close {
            out.extend_from_slice(b"\r\nConnection: close");
        }
        out.extend_from_slice(b"\r\n\r\n");
        if !self.head_only {
            out.extend_from_slice(self.body);
        }
    }
}

/// A short plain-text error response (the connection closes after it).
pub fn error(status: Status) -> Response<'static> {
    let body: &[u8] = match status {
        Status::BadRequest => b"bad request\n",
        Status::NotFound => b"not found\n",
        Status::MethodNotAllowed => b"method not allowed\n",
        Status::PayloadTooLarge => b"request body too large\n",
        Status::HeadersTooLarge => b"request head too large\n",
        Status::NotImplemented => b"transfer-encoding not supported\n",
        Status::Ok => b"",
    };
    Response {
        status,
        content_type: "text/plain",
        body,
        close: true,
        head_only: false,
    }
}

/// `n` in decimal, written into the end of `buf`.
fn decimal(mut n: usize, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[i..];
        }
    }
}
