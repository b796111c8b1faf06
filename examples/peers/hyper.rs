//! The hyper comparison server for scripts/http_bench.sh: hyper 1's HTTP/1
//! server on a tokio current_thread runtime (one thread, like
//! `http_server --procs 1`), with the same two routes as
//! examples/http_server and pipelining on.

use std::convert::Infallible;

use bytes::Bytes;
use clap::Parser;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;

#[derive(Debug, Parser)]
struct Args {
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: String,
}

async fn routes(req: Request<hyper::body::Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let (content_type, body) = match req.uri().path() {
        "/plaintext" => ("text/plain", Bytes::from_static(b"Hello, World!")),
        "/json" => (
            "application/json",
            Bytes::from(
                serde_json::to_vec(&serde_json::json!({ "message": "Hello, World!" })).unwrap(),
            ),
        ),
        _ => {
            let mut rsp = Response::new(Full::new(Bytes::new()));
            *rsp.status_mut() = StatusCode::NOT_FOUND;
            return Ok(rsp);
        }
    };
    let mut rsp = Response::new(Full::new(body));
    rsp.headers_mut().insert(
        "content-type",
        hyper::header::HeaderValue::from_static(content_type),
    );
    rsp.headers_mut()
        .insert("server", hyper::header::HeaderValue::from_static("hyper"));
    Ok(rsp)
}

fn main() {
    let args = Args::parse();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&args.addr)
            .await
            .expect("listen");
        println!(
            "peer_hyper: listening on {}",
            listener.local_addr().unwrap()
        );
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            tokio::task::spawn(async move {
                let _ = http1::Builder::new()
                    .pipeline_flush(true)
                    .serve_connection(TokioIo::new(stream), service_fn(routes))
                    .await;
            });
        }
    });
}
