//! Why a G is parked — printed by traces and deadlock reports
//! (docs/ARCHITECTURE.md, "Thread identity").

/// The reason a green thread is parked, recorded at every park.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
#[non_exhaustive]
pub enum WaitReason {
    /// Not parked.
    None = 0,
    /// `greenrt::sleep`.
    Sleep,
    /// `JoinHandle::join`.
    Join,
    /// Receiving on a channel.
    ChanRecv,
    /// Sending on a channel.
    ChanSend,
    /// Blocked in `select!` / `Select`.
    Select,
    /// Waiting for a `Mutex`.
    Mutex,
    /// Waiting for an `RwLock`.
    RwLock,
    /// Waiting on a `Condvar`.
    Condvar,
    /// `WaitGroup::wait`.
    WaitGroup,
    /// `Semaphore::acquire`.
    Semaphore,
    /// Waiting for a socket to become readable.
    NetRead,
    /// Waiting for a socket to become writable.
    NetWrite,
    /// Waiting for the runtime to take back a processor after a syscall.
    Syscall,
    /// A plain `greenrt::park`.
    Park,
    /// `Barrier::wait`.
    Barrier,
    /// `OnceLock::get_or_init` while another thread initialises it.
    OnceLock,
}

impl WaitReason {
    const ALL: [WaitReason; 17] = [
        WaitReason::None,
        WaitReason::Sleep,
        WaitReason::Join,
        WaitReason::ChanRecv,
        WaitReason::ChanSend,
        WaitReason::Select,
        WaitReason::Mutex,
        WaitReason::RwLock,
        WaitReason::Condvar,
        WaitReason::WaitGroup,
        WaitReason::Semaphore,
        WaitReason::NetRead,
        WaitReason::NetWrite,
        WaitReason::Syscall,
        WaitReason::Park,
        WaitReason::Barrier,
        WaitReason::OnceLock,
    ];

    pub(crate) fn from_u8(v: u8) -> WaitReason {
        Self::ALL
            .get(v as usize)
            .copied()
            .unwrap_or(WaitReason::None)
    }
}
