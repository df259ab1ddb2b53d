//! A Linux eventfd: the notification channel of DESIGN.md section 3.
//!
//! VFIO binds one to an MSI-X vector and the kernel signals it; the
//! simulator bodies signal it themselves. Either way `poll`/`epoll`/tokio
//! wait on the fd.
#![forbid(unsafe_code)]

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::event::{eventfd, EventfdFlags};

/// An owned, non-blocking eventfd.
#[derive(Debug)]
pub struct EventFd {
    fd: OwnedFd,
}

impl EventFd {
    /// A new eventfd with counter 0.
    pub fn new() -> io::Result<Self> {
        let fd = eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)?;
        Ok(Self { fd })
    }

    /// Adds one to the counter, waking waiters.
    pub fn signal(&self) -> io::Result<()> {
        rustix::io::write(&self.fd, &1u64.to_ne_bytes())?;
        Ok(())
    }

    /// Reads and clears the counter; 0 when it was not signalled.
    pub fn drain(&self) -> io::Result<u64> {
        let mut value = [0u8; 8];
        match rustix::io::read(&self.fd, &mut value) {
            Ok(_) => Ok(u64::from_ne_bytes(value)),
            Err(rustix::io::Errno::AGAIN) => Ok(0),
            Err(e) => Err(e.into()),
        }
    }
}

impl AsFd for EventFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_accumulate_until_drained() {
        let fd = EventFd::new().unwrap();
        assert_eq!(fd.drain().unwrap(), 0);
        fd.signal().unwrap();
        fd.signal().unwrap();
        assert_eq!(fd.drain().unwrap(), 2);
        assert_eq!(fd.drain().unwrap(), 0);
    }
}
