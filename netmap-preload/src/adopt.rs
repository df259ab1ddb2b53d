//! Netmap descriptors received from another process (SCM_RIGHTS, or kept
//! across `exec`): software engine only.
//!
//! The kernel finds a binding from the open file, so a descriptor sent to
//! another process brings its binding along. Here the binding is a handle
//! in the registering process; the engine state behind it is in shared
//! memory. So a registration records, under the eventfd's system-wide id
//! (`eventfd-id` in `/proc/self/fdinfo`), where its binding lives
//! (`$NETMAP_RS_DIR/preload-fds/<id>`: domain and netmap_if offset), and a
//! process that meets an unknown eventfd in a netmap `ioctl` or `mmap`
//! looks the id up and builds a handle to that same binding: the same
//! netmap_if, rings and wake-up FIFO, synced with the engine's functions.
//!
//! The handle is the engine's own (`vale_soft::soft::SoftBinding::adopt`).
//! The binding still belongs to the registering process: when that process
//! closes its last descriptor (or dies), the binding ends and the
//! receiver's syncs fail with ENXIO (the kernel keeps it to the last close
//! anywhere).

use std::os::fd::RawFd;
use std::path::PathBuf;
use std::sync::Arc;

use vale_offload::placement::DomainKind;

use crate::file::{Bound, NmFile};

fn records() -> PathBuf {
    netmap_ring::rundir::runtime_dir().join("preload-fds")
}

/// The system-wide id of the eventfd `fd`, if it is one.
pub fn eventfd_id(fd: RawFd) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("eventfd-id:"))
        .and_then(|v| v.trim().parse().ok())
}

/// Where a soft binding lives, for other processes.
pub struct Record {
    pub domain: String,
    pub kind: DomainKind,
    pub if_offset: usize,
}

/// Records the binding of eventfd `id` (after a successful registration).
pub fn publish(id: u64, record: &Record, nr_flags: u64, name: &str) {
    let kind = match record.kind {
        DomainKind::Switch => "switch",
        DomainKind::Pipes => "pipes",
    };
    let text = format!(
        "{}\n{kind}\n{}\n{nr_flags}\n{name}\n{}\n",
        record.domain,
        record.if_offset,
        std::process::id()
    );
    let dir = records();
    let _ = std::fs::create_dir_all(&dir);
    let tmp = dir.join(format!(".{id}.{}", std::process::id()));
    if std::fs::write(&tmp, text).is_ok() {
        let _ = std::fs::rename(&tmp, dir.join(id.to_string()));
    }
}

/// Forgets the record of eventfd `id` (its registering process closed it).
pub fn withdraw(id: u64) {
    let _ = std::fs::remove_file(records().join(id.to_string()));
}

/// The binding behind `fd`, if it is a netmap descriptor another process
/// registered (and recorded). On success the descriptor joins the table.
///
/// Touches no backend unless a record exists (it runs inside `recvmsg`,
/// which a device backend calls while it connects, holding its own locks);
/// records are made by software-engine bindings only.
pub fn adopt(fd: RawFd) -> Option<Arc<NmFile>> {
    let id = eventfd_id(fd)?;
    let text = std::fs::read_to_string(records().join(id.to_string())).ok()?;
    let mut lines = text.lines();
    let domain_name = lines.next()?.to_owned();
    let kind = match lines.next()? {
        "switch" => DomainKind::Switch,
        _ => DomainKind::Pipes,
    };
    let if_offset: usize = lines.next()?.parse().ok()?;
    let nr_flags: u64 = lines.next()?.parse().ok()?;
    let name = lines.next()?.to_owned();
    // The registering process: its binding, and alive (ids are recycled,
    // and a dead process's record may be left behind).
    let owner: u32 = lines.next()?.parse().ok()?;
    // SAFETY: kill with signal 0 only checks that the process exists.
    if owner == 0 || unsafe { libc::kill(owner as libc::pid_t, 0) } != 0 {
        return None;
    }
    let domain = match kind {
        DomainKind::Switch | DomainKind::Pipes => {
            vale_soft::admin::open_existing(&domain_name).ok()?
        }
    };
    let handle = vale_soft::soft::SoftBinding::adopt(domain, if_offset, nr_flags, owner)?;
    let bound = Bound::adopted(Box::new(handle), nr_flags, name).ok()?;
    let file = Arc::new(NmFile::with_bound(bound, Some(id)));
    crate::table::insert(fd, Arc::clone(&file));
    Some(file)
}
