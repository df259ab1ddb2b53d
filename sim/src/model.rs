//! Ownership of one Verilator model instance behind the generated shim.

use std::ffi::CString;
use std::os::raw::{c_char, c_void};
use std::path::Path;
use std::ptr::NonNull;

/// Creates a model; `vcd_path` null for no tracing.
pub(crate) type NewFn = unsafe extern "C" fn(vcd_path: *const c_char) -> *mut c_void;
/// Frees what `NewFn` returned.
pub(crate) type FreeFn = unsafe extern "C" fn(handle: *mut c_void);

/// An owned model: its own VerilatedContext, model and optional VCD writer,
/// freed on drop.
pub struct Handle {
    raw: NonNull<c_void>,
    free: FreeFn,
}

impl Handle {
    pub(crate) fn new(vcd: Option<&Path>, new: NewFn, free: FreeFn) -> Self {
        let vcd = vcd.map(|path| {
            CString::new(path.as_os_str().as_encoded_bytes()).expect("VCD path without NUL")
        });
        let vcd_ptr = vcd.as_ref().map_or(std::ptr::null(), |path| path.as_ptr());
        // SAFETY: `vcd_ptr` is null or a NUL-terminated string that outlives
        // the call; the shim copies it (VerilatedVcdC::open) before returning.
        let raw = unsafe { new(vcd_ptr) };
        let raw = NonNull::new(raw).expect("sim: model allocation failed");
        Handle { raw, free }
    }

    pub(crate) fn as_ptr(&self) -> *mut c_void {
        self.raw.as_ptr()
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        // SAFETY: `raw` came from the matching `new` and is freed only here.
        unsafe { (self.free)(self.raw.as_ptr()) }
    }
}

// SAFETY: each Handle owns its VerilatedContext and model outright (no state
// shared with other instances), and `&mut`/`&` access through the generated
// wrappers serialises calls, so moving it to another thread is sound.
unsafe impl Send for Handle {}
