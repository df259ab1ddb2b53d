//! The netmap ABI checked from both languages.
//!
//! `tests/c/abi_layout.c` includes our header `include/netmap_abi.h`; this
//! test compiles it with the system C compiler (`$CC`, default `cc`) and
//!
//! 1. compares every size, alignment and field offset it prints with
//!    `offset_of!`/`size_of`/`align_of` on the Rust structures, and every
//!    constant with `netmap_ring::abi` (both lists must match exactly: a
//!    field or constant present on one side only is an error);
//! 2. writes a `netmap_if`, rings, slots, payloads and an extra-buffer list
//!    into a file using only the Rust offset constants, and checks that the C
//!    program, reading the file through the header's structures, sees every
//!    value;
//! 3. lets the C program build a region through its structures and checks
//!    that the Rust offsets read back everything it reports.
#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::mem::{align_of, offset_of, size_of};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use netmap_ring::abi::*;

type Facts = BTreeMap<String, String>;

// ---------------------------------------------------------------------------
// Building and running the C program
// ---------------------------------------------------------------------------

fn work_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("abi_c-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create the test's temporary directory");
    dir
}

/// The compiled C program, built once per test process.
fn c_program() -> &'static Path {
    static PROGRAM: OnceLock<PathBuf> = OnceLock::new();
    PROGRAM.get_or_init(|| {
        let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
        let output = work_dir().join("abi_layout");
        let compiler = std::env::var("CC").unwrap_or_else(|_| "cc".to_string());
        let result = Command::new(&compiler)
            .args([
                "-std=c11",
                "-Wall",
                "-Wextra",
                "-Wpedantic",
                "-Werror",
                "-O1",
            ])
            .arg("-I")
            .arg(crate_dir.join("include"))
            .arg(crate_dir.join("tests/c/abi_layout.c"))
            .arg("-o")
            .arg(&output)
            .output();
        let built = match result {
            Ok(built) => built,
            Err(err) => panic!(
                "the C half of the ABI test needs a C compiler, and `{compiler}` could not be \
                 started ({err}); install one (e.g. `apt-get install gcc`) or point CC at it"
            ),
        };
        assert!(
            built.status.success(),
            "{compiler} failed to build tests/c/abi_layout.c:\n{}",
            String::from_utf8_lossy(&built.stderr)
        );
        output
    })
}

fn run_c(args: &[&str]) -> String {
    let out = Command::new(c_program())
        .args(args)
        .output()
        .expect("run the C program");
    let stdout = String::from_utf8(out.stdout).expect("C output is UTF-8");
    assert!(
        out.status.success(),
        "abi_layout {args:?} failed ({}):\n{stdout}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// `key value...` lines into a map; a line with a key only maps to "".
fn parse_facts(text: &str, keep: impl Fn(&str) -> bool) -> Facts {
    let mut facts = Facts::new();
    for line in text.lines().filter(|l| keep(l)) {
        let (key, value) = line.split_once(' ').unwrap_or((line, ""));
        let previous = facts.insert(key.to_string(), value.trim().to_string());
        assert!(previous.is_none(), "C printed {key} twice");
    }
    facts
}

/// Every key on both sides, with equal values; lists all differences.
fn assert_same_facts(what: &str, (a_name, a): (&str, &Facts), (b_name, b): (&str, &Facts)) {
    let mut problems = String::new();
    for (key, value) in a {
        match b.get(key) {
            None => writeln!(problems, "  {key}: {a_name} {value}, missing in {b_name}").unwrap(),
            Some(b_value) if b_value != value => {
                writeln!(problems, "  {key}: {a_name} {value}, {b_name} {b_value}").unwrap()
            }
            Some(_) => {}
        }
    }
    for (key, value) in b {
        if !a.contains_key(key) {
            writeln!(problems, "  {key}: {b_name} {value}, missing in {a_name}").unwrap();
        }
    }
    assert!(
        problems.is_empty(),
        "{what} differ between {a_name} and {b_name}:\n{problems}"
    );
    assert!(!a.is_empty(), "{what}: nothing compared");
}

// ---------------------------------------------------------------------------
// 1. Layout and constants
// ---------------------------------------------------------------------------

macro_rules! layout_facts {
    ($facts:ident; $($ty:ty => $c_name:literal { $($field:ident),* $(,)? })*) => {$(
        $facts.insert(
            $c_name.to_string(),
            format!("{} {}", size_of::<$ty>(), align_of::<$ty>()),
        );
        $($facts.insert(
            format!("{}.{}", $c_name, stringify!($field)),
            offset_of!($ty, $field).to_string(),
        );)*
    )*};
}

fn rust_layout() -> Facts {
    let mut facts = Facts::new();
    layout_facts! { facts;
        NetmapSlot => "netmap_slot" { buf_idx, len, flags, ptr }
        Timeval => "timeval" { tv_sec, tv_usec }
        NetmapRing => "netmap_ring" {
            buf_ofs, num_slots, nr_buf_size, ringid, dir, head, cur, tail,
            flags, ts, offset_mask, buf_align, sem, slot,
        }
        NetmapIf => "netmap_if" {
            ni_name, ni_version, ni_flags, ni_tx_rings, ni_rx_rings,
            ni_bufs_head, ni_host_tx_rings, ni_host_rx_rings, ni_spare1,
            ring_ofs,
        }
        Nmreq => "nmreq" {
            nr_name, nr_version, nr_offset, nr_memsize, nr_tx_slots,
            nr_rx_slots, nr_tx_rings, nr_rx_rings, nr_ringid, nr_cmd,
            nr_arg1, nr_arg2, nr_arg3, nr_flags, spare2,
        }
        NmreqHeader => "nmreq_header" {
            nr_version, nr_reqtype, nr_reserved, nr_name, nr_options, nr_body,
        }
        NmreqRegister => "nmreq_register" {
            nr_offset, nr_memsize, nr_tx_slots, nr_rx_slots, nr_tx_rings,
            nr_rx_rings, nr_host_tx_rings, nr_host_rx_rings, nr_mem_id,
            nr_ringid, nr_mode, nr_extra_bufs, nr_flags,
        }
        NmreqOption => "nmreq_option" { nro_next, nro_reqtype, nro_status, nro_size }
        NmreqPoolsInfo => "nmreq_pools_info" {
            nr_memsize, nr_mem_id, pad1, nr_if_pool_offset,
            nr_if_pool_objtotal, nr_if_pool_objsize, nr_ring_pool_offset,
            nr_ring_pool_objtotal, nr_ring_pool_objsize, nr_buf_pool_offset,
            nr_buf_pool_objtotal, nr_buf_pool_objsize,
        }
        NmreqOptExtmem => "nmreq_opt_extmem" { nro_opt, nro_usrptr, nro_info }
        NmreqOptOffsets => "nmreq_opt_offsets" {
            nro_opt, nro_max_offset, nro_initial_offset, nro_offset_bits,
            nro_tx_align, nro_min_gap,
        }
        NmIfreq => "nm_ifreq" { nifr_name, data }
    }
    facts
}

macro_rules! constant_facts {
    ($facts:ident; $($name:ident),* $(,)?) => {$(
        $facts.insert(stringify!($name).to_string(), ($name as u64).to_string());
    )*};
}

fn rust_constants() -> Facts {
    let mut facts = Facts::new();
    constant_facts! { facts;
        NETMAP_API, NETMAP_MIN_API, NETMAP_MAX_API, NM_CACHE_ALIGN,
        NETMAP_REQ_IFNAMSIZ, NETMAP_REQ_MAXSIZE, NETMAP_MAX_FRAGS,
        NM_IFRDATA_LEN, IFNAMSIZ,
        NS_BUF_CHANGED, NS_REPORT, NS_FORWARD, NS_NO_LEARN, NS_INDIRECT,
        NS_MOREFRAG, NS_TXMON, NS_PORT_SHIFT, NS_PORT_MASK,
        NR_TIMESTAMP, NR_FORWARD, NI_PRIV_MEM,
        NR_REG_DEFAULT, NR_REG_ALL_NIC, NR_REG_SW, NR_REG_NIC_SW,
        NR_REG_ONE_NIC, NR_REG_PIPE_MASTER, NR_REG_PIPE_SLAVE, NR_REG_NULL,
        NR_REG_ONE_SW, NR_REG_MASK,
        NR_MONITOR_TX, NR_MONITOR_RX, NR_ZCOPY_MON, NR_EXCLUSIVE,
        NR_RX_RINGS_ONLY, NR_TX_RINGS_ONLY, NR_ACCEPT_VNET_HDR,
        NR_DO_RX_POLL, NR_NO_TX_POLL,
        NETMAP_REQ_REGISTER, NETMAP_REQ_PORT_INFO_GET, NETMAP_REQ_VALE_ATTACH,
        NETMAP_REQ_VALE_DETACH, NETMAP_REQ_VALE_LIST, NETMAP_REQ_PORT_HDR_SET,
        NETMAP_REQ_PORT_HDR_GET, NETMAP_REQ_VALE_NEWIF, NETMAP_REQ_VALE_DELIF,
        NETMAP_REQ_VALE_POLLING_ENABLE, NETMAP_REQ_VALE_POLLING_DISABLE,
        NETMAP_REQ_POOLS_INFO_GET, NETMAP_REQ_SYNC_KLOOP_START,
        NETMAP_REQ_SYNC_KLOOP_STOP, NETMAP_REQ_CSB_ENABLE,
        NETMAP_REQ_OPT_EXTMEM, NETMAP_REQ_OPT_SYNC_KLOOP_EVENTFDS,
        NETMAP_REQ_OPT_CSB, NETMAP_REQ_OPT_SYNC_KLOOP_MODE,
        NETMAP_REQ_OPT_OFFSETS, NETMAP_REQ_OPT_MAX,
        NM_OPT_SYNC_KLOOP_DIRECT_TX, NM_OPT_SYNC_KLOOP_DIRECT_RX,
        NETMAP_POLLING_MODE_SINGLE_CPU, NETMAP_POLLING_MODE_MULTI_CPU,
        NETMAP_HW_RING, NETMAP_SW_RING, NETMAP_RING_MASK, NETMAP_NO_TX_POLL,
        NETMAP_DO_RX_POLL,
        NETMAP_BDG_ATTACH, NETMAP_BDG_DETACH, NETMAP_BDG_REGOPS,
        NETMAP_BDG_LIST, NETMAP_BDG_VNET_HDR, NETMAP_BDG_NEWIF,
        NETMAP_BDG_DELIF, NETMAP_PT_HOST_CREATE, NETMAP_PT_HOST_DELETE,
        NETMAP_BDG_POLLING_ON, NETMAP_BDG_POLLING_OFF, NETMAP_VNET_HDR_GET,
        NETMAP_BDG_HOST,
        NIOCGINFO, NIOCREGIF, NIOCTXSYNC, NIOCRXSYNC, NIOCCONFIG, NIOCCTRL,
    }
    facts
}

#[test]
fn every_size_alignment_and_offset_matches_c() {
    let output = run_c(&["layout"]);
    let c = parse_facts(&output, |l| !l.starts_with("const "));
    assert_same_facts("struct layouts", ("Rust", &rust_layout()), ("C", &c));
}

#[test]
fn every_constant_matches_c() {
    let output = run_c(&["layout"]);
    let constants: String = output
        .lines()
        .filter_map(|l| l.strip_prefix("const "))
        .map(|l| format!("{l}\n"))
        .collect();
    let c = parse_facts(&constants, |_| true);
    assert_same_facts("constants", ("Rust", &rust_constants()), ("C", &c));
}

// ---------------------------------------------------------------------------
// Reading and writing a region through the Rust offsets only
// ---------------------------------------------------------------------------

fn read<const N: usize>(mem: &[u8], at: usize) -> [u8; N] {
    mem.get(at..at + N)
        .unwrap_or_else(|| {
            panic!(
                "read of {N} bytes at {at} is outside the {}-byte region",
                mem.len()
            )
        })
        .try_into()
        .expect("exact length")
}
fn read_u16(mem: &[u8], at: usize) -> u16 {
    u16::from_ne_bytes(read(mem, at))
}
fn read_u32(mem: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes(read(mem, at))
}
fn read_u64(mem: &[u8], at: usize) -> u64 {
    u64::from_ne_bytes(read(mem, at))
}
fn read_i64(mem: &[u8], at: usize) -> i64 {
    i64::from_ne_bytes(read(mem, at))
}
fn write(mem: &mut [u8], at: usize, bytes: &[u8]) {
    mem[at..at + bytes.len()].copy_from_slice(bytes);
}

/// Absolute position of a buffer, from a ring's position and header.
fn buffer_at(ring_at: usize, buf_ofs: i64, buf_idx: u32, buf_size: u32) -> usize {
    let at = ring_at as i64 + buf_ofs + i64::from(buf_idx) * i64::from(buf_size);
    usize::try_from(at).expect("buffer before the region")
}

/// The Rust counterpart of the C program's dump: the same keys, read with
/// the offsets of `netmap_ring::abi`.
fn rust_dump(mem: &[u8]) -> Facts {
    let mut facts = Facts::new();
    let mut put = |key: String, value: String| {
        assert!(facts.insert(key.clone(), value).is_none(), "{key} twice");
    };
    let name: Vec<u8> = read::<IFNAMSIZ>(mem, if_off::NAME)
        .into_iter()
        .take_while(|&b| b != 0)
        .collect();
    put(
        "if.ni_name".into(),
        String::from_utf8(name).expect("ASCII name"),
    );
    let if_u32 = |off| read_u32(mem, off);
    for (key, off) in [
        ("ni_version", if_off::VERSION),
        ("ni_flags", if_off::FLAGS),
        ("ni_tx_rings", if_off::TX_RINGS),
        ("ni_rx_rings", if_off::RX_RINGS),
        ("ni_bufs_head", if_off::BUFS_HEAD),
        ("ni_host_tx_rings", if_off::HOST_TX_RINGS),
        ("ni_host_rx_rings", if_off::HOST_RX_RINGS),
    ] {
        put(format!("if.{key}"), if_u32(off).to_string());
    }
    let total = if_u32(if_off::TX_RINGS)
        + if_u32(if_off::HOST_TX_RINGS)
        + if_u32(if_off::RX_RINGS)
        + if_u32(if_off::HOST_RX_RINGS);
    let mut any_ring = None;
    for i in 0..total {
        let ofs = read_i64(mem, ring_ofs_offset(i));
        put(format!("if.ring_ofs.{i}"), ofs.to_string());
        if ofs == 0 {
            continue;
        }
        let at = usize::try_from(ofs).expect("ring before the netmap_if");
        any_ring = Some(at);
        let ring = |key: &str, value: String| (format!("ring.{i}.{key}"), value);
        let buf_ofs = read_i64(mem, at + ring_off::BUF_OFS);
        let num_slots = read_u32(mem, at + ring_off::NUM_SLOTS);
        let buf_size = read_u32(mem, at + ring_off::NR_BUF_SIZE);
        for (key, value) in [
            ring("buf_ofs", buf_ofs.to_string()),
            ring("num_slots", num_slots.to_string()),
            ring("nr_buf_size", buf_size.to_string()),
            ring("ringid", read_u16(mem, at + ring_off::RINGID).to_string()),
            ring("dir", read_u16(mem, at + ring_off::DIR).to_string()),
            ring("head", read_u32(mem, at + ring_off::HEAD).to_string()),
            ring("cur", read_u32(mem, at + ring_off::CUR).to_string()),
            ring("tail", read_u32(mem, at + ring_off::TAIL).to_string()),
            ring("flags", read_u32(mem, at + ring_off::FLAGS).to_string()),
            ring(
                "ts.tv_sec",
                read_i64(mem, at + ring_off::TS_SEC).to_string(),
            ),
            ring(
                "ts.tv_usec",
                read_i64(mem, at + ring_off::TS_USEC).to_string(),
            ),
            ring(
                "offset_mask",
                read_u64(mem, at + ring_off::OFFSET_MASK).to_string(),
            ),
            ring(
                "buf_align",
                read_u64(mem, at + ring_off::BUF_ALIGN).to_string(),
            ),
        ] {
            put(key, value);
        }
        for j in 0..num_slots {
            let slot = at + slot_offset(j);
            let buf_idx = read_u32(mem, slot + slot_off::BUF_IDX);
            let len = read_u16(mem, slot + slot_off::LEN);
            let key = |field: &str| format!("ring.{i}.slot.{j}.{field}");
            put(key("buf_idx"), buf_idx.to_string());
            put(key("len"), len.to_string());
            put(
                key("flags"),
                read_u16(mem, slot + slot_off::FLAGS).to_string(),
            );
            put(key("ptr"), read_u64(mem, slot + slot_off::PTR).to_string());
            assert!(
                u32::from(len) <= buf_size,
                "slot {j} of ring {i}: len {len} > buffer size"
            );
            let payload_at = buffer_at(at, buf_ofs, buf_idx, buf_size);
            let payload = &mem[payload_at..payload_at + usize::from(len)];
            put(
                key("payload"),
                payload.iter().map(|b| format!("{b:02x}")).collect(),
            );
        }
    }
    let mut extra = Vec::new();
    let mut idx = if_u32(if_off::BUFS_HEAD);
    while idx != 0 {
        assert!(extra.len() < 4096, "extra-buffer list does not end");
        let ring_at = any_ring.expect("a ring to address extra buffers");
        extra.push(idx.to_string());
        let buf_ofs = read_i64(mem, ring_at + ring_off::BUF_OFS);
        let buf_size = read_u32(mem, ring_at + ring_off::NR_BUF_SIZE);
        idx = read_u32(mem, buffer_at(ring_at, buf_ofs, idx, buf_size));
    }
    put("if.extra_bufs".into(), extra.join(" "));
    facts
}

/// One ring of the Rust-built region.
struct RingPlan {
    num_slots: u32,
    dir: u16,
    ringid: u16,
}

/// Build a region with the Rust offsets: a netmap_if with every kind of
/// ring (one host TX ring left unbound), one ring before the buffer pool
/// (positive `buf_ofs`) and the others after it (negative `buf_ofs`), a
/// one-slot ring, a buffer size that is not a power of two, and an
/// extra-buffer list. Returns the bytes and the facts written.
fn rust_region() -> (Vec<u8>, Facts) {
    const BUF_SIZE: u32 = 192;
    const NBUFS: u32 = 40;
    let align_up = |x: usize| x.div_ceil(RING_ALIGN) * RING_ALIGN;
    // ring_ofs[] order: NIC tx (1), host tx (1), NIC rx (2), host rx (1).
    let plans = [
        Some(RingPlan {
            num_slots: 8,
            dir: 0,
            ringid: 0,
        }),
        None,
        Some(RingPlan {
            num_slots: 8,
            dir: 1,
            ringid: 0,
        }),
        Some(RingPlan {
            num_slots: 1,
            dir: 1,
            ringid: 1,
        }),
        Some(RingPlan {
            num_slots: 4,
            dir: 1,
            ringid: 2,
        }),
    ];
    let total = plans.len() as u32;

    // Place: netmap_if, ring 0, buffer pool, the remaining rings.
    let mut ring_at = vec![0usize; plans.len()];
    let mut next_free = align_up(if_bytes(total));
    ring_at[0] = next_free;
    next_free += ring_bytes(8);
    let pool_at = align_up(next_free);
    next_free = pool_at + (NBUFS * BUF_SIZE) as usize;
    for (i, plan) in plans.iter().enumerate().skip(1) {
        if let Some(plan) = plan {
            ring_at[i] = align_up(next_free);
            next_free = ring_at[i] + ring_bytes(plan.num_slots);
        }
    }
    let mut mem = vec![0u8; next_free];
    let mut facts = Facts::new();
    let mut fact = |key: String, value: String| {
        facts.insert(key, value);
    };

    let name = b"vale0:rust";
    write(&mut mem, if_off::NAME, name);
    fact("if.ni_name".into(), "vale0:rust".into());
    for (key, off, value) in [
        ("ni_version", if_off::VERSION, NETMAP_API),
        ("ni_flags", if_off::FLAGS, NI_PRIV_MEM),
        ("ni_tx_rings", if_off::TX_RINGS, 1),
        ("ni_rx_rings", if_off::RX_RINGS, 2),
        ("ni_bufs_head", if_off::BUFS_HEAD, 36),
        ("ni_host_tx_rings", if_off::HOST_TX_RINGS, 1),
        ("ni_host_rx_rings", if_off::HOST_RX_RINGS, 1),
    ] {
        write(&mut mem, off, &value.to_ne_bytes());
        fact(format!("if.{key}"), value.to_string());
    }

    let mut next_buf = 2u32; // buffers 0 and 1 are reserved
    for (i, plan) in plans.iter().enumerate() {
        let ofs = ring_at[i] as i64;
        write(&mut mem, ring_ofs_offset(i as u32), &ofs.to_ne_bytes());
        fact(format!("if.ring_ofs.{i}"), ofs.to_string());
        let Some(plan) = plan else { continue };
        let at = ring_at[i];
        let n = plan.num_slots;
        let buf_ofs = pool_at as i64 - at as i64;
        let k = i as u32;
        let (head, cur, tail) = ((1 + k) % n, (2 + k) % n, (5 + k) % n);
        let flags = if i == 3 {
            NR_TIMESTAMP | NR_FORWARD
        } else {
            NR_TIMESTAMP
        };
        let (sec, usec) = (1_700_000_123i64 + i as i64, 123_456i64 + i as i64);
        let (mask, align) = if i == 4 { (0x3ffu64, 64u64) } else { (0, 0) };
        let ring = |key: &str| format!("ring.{i}.{key}");
        let mut put_ring = |off: usize, bytes: &[u8], key: &str, value: String| {
            write(&mut mem, at + off, bytes);
            fact(ring(key), value);
        };
        put_ring(
            ring_off::BUF_OFS,
            &buf_ofs.to_ne_bytes(),
            "buf_ofs",
            buf_ofs.to_string(),
        );
        put_ring(
            ring_off::NUM_SLOTS,
            &n.to_ne_bytes(),
            "num_slots",
            n.to_string(),
        );
        put_ring(
            ring_off::NR_BUF_SIZE,
            &BUF_SIZE.to_ne_bytes(),
            "nr_buf_size",
            BUF_SIZE.to_string(),
        );
        put_ring(
            ring_off::RINGID,
            &plan.ringid.to_ne_bytes(),
            "ringid",
            plan.ringid.to_string(),
        );
        put_ring(
            ring_off::DIR,
            &plan.dir.to_ne_bytes(),
            "dir",
            plan.dir.to_string(),
        );
        put_ring(
            ring_off::HEAD,
            &head.to_ne_bytes(),
            "head",
            head.to_string(),
        );
        put_ring(ring_off::CUR, &cur.to_ne_bytes(), "cur", cur.to_string());
        put_ring(
            ring_off::TAIL,
            &tail.to_ne_bytes(),
            "tail",
            tail.to_string(),
        );
        put_ring(
            ring_off::FLAGS,
            &flags.to_ne_bytes(),
            "flags",
            flags.to_string(),
        );
        put_ring(
            ring_off::TS_SEC,
            &sec.to_ne_bytes(),
            "ts.tv_sec",
            sec.to_string(),
        );
        put_ring(
            ring_off::TS_USEC,
            &usec.to_ne_bytes(),
            "ts.tv_usec",
            usec.to_string(),
        );
        put_ring(
            ring_off::OFFSET_MASK,
            &mask.to_ne_bytes(),
            "offset_mask",
            mask.to_string(),
        );
        put_ring(
            ring_off::BUF_ALIGN,
            &align.to_ne_bytes(),
            "buf_align",
            align.to_string(),
        );
        for j in 0..n {
            let slot = at + slot_offset(j);
            let buf_idx = next_buf;
            next_buf += 1;
            let len = (10 + (37 * j + 5 * k) % (BUF_SIZE - 10)) as u16;
            let slot_flags = (NS_MOREFRAG * (j % 2) as u16) | ((j as u16 + 1) << NS_PORT_SHIFT);
            let ptr = 0xfedc_ba98_7654_3210u64 ^ (u64::from(k) << 48) ^ u64::from(j);
            let payload: Vec<u8> = (0..len)
                .map(|b| (k * 37 + j * 11 + u32::from(b)) as u8)
                .collect();
            write(&mut mem, slot + slot_off::BUF_IDX, &buf_idx.to_ne_bytes());
            write(&mut mem, slot + slot_off::LEN, &len.to_ne_bytes());
            write(&mut mem, slot + slot_off::FLAGS, &slot_flags.to_ne_bytes());
            write(&mut mem, slot + slot_off::PTR, &ptr.to_ne_bytes());
            write(
                &mut mem,
                buffer_at(at, buf_ofs, buf_idx, BUF_SIZE),
                &payload,
            );
            let key = |field: &str| format!("ring.{i}.slot.{j}.{field}");
            fact(key("buf_idx"), buf_idx.to_string());
            fact(key("len"), len.to_string());
            fact(key("flags"), slot_flags.to_string());
            fact(key("ptr"), ptr.to_string());
            fact(
                key("payload"),
                payload.iter().map(|b| format!("{b:02x}")).collect(),
            );
        }
    }
    assert!(
        next_buf < 36,
        "slot buffers must not overlap the extra buffers"
    );
    // Extra buffers 36 -> 39 -> 37 -> end, linked through their first u32.
    for (idx, link) in [(36u32, 39u32), (39, 37), (37, 0)] {
        write(
            &mut mem,
            pool_at + (idx * BUF_SIZE) as usize,
            &link.to_ne_bytes(),
        );
    }
    fact("if.extra_bufs".into(), "36 39 37".into());
    (mem, facts)
}

// ---------------------------------------------------------------------------
// 2. and 3. Data written by one language, read by the other
// ---------------------------------------------------------------------------

#[test]
fn c_reads_what_rust_wrote_through_the_offsets() {
    let (mem, written) = rust_region();
    assert_same_facts(
        "the Rust-written region",
        ("written", &written),
        ("read back by Rust", &rust_dump(&mem)),
    );
    let path = work_dir().join("rust_region.bin");
    std::fs::write(&path, &mem).expect("write the region file");
    let output = run_c(&["dump", path.to_str().expect("UTF-8 path")]);
    assert_same_facts(
        "the Rust-written region",
        ("written by Rust", &written),
        ("read by C", &parse_facts(&output, |_| true)),
    );
}

#[test]
fn rust_reads_what_c_wrote_through_the_structs() {
    let path = work_dir().join("c_region.bin");
    let output = run_c(&["fill", path.to_str().expect("UTF-8 path")]);
    let c_facts = parse_facts(&output, |_| true);
    let mem = std::fs::read(&path).expect("read the C-written region");
    assert_same_facts(
        "the C-written region",
        ("read by Rust", &rust_dump(&mem)),
        ("written by C", &c_facts),
    );
    // The C region exercises an unbound ring and a non-power-of-two buffer.
    assert_eq!(c_facts.get("if.ring_ofs.1").map(String::as_str), Some("0"));
    assert_eq!(
        c_facts.get("ring.0.nr_buf_size").map(String::as_str),
        Some("2112")
    );
}
