//! Control requests as a buggy or hostile C program writes them: up to four
//! `NIOCCTRL`, `NIOCREGIF` or `NIOCGINFO` calls on one open of
//! `/dev/netmap` (the interposer's `netmap-preload` code, on the software
//! engine), with fuzzed headers, bodies and option lists whose pointers
//! are null, unmapped, kernel addresses, misaligned, aliased or linked in
//! loops.
//!
//! Properties: no panic; every failure is an errno netmap itself returns;
//! the header's pointers, type and version come back as written; nothing
//! is written outside the header, the body and the option headers the
//! request names (the structures live in a guarded arena); a successful
//! REGISTER describes a region that holds its `netmap_if`, and the
//! binding then syncs.
//!
//! Names come from a fixed list (plus fuzzed port names on one switch of
//! this process's own), so a run creates a bounded set of switches in a
//! runtime directory of its own; as root the run also moves its thread
//! into a network namespace of its own, so no name can reach a real
//! interface. The target lives here, in the library's unit tests, because
//! only there is the library built without its interposing symbols
//! (`open`, `ioctl`, ...), which would otherwise take over the test's own
//! calls; its corpus is `fuzz/corpus/nmreq` (`scripts/fuzz nmreq SECONDS`).

use netmap_fuzz::input::Input;
use netmap_fuzz::runner::Target;

use crate::file::NmFile;
use netmap_ring::abi::{
    NmreqHeader, NmreqOption, NETMAP_API, NETMAP_REQ_IFNAMSIZ, NETMAP_REQ_OPT_MAX,
    NETMAP_REQ_REGISTER,
};

/// Bytes of the arena holding every structure of one call.
const ARENA: usize = 8192;
const HEADER_AT: usize = 0;
const BODY_AT: usize = 128;
const BODY_MAX: usize = 1024;
const OPTIONS_AT: usize = 1280;
const OPTION_STRIDE: usize = 128;
const OPTIONS_MAX: usize = 8;
/// What the arena holds where the request wrote nothing.
const GUARD: u8 = 0xa5;

/// A user address nothing is mapped at (the first page).
const UNMAPPED: u64 = 0x10;
/// A kernel address: `process_vm_readv` refuses it, as `copy_from_user`.
const KERNEL: u64 = 0xffff_8000_0000_1000;

/// The errnos netmap's control path returns.
const NETMAP_ERRNOS: &[i32] = &[
    libc::EINVAL,
    libc::ENXIO,
    libc::EBUSY,
    libc::EFAULT,
    libc::EMSGSIZE,
    libc::EOPNOTSUPP,
    libc::ENOENT,
    libc::EEXIST,
    libc::ENOMEM,
    libc::ENOSPC,
    libc::EPERM,
    libc::E2BIG,
];

/// `NIOCCTRL`, `NIOCREGIF`, `NIOCGINFO`.
#[derive(Clone, Copy, Debug)]
enum Call {
    Ctrl,
    RegIf,
    GInfo,
}

pub struct Nmreq {
    dir: std::path::PathBuf,
    switch: String,
    /// 8-byte aligned, as a C program's structures are.
    arena: Vec<u64>,
}

impl Nmreq {
    pub fn new() -> Self {
        let pid = std::process::id();
        let dir = std::path::PathBuf::from(format!("/dev/shm/nmrs-fuzz-nmreq-{pid}"));
        std::env::set_var("NETMAP_RS_DIR", &dir);
        std::env::set_var("NETMAP_RS_BUFS", "16384");
        std::env::set_var("NETMAP_BACKEND", "soft");
        own_network_namespace();
        Self {
            dir,
            switch: format!("valefq{pid}"),
            arena: vec![0; ARENA / 8],
        }
    }

    fn bytes(&mut self) -> &mut [u8] {
        let len = self.arena.len() * 8;
        // SAFETY: the Vec<u64> owns `len` initialised bytes, any byte
        // pattern is a valid u64, and the borrow of `self` keeps it alive
        // and unaliased for the slice's lifetime.
        unsafe { std::slice::from_raw_parts_mut(self.arena.as_mut_ptr().cast::<u8>(), len) }
    }

    fn base(&self) -> u64 {
        self.arena.as_ptr() as u64
    }

    /// A port name: from the fixed list, or a fuzzed port of our switch.
    fn name(&self, input: &mut Input) -> String {
        let pid = std::process::id();
        let s = &self.switch;
        let name = match input.u8() % 16 {
            0 => format!("{s}:a"),
            1 => format!("{s}:b"),
            2 => format!("{s}:p{{3"),
            3 => format!("{s}:p}}3"),
            4 => format!("fqpipe{pid}{{1"),
            5 => format!("fqpipe{pid}}}1"),
            6 => format!("fqif{pid}"),
            7 => format!("{s}:fqif{pid}"),
            8 => "nmfq0".into(),
            9 => String::new(),
            10 => "vale".into(),
            11 => format!("{s}:"),
            12 => format!("{s}:a/r"),
            13 => format!("{s}:a@conf:rings=2"),
            _ => {
                let len = usize::from(input.u8() % 24);
                let tail: String = (0..len)
                    .map(|_| char::from(b"ab01{}^*/@:=-,x"[usize::from(input.u8() % 15)]))
                    .collect();
                format!("{s}:{tail}")
            }
        };
        name.chars().take(NETMAP_REQ_IFNAMSIZ - 1).collect()
    }

    /// A pointer for a structure whose valid place is arena offset `at`.
    fn pointer(&self, input: &mut Input, at: usize) -> u64 {
        match input.u8() % 8 {
            0 => 0,
            1..=3 => self.base() + at as u64,
            4 => UNMAPPED,
            5 => KERNEL,
            // Anywhere in the arena, misaligned or overlapping others.
            6 => self.base() + u64::from(input.below(ARENA as u32 - 256)),
            _ => self.base() + HEADER_AT as u64,
        }
    }

    /// Builds one call's structures in the arena; returns the call and the
    /// header's address.
    fn build(&mut self, input: &mut Input) -> (Call, u64) {
        self.bytes().fill(GUARD);
        let call = match input.u8() % 8 {
            0 => Call::RegIf,
            1 => Call::GInfo,
            _ => Call::Ctrl,
        };
        let name = self.name(input);
        match call {
            Call::Ctrl => self.build_ctrl(input, &name),
            Call::RegIf | Call::GInfo => self.build_legacy(input, &name),
        }
        (call, self.base() + HEADER_AT as u64)
    }

    fn build_ctrl(&mut self, input: &mut Input, name: &str) {
        let mut hdr = NmreqHeader {
            nr_version: match input.u8() % 8 {
                0 => input.u16(),
                1 => NETMAP_API as u16 + 1,
                _ => NETMAP_API as u16,
            },
            nr_reqtype: match input.u8() % 8 {
                0 => input.u16(),
                1 => NETMAP_REQ_REGISTER,
                _ => u16::from(input.u8() % 17),
            },
            nr_reserved: if input.u8().is_multiple_of(16) {
                input.u32()
            } else {
                0
            },
            ..Default::default()
        };
        hdr.nr_name[..name.len()].copy_from_slice(name.as_bytes());
        if input.u8().is_multiple_of(32) {
            // No terminating NUL: the kernel adds one.
            hdr.nr_name.fill(b'v');
        }
        hdr.nr_body = self.pointer(input, BODY_AT);
        // The body: fuzzed bytes, often mostly zero as C programs leave it.
        let body_len = usize::from(input.u8()) * 4 % BODY_MAX;
        let body: Vec<u8> = (0..body_len)
            .map(|_| {
                if input.u8().is_multiple_of(4) {
                    input.u8()
                } else {
                    0
                }
            })
            .collect();
        let fill = BODY_AT..BODY_AT + BODY_MAX;
        self.bytes()[fill.clone()].fill(0);
        self.bytes()[BODY_AT..BODY_AT + body_len].copy_from_slice(&body);
        // The option list.
        let count = usize::from(input.u8()) % (OPTIONS_MAX + 1);
        hdr.nr_options = if count == 0 {
            0
        } else {
            self.pointer(input, OPTIONS_AT)
        };
        for k in 0..count {
            let at = OPTIONS_AT + k * OPTION_STRIDE;
            let next = match input.u8() % 10 {
                0 => 0,
                1 => self.base() + at as u64,
                2 => {
                    self.base()
                        + (OPTIONS_AT + usize::from(input.u8()) % (k + 1) * OPTION_STRIDE) as u64
                }
                3 => UNMAPPED,
                4 => KERNEL,
                _ if k + 1 == count => 0,
                _ => self.base() + (at + OPTION_STRIDE) as u64,
            };
            let opt = NmreqOption {
                nro_next: next,
                nro_reqtype: match input.u8() % 4 {
                    0 => input.u32(),
                    _ => u32::from(input.u8()) % (NETMAP_REQ_OPT_MAX + 2),
                },
                nro_status: input.u32(),
                nro_size: match input.u8() % 4 {
                    0 => input.u64(),
                    1 => u64::from(input.u8()),
                    _ => 0,
                },
            };
            let raw = plain_bytes(&opt);
            let bytes = self.bytes();
            bytes[at..at + raw.len()].copy_from_slice(raw);
            bytes[at + raw.len()..at + OPTION_STRIDE].fill(0);
        }
        let raw = plain_bytes(&hdr).to_vec();
        self.bytes()[HEADER_AT..HEADER_AT + raw.len()].copy_from_slice(&raw);
    }

    fn build_legacy(&mut self, input: &mut Input, name: &str) {
        let mut req = netmap_ring::abi::Nmreq {
            nr_version: match input.u8() % 8 {
                0 => input.u32(),
                _ => NETMAP_API,
            },
            nr_tx_slots: input.index_like(1024),
            nr_rx_slots: input.index_like(1024),
            nr_tx_rings: (input.u8() % 6).into(),
            nr_rx_rings: (input.u8() % 6).into(),
            nr_ringid: input.u16(),
            nr_cmd: match input.u8() % 4 {
                0 => input.u16(),
                1 => u16::from(input.u8() % 12),
                _ => 0,
            },
            nr_arg1: (input.u8() % 4).into(),
            nr_arg2: input.u16() % 8,
            nr_arg3: input.index_like(64),
            nr_flags: match input.u8() % 4 {
                0 => input.u32(),
                _ => u32::from(input.u8() % 8),
            },
            ..Default::default()
        };
        let n = name.len().min(req.nr_name.len() - 1);
        req.nr_name[..n].copy_from_slice(&name.as_bytes()[..n]);
        let raw = plain_bytes(&req).to_vec();
        self.bytes()[HEADER_AT..HEADER_AT + raw.len()].copy_from_slice(&raw);
    }

    /// Where the call may write: the header, the body and every option
    /// header reachable from the list, as the arena held them before.
    fn writable(&mut self, call: Call) -> Vec<std::ops::Range<usize>> {
        let base = self.base();
        let bytes = self.bytes();
        let in_arena = |addr: u64, len: usize| -> Option<std::ops::Range<usize>> {
            let off = usize::try_from(addr.checked_sub(base)?).ok()?;
            (off + len <= ARENA).then_some(off..off + len)
        };
        let header_len = match call {
            Call::Ctrl => size_of::<NmreqHeader>(),
            Call::RegIf | Call::GInfo => size_of::<netmap_ring::abi::Nmreq>(),
        };
        let mut out = Vec::with_capacity(2 + OPTIONS_MAX);
        out.push(HEADER_AT..HEADER_AT + header_len);
        if let Call::Ctrl = call {
            let hdr: NmreqHeader = read_plain(&bytes[HEADER_AT..]);
            // The largest body any request has.
            out.extend(in_arena(hdr.nr_body, 64));
            let mut next = hdr.nr_options;
            for _ in 0..64 {
                let Some(r) = in_arena(next, size_of::<NmreqOption>()) else {
                    break;
                };
                let opt: NmreqOption = read_plain(&bytes[r.clone()]);
                out.push(r);
                next = opt.nro_next;
            }
        }
        out
    }

    /// A bound file describes a region that holds its `netmap_if`, and
    /// syncs.
    fn check_bound(file: &NmFile) -> Result<(), String> {
        let Some(bound) = file.bound() else {
            return Ok(());
        };
        let g = bound.geometry;
        if g.memsize == 0 || g.if_offset >= g.memsize {
            return Err(format!(
                "bound with the netmap_if at {} of a {}-byte region",
                g.if_offset, g.memsize
            ));
        }
        bound
            .txsync()
            .map_err(|e| format!("txsync of {}: {e}", bound.name))?;
        bound
            .rxsync()
            .map_err(|e| format!("rxsync of {}: {e}", bound.name))
    }
}

impl Default for Nmreq {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Nmreq {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// As root, moves this thread into a network namespace of its own (holding
/// only a loopback interface that is down): no fuzzed name can bind or
/// attach a real interface. Without root no program can open one anyway.
fn own_network_namespace() {
    // SAFETY: unshare changes only this thread's namespaces; it takes no
    // pointers. A failure (not root) leaves everything as it was.
    let _ = unsafe { libc::unshare(libc::CLONE_NEWNET) };
}

/// The bytes of a plain C structure.
fn plain_bytes<T: crate::umem::Plain>(value: &T) -> &[u8] {
    // SAFETY: `T: Plain` is a #[repr(C)] structure of integers without
    // padding (the ABI module asserts the layouts), so every byte is
    // initialised; the slice borrows `value`.
    unsafe { std::slice::from_raw_parts((value as *const T).cast::<u8>(), size_of::<T>()) }
}

/// A plain C structure read from the front of `bytes`.
fn read_plain<T: crate::umem::Plain + Default>(bytes: &[u8]) -> T {
    let mut value = T::default();
    let n = size_of::<T>().min(bytes.len());
    // SAFETY: copies at most size_of::<T>() bytes into `value`, any byte
    // pattern is a valid `T: Plain`; the regions do not overlap.
    unsafe {
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), (&mut value as *mut T).cast::<u8>(), n)
    };
    value
}

impl Target for Nmreq {
    fn name(&self) -> &'static str {
        "nmreq"
    }

    fn max_len(&self) -> usize {
        1024
    }

    fn run(&mut self, data: &[u8]) -> Result<(), String> {
        let mut input = Input::new(data);
        let file = NmFile::new(None);
        for step in 0..4 {
            if step > 0 && !input.more() {
                break;
            }
            let (call, addr) = self.build(&mut input);
            let before = self.bytes().to_vec();
            let ctrl_before: NmreqHeader = read_plain(&before[HEADER_AT..]);
            let allowed = self.writable(call);
            let result = match call {
                Call::Ctrl => crate::ctrl::ioctl(&file, addr),
                Call::RegIf => crate::legacy::regif(&file, addr),
                Call::GInfo => crate::legacy::ginfo(&file, addr),
            };
            let after = self.bytes().to_vec();
            if let Some(at) = (0..ARENA)
                .find(|&i| before[i] != after[i] && !allowed.iter().any(|r| r.contains(&i)))
            {
                return Err(format!(
                    "step {step} {call:?} ({result:?}) wrote arena byte {at} outside the request (allowed {allowed:?})"
                ));
            }
            match &result {
                Err(e) if !NETMAP_ERRNOS.contains(&e.errno()) => {
                    return Err(format!(
                    "step {step} {call:?} failed with errno {}, which netmap never returns: {e}",
                    e.errno()
                ))
                }
                _ => {}
            }
            // A body or option placed over the header is written there, as
            // the kernel would write it.
            let header = &allowed[0];
            let aliased = allowed[1..]
                .iter()
                .any(|r| r.start < header.end && header.start < r.end);
            if let (Call::Ctrl, false) = (call, aliased) {
                let ctrl_after: NmreqHeader = read_plain(&after[HEADER_AT..]);
                let same = |h: &NmreqHeader| (h.nr_version, h.nr_reqtype, h.nr_body, h.nr_options);
                if same(&ctrl_before) != same(&ctrl_after) {
                    return Err(format!(
                        "step {step} changed the header's version, type or pointers: {ctrl_before:?} -> {ctrl_after:?}"
                    ));
                }
            }
            if result.is_ok() {
                Self::check_bound(&file).map_err(|e| format!("step {step} {call:?}: {e}"))?;
            }
        }
        Ok(())
    }
}

#[test]
fn fuzz_control_requests() {
    netmap_fuzz::runner::check(&mut Nmreq::new());
}
