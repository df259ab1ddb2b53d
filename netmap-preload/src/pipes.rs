//! Pipes in another port's memory, as lb opens them.
//!
//! netmap's lb registers its output pipes `BASE{k` with the `nr_mem_id` of
//! its input port, so that it can swap the input's buffers into the pipes'
//! TX slots, and refuses to run if the pipes' memory differs. The software
//! engine keeps the pipes of a NIC-style parent (`BASE{k`) in their own
//! memory and the pipes of a VALE port (`valeS:BASE{k`) in the switch's.
//! So a pipe `BASE{k` registered with the `nr_mem_id` of switch `valeS`
//! becomes the pipe `valeS:BASE{k`, and the family `BASE` is recorded as
//! living there (`$NETMAP_RS_DIR/preload-pipes/BASE`), so that the
//! consumers of `BASE}k`, which know nothing of it, meet the same pipes.
//! A record whose switch is gone is ignored. Software engine only.

use std::path::PathBuf;

use crate::error::NmError;
use crate::file::RegRequest;
use crate::mem;

fn records() -> PathBuf {
    netmap_ring::rundir::runtime_dir().join("preload-pipes")
}

/// `BASE` of a NIC-style pipe name `BASE{k` / `BASE}k`.
fn family(name: &str) -> Option<&str> {
    if name.starts_with(netmap_ring::abi::NM_BDG_NAME) {
        return None;
    }
    let brace = name.find(['{', '}'])?;
    let base = &name[..brace];
    let valid = !base.is_empty() && base.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    valid.then_some(base)
}

fn switch_exists(switch: &str) -> bool {
    vale_soft::admin::domain_names().iter().any(|d| d == switch)
}

/// Rewrites `req.name` to the switch a pipe family lives in, recording the
/// family when `req.mem_id` names a switch's memory.
pub fn place(req: &mut RegRequest) -> Result<(), NmError> {
    let Some(base) = family(&req.name) else {
        return Ok(());
    };
    let record = records().join(base);
    let switch = match mem::switch_of(req.mem_id) {
        Some(switch) => {
            std::fs::create_dir_all(records()).map_err(|e| NmError::Errno {
                errno: e.raw_os_error().unwrap_or(libc::EIO),
                why: format!("pipe records: {e}"),
            })?;
            let tmp = records().join(format!(".{base}.{}", std::process::id()));
            let written =
                std::fs::write(&tmp, &switch).and_then(|()| std::fs::rename(&tmp, &record));
            if let Err(e) = written {
                let _ = std::fs::remove_file(&tmp);
                return Err(NmError::Errno {
                    errno: e.raw_os_error().unwrap_or(libc::EIO),
                    why: format!("pipe record {}: {e}", record.display()),
                });
            }
            switch
        }
        None => match std::fs::read_to_string(&record) {
            Ok(switch) if switch_exists(switch.trim()) => switch.trim().to_owned(),
            _ => return Ok(()),
        },
    };
    req.name = format!("{switch}:{}", req.name);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_nic_style_pipes_have_a_family() {
        assert_eq!(family("lb{0"), Some("lb"));
        assert_eq!(family("out_1}3"), Some("out_1"));
        assert_eq!(family("vale0:x{1"), None);
        assert_eq!(family("eth0"), None);
        assert_eq!(family("{1"), None);
        assert_eq!(family("a-b{1"), None);
    }
}
