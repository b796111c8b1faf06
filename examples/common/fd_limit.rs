//! Raising the soft open-file limit to the hard one: each connection is a
//! descriptor, and the soft limit (often 1 024) is far below what the echo
//! examples are run at (10 000 connections and more), while the hard limit
//! (20 000 on the project's machines) is what an unprivileged process may
//! raise it to. Shared by echo_server and echo_client (examples/common/serve
//! says why shared code lives in this folder).

/// Raises RLIMIT_NOFILE's soft limit to its hard limit; returns the soft
/// limit now in force, or the error of getrlimit/setrlimit.
pub fn raise_to_hard() -> std::io::Result<u64> {
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass,
    // which lives on this stack for the duration of the calls.
    unsafe {
        let mut lim: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        if lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        Ok(lim.rlim_cur as u64)
    }
}
