//! The tokio comparison echo server for scripts/echo_bench.sh: a task per
//! connection on a tokio current_thread runtime (one thread, like
//! `echo_server --mode green --procs 1`), one 4 KiB buffer per connection
//! as in the greenrt designs. Prints `listening on <addr>` and exits 0 on
//! SIGTERM or SIGINT, which the script checks.

use clap::Parser;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::signal::unix::{signal, SignalKind};

#[derive(Debug, Parser)]
struct Args {
    #[arg(long, default_value = "127.0.0.1:7000")]
    addr: String,
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
            "tokio_echo: listening on {}",
            listener.local_addr().unwrap()
        );
        let mut term = signal(SignalKind::terminate()).unwrap();
        let mut int = signal(SignalKind::interrupt()).unwrap();
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    let Ok((mut stream, _)) = accepted else { continue };
                    let _ = stream.set_nodelay(true);
                    tokio::spawn(async move {
                        let mut buf = [0u8; 4096];
                        loop {
                            match stream.read(&mut buf).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => {
                                    if stream.write_all(&buf[..n]).await.is_err() {
                                        return;
                                    }
                                }
                            }
                        }
                    });
                }
                _ = term.recv() => break,
                _ = int.recv() => break,
            }
        }
    });
    println!("tokio_echo: stopped");
}
