//! Green sockets: std-like blocking-style TCP and UDP that park only the
//! green thread, woken by the netpoller.
