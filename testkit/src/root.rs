//! Root detection: network namespaces, raw sockets and running a child as
//! another user need it.

/// True when the effective user is root.
pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}
