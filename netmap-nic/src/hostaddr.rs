//! The host stack's addresses while a port holds a NIC's host rings.
//!
//! netmap detaches a NIC from the stack and lets the stack talk through
//! the host rings; here the stack talks through a TAP (`tap.rs`), so the
//! interface's global addresses and its routes that are not the kernel's
//! own move to the TAP (which gets the NIC's MAC and MTU), and move back
//! when the port closes. What was moved is written to a record file in
//! the runtime directory *before* anything moves, so that if the holder
//! dies (the kernel removes the TAP with its addresses) the next open of
//! the interface's host rings, or `valectl`, puts them back
//! ([`restore_orphans`]); and a guardian process started with the move
//! (a shell blocked reading a pipe only the holder can write) sees the
//! pipe close when the holder dies, even by SIGKILL, and puts them back
//! at once. The moves are `ip` commands: addresses and routes are few,
//! and `ip` knows every attribute of them.
#![forbid(unsafe_code)]

use std::io;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// Runs `ip ARGS`; the error holds its stderr.
fn ip(args: &[&str]) -> io::Result<String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| io::Error::new(e.kind(), format!("cannot run ip (iproute2 missing?): {e}")))?;
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The identity of the calling thread's network namespace.
fn netns_id() -> u64 {
    std::fs::metadata("/proc/thread-self/ns/net")
        .map(|m| m.ino())
        .unwrap_or(0)
}

fn record_path(ifname: &str, netns: u64) -> PathBuf {
    netmap_ring::rundir::runtime_dir().join(format!(
        "host-{}-{netns}.moved",
        netmap_ring::rundir::file_stem(ifname)
    ))
}

/// The interface's MAC (`xx:xx:..`) and MTU, from `ip -o link`.
fn link_of(ifname: &str) -> io::Result<(String, String)> {
    let out = ip(&["-o", "link", "show", "dev", ifname])?;
    let words: Vec<&str> = out.split_whitespace().collect();
    let after = |key: &str| {
        words
            .iter()
            .position(|w| *w == key)
            .and_then(|i| words.get(i + 1))
            .map(|w| w.to_string())
    };
    match (after("link/ether"), after("mtu")) {
        (Some(mac), Some(mtu)) => Ok((mac, mtu)),
        _ => Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!("{ifname} is not an Ethernet interface"),
        )),
    }
}

/// Global addresses (`10.0.0.1/24`, `fd00::1/64`) of `ifname`.
fn addresses_of(ifname: &str) -> io::Result<Vec<String>> {
    let out = ip(&["-o", "addr", "show", "dev", ifname, "scope", "global"])?;
    Ok(out
        .lines()
        .filter_map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            let family = words.iter().position(|w| *w == "inet" || *w == "inet6")?;
            words.get(family + 1).map(|a| a.to_string())
        })
        .collect())
}

/// Routes through `ifname` that the kernel did not make for an address
/// (those come back with the address): `default via 10.0.0.254`, ...
fn routes_of(ifname: &str) -> io::Result<Vec<String>> {
    let mut routes = Vec::new();
    for family in ["-4", "-6"] {
        let out = ip(&[family, "-o", "route", "show", "dev", ifname])?;
        for line in out.lines() {
            let line = line.replace(" linkdown", "");
            let line = line.trim();
            if line.is_empty() || line.contains("proto kernel") || line.starts_with("fe80") {
                continue;
            }
            routes.push(format!("{family} {line}"));
        }
    }
    Ok(routes)
}

/// What a host-ring port moved from a NIC to its TAP.
#[derive(Debug)]
pub struct HostMove {
    ifname: String,
    tap: String,
    addrs: Vec<String>,
    routes: Vec<String>,
    record: PathBuf,
    /// Puts the addresses back if this process dies holding them.
    guardian: Option<Child>,
}

/// The guardian: `$1` the record, `$2` the holder's pid. It ignores the
/// signals a terminal sends its group (and runs in a group of its own),
/// blocks reading its stdin, whose write end only the holder has
/// (close-on-exec), and stops when told `done` (the holder put the
/// addresses back itself). At end of file the holder is gone: once its
/// TAP has gone with it (at most 5 s), what the record lists goes back
/// on the NIC, if the record is still the holder's.
const GUARDIAN: &str = r#"trap '' INT HUP TERM PIPE
read -r word
[ "$word" = done ] && exit 0
[ -f "$1" ] && grep -qx "pid $2" "$1" || exit 0
ifname=$(sed -n 's/^ifname //p' "$1")
tap=$(sed -n 's/^tap //p' "$1")
i=0
while [ $i -lt 50 ] && ip link show dev "$tap" >/dev/null 2>&1; do sleep 0.1; i=$((i + 1)); done
sed -n 's/^addr //p' "$1" | while read -r addr; do ip addr add "$addr" dev "$ifname"; done
sed -n 's/^route //p' "$1" | while read -r family route; do ip "$family" route add $route dev "$ifname"; done
rm -f "$1"
"#;

/// Starts the guardian of `record` (None if no shell could be started:
/// then only [`restore_orphans`] puts the addresses back after a death).
fn start_guardian(record: &Path) -> Option<Child> {
    Command::new("sh")
        .args(["-c", GUARDIAN, "netmap-host-guardian"])
        .arg(record)
        .arg(std::process::id().to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .ok()
}

/// A parsed record file.
struct Record {
    pid: u32,
    ifname: String,
    addrs: Vec<String>,
    routes: Vec<String>,
}

fn read_record(path: &Path) -> Option<Record> {
    let text = std::fs::read_to_string(path).ok()?;
    let mut rec = Record {
        pid: 0,
        ifname: String::new(),
        addrs: Vec::new(),
        routes: Vec::new(),
    };
    for line in text.lines() {
        let (key, value) = line.split_once(' ')?;
        match key {
            "pid" => rec.pid = value.parse().ok()?,
            "ifname" => rec.ifname = value.to_owned(),
            "addr" => rec.addrs.push(value.to_owned()),
            "route" => rec.routes.push(value.to_owned()),
            _ => {}
        }
    }
    (!rec.ifname.is_empty()).then_some(rec)
}

/// Puts addresses and routes back on `ifname` (what already exists is
/// left alone).
fn put_back(ifname: &str, addrs: &[String], routes: &[String]) {
    for addr in addrs {
        let _ = ip(&["addr", "add", addr, "dev", ifname]);
    }
    for route in routes {
        let mut args: Vec<&str> = route.split_whitespace().collect();
        let family = args.remove(0);
        let mut full = vec![family, "route", "add"];
        full.extend(args);
        full.extend(["dev", ifname]);
        let _ = ip(&full);
    }
}

/// Restores what dead holders of this namespace's host rings moved (every
/// record whose process is gone); returns the interfaces restored.
pub fn restore_orphans() -> Vec<String> {
    let netns = netns_id();
    let suffix = format!("-{netns}.moved");
    let Ok(dir) = std::fs::read_dir(netmap_ring::rundir::runtime_dir()) else {
        return Vec::new();
    };
    let mut restored = Vec::new();
    for entry in dir.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with("host-") || !name.ends_with(&suffix) {
            continue;
        }
        let path = entry.path();
        let Some(rec) = read_record(&path) else {
            continue;
        };
        if Path::new(&format!("/proc/{}", rec.pid)).exists() {
            continue;
        }
        if super::sys::if_index(&rec.ifname).is_ok() {
            put_back(&rec.ifname, &rec.addrs, &rec.routes);
            restored.push(rec.ifname);
        }
        let _ = std::fs::remove_file(&path);
    }
    restored
}

impl HostMove {
    /// Gives `tap` the MAC and MTU of `ifname`, brings it up, and moves
    /// the addresses and routes of `ifname` to it. Fails with
    /// `AddrInUse` when a live process holds this interface's host rings.
    pub fn take(ifname: &str, tap: &str) -> io::Result<Self> {
        let netns = netns_id();
        let record = record_path(ifname, netns);
        if let Some(rec) = read_record(&record) {
            if rec.pid != std::process::id() && Path::new(&format!("/proc/{}", rec.pid)).exists() {
                return Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    format!("the host rings of {ifname} are held by process {}", rec.pid),
                ));
            }
        }
        restore_orphans();
        let (mac, mtu) = link_of(ifname)?;
        ip(&[
            "link", "set", "dev", tap, "address", &mac, "mtu", &mtu, "up",
        ])?;
        let addrs = addresses_of(ifname)?;
        let routes = routes_of(ifname)?;
        let mut text = format!("pid {}\nifname {ifname}\ntap {tap}\n", std::process::id());
        for a in &addrs {
            text.push_str(&format!("addr {a}\n"));
        }
        for r in &routes {
            text.push_str(&format!("route {r}\n"));
        }
        let dir = netmap_ring::rundir::runtime_dir();
        netmap_ring::rundir::ensure_dir(&dir).map_err(io::Error::other)?;
        let temp = record.with_extension("tmp");
        std::fs::write(&temp, text)?;
        std::fs::rename(&temp, &record)?;
        let guardian = start_guardian(&record);
        let moved = Self {
            ifname: ifname.to_owned(),
            tap: tap.to_owned(),
            addrs,
            routes,
            record,
            guardian,
        };
        for addr in &moved.addrs {
            ip(&["addr", "del", addr, "dev", ifname])?;
            ip(&["addr", "add", addr, "dev", tap])?;
        }
        put_back(tap, &[], &moved.routes);
        Ok(moved)
    }
}

impl Drop for HostMove {
    /// Puts the addresses and routes back on the NIC. The TAP is usually
    /// gone already (closed first, taking its copies with it); if it is
    /// still there (an open that failed half-way), it is emptied first so
    /// that the routes can be made again on the NIC.
    fn drop(&mut self) {
        // The guardian stands down first, so that only one of us restores.
        if let Some(mut guardian) = self.guardian.take() {
            if let Some(mut stdin) = guardian.stdin.take() {
                let _ = stdin.write_all(b"done\n");
            }
            let _ = guardian.wait();
        }
        if super::sys::if_index(&self.tap).is_ok() {
            let _ = ip(&["route", "flush", "dev", &self.tap]);
            let _ = ip(&["addr", "flush", "dev", &self.tap, "scope", "global"]);
        }
        if super::sys::if_index(&self.ifname).is_ok() {
            put_back(&self.ifname, &self.addrs, &self.routes);
        }
        let _ = std::fs::remove_file(&self.record);
    }
}

/// The TAP's name for `ifname`'s host stack: `IF^` when it fits in the
/// kernel's 15 bytes (the kernel takes `^` in names), else `nmhost` and
/// the interface index.
pub fn tap_name(ifname: &str, ifindex: u32) -> String {
    if ifname.len() < 15 {
        format!("{ifname}^")
    } else {
        format!("nmhost{ifindex}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tap_names_fit_the_kernel() {
        assert_eq!(tap_name("eth0", 2), "eth0^");
        assert_eq!(tap_name("enp0s31f6abcdef", 7), "nmhost7");
        assert!(tap_name("a234567890abcd", 1).len() <= 15);
    }

    #[test]
    fn a_record_reads_back() {
        let dir = std::env::temp_dir().join(format!("nm-hostaddr-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("r");
        std::fs::write(
            &path,
            "pid 7\nifname eth0\ntap eth0^\naddr 10.0.0.1/24\nroute -4 default via 10.0.0.254\n",
        )
        .unwrap();
        let rec = read_record(&path).unwrap();
        assert_eq!(rec.pid, 7);
        assert_eq!(rec.ifname, "eth0");
        assert_eq!(rec.addrs, ["10.0.0.1/24"]);
        assert_eq!(rec.routes, ["-4 default via 10.0.0.254"]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
