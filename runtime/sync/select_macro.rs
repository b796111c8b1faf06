//! `select!` and `select_biased!`: crossbeam-channel's syntax over
//! [`Select`](crate::sync::Select)'s engine.
//!
//! The expansion binds each handle expression once (nested `match`es, so
//! temporaries such as `after(d)` live through the whole select), builds
//! the operation list on the stack, runs one select, and completes the
//! chosen arm. A send arm's message is evaluated only if that arm is chosen.

/// Waits on several channel operations and runs the arm of the one that
/// completes; among ready operations one is chosen uniformly at random.
///
/// Same syntax as crossbeam-channel's `select!`:
///
/// * `recv(r) -> msg => body` — `msg: Result<T, RecvError>`;
/// * `send(s, value) -> res => body` — `res: Result<(), SendError<T>>`;
///   `value` is evaluated only if this arm is chosen;
/// * `default => body` (or `default() => body`) — run if nothing is ready now (never waits);
/// * `default(timeout) => body` — run if nothing got ready within `timeout`.
///
/// Bodies are expressions followed by a comma, or blocks. An operation on a
/// disconnected channel counts as ready (it completes with an error). In a
/// green thread only the green thread waits.
///
/// ```
/// use std::time::Duration;
/// use greenrt::sync::{after, bounded, unbounded};
///
/// greenrt::run(|| {
///     let (tx1, rx1) = unbounded();
///     let (tx2, rx2) = bounded(1);
///     tx1.send(10).unwrap();
///     greenrt::select! {
///         recv(rx1) -> msg => assert_eq!(msg, Ok(10)),
///         send(tx2, 20) -> res => {
///             res.unwrap();
///             assert_eq!(rx2.recv(), Ok(20));
///         }
///         recv(after(Duration::from_secs(1))) -> _ => panic!("timed out"),
///     }
///     // Non-blocking, and with a timeout (on a channel nobody sent to;
///     // the select above may have left 10 in `rx1`):
///     let (_tx3, rx3) = unbounded::<i32>();
///     greenrt::select! {
///         recv(rx3) -> _ => panic!("nothing was sent"),
///         default => {}
///     }
///     greenrt::select! {
///         recv(rx3) -> _ => panic!("nothing was sent"),
///         default(Duration::from_millis(5)) => {}
///     }
/// });
/// ```
#[macro_export]
macro_rules! select {
    () => {
        ::std::compile_error!("empty `select!` block")
    };
    ($($tokens:tt)*) => {
        $crate::__greenrt_select!(@parse false [] [] $($tokens)*)
    };
}

/// Like [`select!`], but among ready operations the first listed wins.
#[macro_export]
macro_rules! select_biased {
    () => {
        ::std::compile_error!("empty `select_biased!` block")
    };
    ($($tokens:tt)*) => {
        $crate::__greenrt_select!(@parse true [] [] $($tokens)*)
    };
}

/// Implementation of `select!`; not public API.
#[doc(hidden)]
#[macro_export]
macro_rules! __greenrt_select {
    // ---------------------------------------------------------------- parse
    // Cases become `[recv ($r) ($p) {body}]` / `[send ($s) ($m) ($p) {body}]`,
    // the default `[(Mode) {body}]`.
    (@parse $b:tt $c:tt []) => {
        $crate::__greenrt_select!(@bind $b $c [(Block) { ::std::unreachable!() }] [] [] (0))
    };
    (@parse $b:tt $c:tt $d:tt) => {
        $crate::__greenrt_select!(@bind $b $c $d [] [] (0))
    };
    (@parse $b:tt $c:tt $d:tt , $($rest:tt)*) => {
        $crate::__greenrt_select!(@parse $b $c $d $($rest)*)
    };

    (@parse $b:tt [$($c:tt)*] $d:tt
        recv($r:expr $(,)?) -> $p:pat => $body:block $($rest:tt)*) => {
        $crate::__greenrt_select!(@parse $b [$($c)* [recv ($r) ($p) $body]] $d $($rest)*)
    };
    (@parse $b:tt [$($c:tt)*] $d:tt
        recv($r:expr $(,)?) -> $p:pat => $body:expr, $($rest:tt)*) => {
        $crate::__greenrt_select!(@parse $b [$($c)* [recv ($r) ($p) { $body }]] $d $($rest)*)
    };
    (@parse $b:tt [$($c:tt)*] $d:tt
        recv($r:expr $(,)?) -> $p:pat => $body:expr) => {
        $crate::__greenrt_select!(@parse $b [$($c)* [recv ($r) ($p) { $body }]] $d)
    };

    (@parse $b:tt [$($c:tt)*] $d:tt
        send($s:expr, $m:expr $(,)?) -> $p:pat => $body:block $($rest:tt)*) => {
        $crate::__greenrt_select!(@parse $b [$($c)* [send ($s) ($m) ($p) $body]] $d $($rest)*)
    };
    (@parse $b:tt [$($c:tt)*] $d:tt
        send($s:expr, $m:expr $(,)?) -> $p:pat => $body:expr, $($rest:tt)*) => {
        $crate::__greenrt_select!(@parse $b [$($c)* [send ($s) ($m) ($p) { $body }]] $d $($rest)*)
    };
    (@parse $b:tt [$($c:tt)*] $d:tt
        send($s:expr, $m:expr $(,)?) -> $p:pat => $body:expr) => {
        $crate::__greenrt_select!(@parse $b [$($c)* [send ($s) ($m) ($p) { $body }]] $d)
    };

    (@parse $b:tt $c:tt [] default => $body:block $($rest:tt)*) => {
        $crate::__greenrt_select!(@parse $b $c [(NonBlocking) $body] $($rest)*)
    };
    (@parse $b:tt $c:tt [] default => $body:expr, $($rest:tt)*) => {
        $crate::__greenrt_select!(@parse $b $c [(NonBlocking) { $body }] $($rest)*)
    };
    (@parse $b:tt $c:tt [] default => $body:expr) => {
        $crate::__greenrt_select!(@parse $b $c [(NonBlocking) { $body }])
    };
    // `default() => …` is `default => …`, as crossbeam accepts it.
    (@parse $b:tt $c:tt [] default() => $body:block $($rest:tt)*) => {
        $crate::__greenrt_select!(@parse $b $c [(NonBlocking) $body] $($rest)*)
    };
    (@parse $b:tt $c:tt [] default() => $body:expr, $($rest:tt)*) => {
        $crate::__greenrt_select!(@parse $b $c [(NonBlocking) { $body }] $($rest)*)
    };
    (@parse $b:tt $c:tt [] default() => $body:expr) => {
        $crate::__greenrt_select!(@parse $b $c [(NonBlocking) { $body }])
    };
    (@parse $b:tt $c:tt [] default($t:expr $(,)?) => $body:block $($rest:tt)*) => {
        $crate::__greenrt_select!(@parse $b $c [(Timeout($t)) $body] $($rest)*)
    };
    (@parse $b:tt $c:tt [] default($t:expr $(,)?) => $body:expr, $($rest:tt)*) => {
        $crate::__greenrt_select!(@parse $b $c [(Timeout($t)) { $body }] $($rest)*)
    };
    (@parse $b:tt $c:tt [] default($t:expr $(,)?) => $body:expr) => {
        $crate::__greenrt_select!(@parse $b $c [(Timeout($t)) { $body }])
    };
    (@parse $b:tt $c:tt [$($d:tt)+] default $($rest:tt)*) => {
        ::std::compile_error!("there can be only one `default` case in a `select!` block")
    };
    (@parse $b:tt $c:tt $d:tt $($rest:tt)+) => {
        ::std::compile_error!(::std::concat!(
            "invalid `select!` case; expected `recv(r) -> pat => body`, ",
            "`send(s, msg) -> pat => body`, `default => body` or ",
            "`default(timeout) => body`, found: ",
            ::std::stringify!($($rest)+)
        ))
    };

    // ----------------------------------------------------------------- bind
    // Binds each handle once; accumulates the operation list and the arms.
    (@bind $b:tt [] $d:tt $ops:tt $arms:tt $idx:tt) => {
        $crate::__greenrt_select!(@run $b $d $ops $arms)
    };
    (@bind $b:tt [[recv ($r:expr) ($p:pat) $body:block] $($c:tt)*] $d:tt
        [$($ops:tt)*] [$($arms:tt)*] ($($idx:tt)*)) => {
        match $r {
            ref __greenrt_handle => {
                let __greenrt_handle: &$crate::sync::Receiver<_> = __greenrt_handle;
                $crate::__greenrt_select!(@bind $b [$($c)*] $d
                    [$($ops)* $crate::sync::__private::recv_op(__greenrt_handle, $($idx)*),]
                    [$($arms)* [recv __greenrt_handle ($($idx)*) ($p) $body]]
                    ($($idx)* + 1))
            }
        }
    };
    (@bind $b:tt [[send ($s:expr) ($m:expr) ($p:pat) $body:block] $($c:tt)*] $d:tt
        [$($ops:tt)*] [$($arms:tt)*] ($($idx:tt)*)) => {
        match $s {
            ref __greenrt_handle => {
                let __greenrt_handle: &$crate::sync::Sender<_> = __greenrt_handle;
                $crate::__greenrt_select!(@bind $b [$($c)*] $d
                    [$($ops)* $crate::sync::__private::send_op(__greenrt_handle, $($idx)*),]
                    [$($arms)* [send __greenrt_handle ($m) ($($idx)*) ($p) $body]]
                    ($($idx)* + 1))
            }
        }
    };

    // ------------------------------------------------------------------ run
    (@run $b:tt [($($mode:tt)*) $default:block] [] []) => {{
        let __greenrt_ops: &[$crate::sync::__private::Op<'_>] = &[];
        let __greenrt_none = $crate::sync::__private::select(
            __greenrt_ops, $b, $crate::sync::__private::Mode::$($mode)*);
        ::std::mem::drop(__greenrt_none);
        $default
    }};
    (@run $b:tt [($($mode:tt)*) $default:block] [$($ops:tt)*] $arms:tt) => {{
        let __greenrt_ops: &[$crate::sync::__private::Op<'_>] = &[$($ops)*];
        match $crate::sync::__private::select(
            __greenrt_ops, $b, $crate::sync::__private::Mode::$($mode)*)
        {
            ::std::option::Option::Some(__greenrt_oper) => {
                $crate::__greenrt_select!(@dispatch __greenrt_oper $arms)
            }
            ::std::option::Option::None => $default,
        }
    }};

    // ------------------------------------------------------------- dispatch
    (@dispatch $oper:ident []) => {
        ::std::unreachable!("select! chose an operation it does not have")
    };
    (@dispatch $oper:ident [[recv $h:ident ($($idx:tt)*) ($p:pat) $body:block] $($rest:tt)*]) => {
        if $oper.index() == $($idx)* {
            let $p = $oper.recv($h);
            $body
        } else {
            $crate::__greenrt_select!(@dispatch $oper [$($rest)*])
        }
    };
    (@dispatch $oper:ident [[send $h:ident ($m:expr) ($($idx:tt)*) ($p:pat) $body:block] $($rest:tt)*]) => {
        if $oper.index() == $($idx)* {
            let $p = $oper.send($h, $m);
            $body
        } else {
            $crate::__greenrt_select!(@dispatch $oper [$($rest)*])
        }
    };
}
