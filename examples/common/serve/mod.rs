//! The serving loops of the three echo server designs, the one copy that
//! both examples/echo_server and happycoin `--serve` run, so that the
//! figures docs/BENCHMARKS.md quotes for each are about the same code:
//!
//! * [`green`] — a green thread per connection on whatever greenrt runtime
//!   calls it;
//! * [`event_loop`] — a single-threaded mio readiness loop, turned one
//!   iteration at a time by its owner;
//! * [`threads`] — `std::net` with an OS thread per connection;
//! * [`stats`] — the counters, rate-limited log and accept back-off they
//!   share, and [`stop`] — the flag that tells them a stop was asked for.
//!
//! What only a standalone server needs (the command line, SIGINT/SIGTERM,
//! the exit summary) stays in examples/echo_server.
//!
//! # Why examples/common/ and `#[path]`
//!
//! Cargo builds every example as its own crate, so code two examples share
//! must either be a library crate of its own or a module file that each of
//! them compiles in. A crate would need a workspace (so that the lints and
//! formatting reach it) and a dev-dependency cycle back to greenrt, for a
//! few hundred lines. So the shared code lives here, in a folder Cargo does
//! not take for an example (it has no `main.rs`), and an example compiles a
//! module in with one `#[path = "../common/..."]` line. The rule that keeps
//! this clean: a module here holds only what *every* example that compiles
//! it uses, so none of them needs `allow(dead_code)`. That is why each
//! design's standalone `run` (a runtime of its own, a signal thread as its
//! stop) lives in examples/echo_server and not here.

pub mod event_loop;
pub mod green;
pub mod stats;
pub mod stop;
pub mod threads;
