//! Panic messages of green threads name the green thread.
//!
//! std's default panic hook names the OS thread ("thread 'greenrt-m0'
//! panicked"), which says nothing about which green thread failed: green
//! threads move between OS threads and many share one. The hook installed
//! here, once per process when the first runtime is built, prints one line
//! naming the green thread (id and name) and then calls the hook that was
//! installed before it, so the usual message and a user's own hook both
//! still run. std keeps one hook: a hook the user sets later replaces this
//! one, which is theirs to choose (`std::panic::take_hook` lets them chain).

use std::sync::Once;

static INSTALL: Once = Once::new();

pub(crate) fn install() {
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if let Some(g) = crate::current() {
                let name = g.name().map(|n| format!(" ({n})")).unwrap_or_default();
                eprintln!(
                    "greenrt: green thread {}{name} panicked; the OS thread named below was running it",
                    g.id()
                );
            }
            previous(info);
        }));
    });
}
