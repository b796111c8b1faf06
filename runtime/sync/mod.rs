//! Green-aware synchronisation: channels (crossbeam-channel's API), `select!`,
//! and locks that park green threads rather than OS threads.
