//! The may_minihttp comparison server for scripts/http_bench.sh: may's own
//! HTTP server (a TechEmpower plaintext leader) with the same two routes as
//! examples/http_server, on `--workers` may worker threads (default 1, to
//! match `http_server --procs 1`).

use std::io;

use clap::Parser;
use may_minihttp::{HttpServer, HttpService, Request, Response};

#[derive(Debug, Parser)]
struct Args {
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: String,
    #[arg(long, default_value_t = 1)]
    workers: usize,
}

#[derive(Clone)]
struct Routes;

impl HttpService for Routes {
    fn call(&mut self, req: Request, rsp: &mut Response) -> io::Result<()> {
        match req.path() {
            "/plaintext" => {
                rsp.header("Content-Type: text/plain").body("Hello, World!");
            }
            "/json" => {
                rsp.header("Content-Type: application/json");
                let body = serde_json::to_vec(&serde_json::json!({ "message": "Hello, World!" }))?;
                rsp.body_vec(body);
            }
            _ => {
                rsp.status_code(404, "Not Found");
            }
        }
        Ok(())
    }
}

fn main() {
    let args = Args::parse();
    may::config()
        .set_workers(args.workers)
        .set_stack_size(0x1000);
    let server = HttpServer(Routes).start(&args.addr).expect("listen");
    println!("peer_may_minihttp: listening on {}", args.addr);
    server.join().unwrap();
}
