//! Request structures in the application's memory: `copyin`/`copyout`.
//!
//! The kernel reads an ioctl argument with `copy_from_user`, so a bad
//! pointer is `EFAULT`, never a crash. We get the same with
//! `process_vm_readv`/`process_vm_writev` on our own process: the kernel
//! checks the address for us. Only control requests pay this system call;
//! `NIOCTXSYNC`/`NIOCRXSYNC` take no argument.

use std::ffi::c_void;

use crate::error::NmError;

/// Plain C request structures: every bit pattern is a valid value.
///
/// # Safety
/// Implementors must be `#[repr(C)]` structures of integer fields only.
pub unsafe trait Plain: Copy {}

// SAFETY: all of these are #[repr(C)] structures of integers and integer
// arrays (netmap_ring::abi asserts their layouts).
unsafe impl Plain for netmap_ring::abi::NmreqHeader {}
// SAFETY: as above.
unsafe impl Plain for netmap_ring::abi::NmreqRegister {}
// SAFETY: as above.
unsafe impl Plain for netmap_ring::abi::NmreqOption {}
// SAFETY: as above.
unsafe impl Plain for netmap_ring::abi::Nmreq {}
// SAFETY: as above.
unsafe impl Plain for netmap_ring::abi::NmreqPoolsInfo {}
// SAFETY: a byte array.
unsafe impl<const N: usize> Plain for [u8; N] {}

fn self_pid() -> libc::pid_t {
    // SAFETY: getpid has no preconditions.
    unsafe { libc::getpid() }
}

/// Copies `size_of::<T>()` bytes at `addr` in, or `EFAULT`.
pub fn copy_in<T: Plain>(addr: u64) -> Result<T, NmError> {
    let mut value = std::mem::MaybeUninit::<T>::uninit();
    let local = libc::iovec {
        iov_base: value.as_mut_ptr().cast::<c_void>(),
        iov_len: size_of::<T>(),
    };
    let remote = libc::iovec {
        iov_base: addr as usize as *mut c_void,
        iov_len: size_of::<T>(),
    };
    if addr == 0 {
        return Err(NmError::Fault(addr));
    }
    // SAFETY: `local` describes our own writable buffer of the right size;
    // the kernel checks `remote` and fails with EFAULT if it is not mapped.
    let n = unsafe { libc::process_vm_readv(self_pid(), &local, 1, &remote, 1, 0) };
    if n != size_of::<T>() as isize {
        return Err(NmError::Fault(addr));
    }
    // SAFETY: all bytes were written by the kernel, and `T: Plain` is valid
    // for any bit pattern.
    Ok(unsafe { value.assume_init() })
}

/// Copies `value` out to `addr`, or `EFAULT`.
pub fn copy_out<T: Plain>(addr: u64, value: &T) -> Result<(), NmError> {
    if addr == 0 {
        return Err(NmError::Fault(addr));
    }
    let local = libc::iovec {
        iov_base: (value as *const T).cast_mut().cast::<c_void>(),
        iov_len: size_of::<T>(),
    };
    let remote = libc::iovec {
        iov_base: addr as usize as *mut c_void,
        iov_len: size_of::<T>(),
    };
    // SAFETY: `local` is our own readable value (the kernel only reads it);
    // the kernel checks `remote` and fails with EFAULT if it is not writable.
    let n = unsafe { libc::process_vm_writev(self_pid(), &local, 1, &remote, 1, 0) };
    if n != size_of::<T>() as isize {
        return Err(NmError::Fault(addr));
    }
    Ok(())
}

/// The NUL-terminated name in `bytes` (up to the first NUL).
pub fn c_name(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

/// Writes `name` NUL-padded into `out` (truncated to leave a NUL).
pub fn set_c_name(out: &mut [u8], name: &str) {
    out.fill(0);
    let n = name.len().min(out.len().saturating_sub(1));
    out[..n].copy_from_slice(&name.as_bytes()[..n]);
}
