//! The routes: TechEmpower's plaintext and JSON, and static files under
//! `--root` read through `greenrt::fs` (a syscall handoff per file).

use std::path::{Component, Path, PathBuf};

use super::response::{error, Response, Status};

/// What a request asked for, as the connection loop needs it.
pub struct Request<'a> {
    pub method: &'a str,
    pub path: &'a str,
}

/// A response body: static bytes or an owned buffer (JSON, a file).
pub enum Body {
    Static(&'static [u8], &'static str),
    Owned(Vec<u8>, &'static str),
    Error(Status),
}

/// The route's answer to `req`.
pub fn route(req: &Request<'_>, root: Option<&Path>) -> Body {
    if req.method != "GET" && req.method != "HEAD" {
        return Body::Error(Status::MethodNotAllowed);
    }
    let path = req.path.split(['?', '#']).next().unwrap_or("");
    match path {
        "/plaintext" => Body::Static(b"Hello, World!", "text/plain"),
        "/json" => {
            // Serialised per request, as TechEmpower's JSON test requires.
            let body = serde_json::to_vec(&serde_json::json!({ "message": "Hello, World!" }))
                .expect("a literal serialises");
            Body::Owned(body, "application/json")
        }
        _ => match root {
            Some(root) => static_file(root, path),
            None => Body::Error(Status::NotFound),
        },
    }
}

/// `root` joined with the request path, if the path stays inside `root`
/// (only plain components: no `..`, no absolute parts).
fn resolve(root: &Path, path: &str) -> Option<PathBuf> {
    let rel = Path::new(path.trim_start_matches('/'));
    if !rel.components().all(|c| matches!(c, Component::Normal(_))) {
        return None;
    }
    let mut full = root.join(rel);
    if path.ends_with('/') || rel.as_os_str().is_empty() {
        full.push("index.html");
    }
    Some(full)
}

fn static_file(root: &Path, path: &str) -> Body {
    let Some(file) = resolve(root, path) else {
        return Body::Error(Status::NotFound);
    };
    match greenrt::fs::read(&file) {
        Ok(bytes) => Body::Owned(bytes, content_type(&file)),
        Err(_) => Body::Error(Status::NotFound),
    }
}

fn content_type(file: &Path) -> &'static str {
    match file.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html",
        Some("txt") => "text/plain",
        Some("css") => "text/css",
        Some("js") => "text/javascript",
        Some("json") => "application/json",
        Some("png") => "image/png",
        _ => "application/octet-stream",
    }
}

impl Body {
    /// The response for this body.
    pub fn response(&self, close: bool, head_only: bool) -> Response<'_> {
        let (body, content_type): (&[u8], _) = match self {
            Body::Static(b, t) => (b, *t),
            Body::Owned(b, t) => (b, *t),
            Body::Error(s) => {
                let mut r = error(*s);
                // A 404 or 405 does not end the connection.
                r.close = close;
                r.head_only = head_only;
                return r;
            }
        };
        Response {
            status: Status::Ok,
            content_type,
            body,
            close,
            head_only,
        }
    }
}
