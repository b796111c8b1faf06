//! `greenrt::spawn_builder()`: per-spawn settings, `std::thread::Builder`'s
//! shape.
//!
//! A plain `spawn` takes its green thread's stack only when the green
//! thread first runs, so that queued green threads cost no stack; a stack
//! that cannot be had then fails the green thread at start (its `join`
//! returns `Err`). Like `std::thread::Builder::spawn`, a builder returns
//! that failure to the spawner instead: it takes the stack at spawn — from
//! the runtime's pool for the runtime's own size, or a mapping of its own
//! for any other size — and returns `Err` (with no green thread) when it
//! cannot. The price is a stack held from spawn rather than from start.

use std::io;
use std::sync::Arc;

use crate::config::{self, MAX_STACK_SIZE, MIN_STACK_SIZE};
use crate::join::{spawn_with_stack_on, JoinHandle};
use crate::sched::Scheduler;
use crate::scope::{Scope, ScopedJoinHandle};

/// Settings for one green thread: its name and stack size.
///
/// ```
/// let h = greenrt::spawn_builder()
///     .name("conn-42")
///     .stack_size(256 * 1024)
///     .spawn(|| greenrt::current().unwrap().name().map(str::to_owned))?;
/// assert_eq!(h.join().unwrap().as_deref(), Some("conn-42"));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Default)]
#[must_use = "a SpawnBuilder does nothing until `spawn` is called"]
pub struct SpawnBuilder {
    name: Option<String>,
    stack_size: Option<usize>,
    /// The runtime to spawn on (`Runtime::spawn_builder`); `None`: the
    /// caller's runtime, else the default one.
    sched: Option<Arc<Scheduler>>,
}

impl std::fmt::Debug for SpawnBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpawnBuilder")
            .field("name", &self.name)
            .field("stack_size", &self.stack_size)
            .field("own_runtime", &self.sched.is_some())
            .finish()
    }
}

/// A [`SpawnBuilder`] with no settings: spawns like [`spawn()`](fn@crate::spawn)
/// on the caller's runtime (the default one outside any green thread).
pub fn spawn_builder() -> SpawnBuilder {
    SpawnBuilder::default()
}

impl SpawnBuilder {
    pub(crate) fn on(sched: Arc<Scheduler>) -> SpawnBuilder {
        SpawnBuilder {
            sched: Some(sched),
            ..SpawnBuilder::default()
        }
    }

    /// The green thread's name (shown by `current()`, panic messages,
    /// cancellation messages and traces).
    pub fn name(mut self, name: impl Into<String>) -> SpawnBuilder {
        self.name = Some(name.into());
        self
    }

    /// The green thread's stack size in bytes, rounded up to pages, plus a
    /// guard page. Accepted: 16 KiB to 1 GiB. Default: the runtime's
    /// (`Builder::stack_size`). A size other than the runtime's is mapped
    /// for this green thread alone and unmapped when it finishes.
    pub fn stack_size(mut self, bytes: usize) -> SpawnBuilder {
        self.stack_size = Some(bytes);
        self
    }

    /// Spawns `f` with these settings.
    ///
    /// # Errors
    /// `InvalidInput` for a stack size out of range; the OS's error (for
    /// example `OutOfMemory`, or the `vm.max_map_count` limit) when the
    /// stack cannot be mapped. No green thread exists then, and `f` has
    /// been dropped.
    pub fn spawn<F, T>(self, f: F) -> io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let (sched, name, stack_size) = self.settle()?;
        let h = spawn_with_stack_on(&sched, name, stack_size, f)?;
        crate::coop::checkpoint();
        Ok(h)
    }

    /// Spawns `f` in `scope` with these settings (`std::thread::Builder::
    /// spawn_scoped`): it may borrow from outside the scope. The runtime
    /// is always the caller's (the one the scope spawns on).
    pub fn spawn_scoped<'scope, 'env, F, T>(
        self,
        scope: &'scope Scope<'scope, 'env>,
        f: F,
    ) -> io::Result<ScopedJoinHandle<'scope, T>>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        let (_, name, stack_size) = self.settle()?;
        scope.try_spawn(name, Some(stack_size), f)
    }

    /// The runtime, the name and a checked stack size.
    fn settle(self) -> io::Result<(Arc<Scheduler>, Option<Box<str>>, usize)> {
        let sched = self
            .sched
            .unwrap_or_else(crate::runtime::current_or_default);
        let stack_size = match self.stack_size {
            Some(n) => config::parse_in_range(
                "stack_size",
                &n.to_string(),
                MIN_STACK_SIZE,
                MAX_STACK_SIZE,
            )?,
            None => sched.config.stack_size,
        };
        Ok((sched, self.name.map(String::into_boxed_str), stack_size))
    }
}
