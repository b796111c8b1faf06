//! `default() => …` in `select!` and `select_biased!` means `default => …`,
//! as in crossbeam-channel (issue 16 item 2): it runs when nothing is ready
//! and never when an operation is.

mod common;

use common::runtime;
use greenrt::sync::bounded;
use greenrt::{select, select_biased};

/// Every shape of the `default()` arm (block, expression with and without a
/// trailing comma), with nothing ready and then with a message waiting.
fn default_with_parentheses_takes_the_default_only_when_nothing_is_ready() {
    let (tx, rx) = bounded::<i32>(1);
    let chosen = select! {
        recv(rx) -> _ => "recv",
        default() => { "default" }
    };
    assert_eq!(chosen, "default");
    let chosen = select_biased! {
        recv(rx) -> _ => "recv",
        default() => "default",
    };
    assert_eq!(chosen, "default");
    let chosen = select! {
        recv(rx) -> _ => "recv",
        default() => "default"
    };
    assert_eq!(chosen, "default");

    tx.send(7).unwrap();
    let got = select! {
        recv(rx) -> m => m.unwrap(),
        default() => panic!("a message was ready"),
    };
    assert_eq!(got, 7);
    tx.send(8).unwrap();
    let got = select_biased! {
        recv(rx) -> m => m.unwrap(),
        default() => panic!("a message was ready")
    };
    assert_eq!(got, 8);
}

#[test]
fn on_an_os_thread() {
    default_with_parentheses_takes_the_default_only_when_nothing_is_ready();
}

#[test]
fn on_a_green_thread() {
    runtime(1).block_on(default_with_parentheses_takes_the_default_only_when_nothing_is_ready);
}
