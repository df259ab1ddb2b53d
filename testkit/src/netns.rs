//! Network namespaces and veth pairs that a test makes and always
//! removes: a namespace is deleted when its guard drops (also on a panic),
//! and deleting it deletes the interfaces in it, so the host's own
//! namespace is never touched. Every `ip` command is bounded in time.

use std::io::Read;
use std::os::fd::AsFd;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::frames::format_mac;

/// Longest any `ip` command may take; generous, the machine is shared.
pub const IP_TIMEOUT: Duration = Duration::from_secs(20);

/// Runs `command` to completion with its output collected, killing it
/// after `limit`. The error says what went wrong, ready to print.
pub fn run_bounded(command: &mut Command, limit: Duration) -> Result<Output, String> {
    let what = format!("{command:?}");
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {what}: {e}"))?;
    // Read both pipes on threads: a full pipe would stop the child.
    let read_all = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            bytes
        })
    };
    let stdout = read_all(Box::new(child.stdout.take().expect("piped stdout")));
    let stderr = read_all(Box::new(child.stderr.take().expect("piped stderr")));
    let deadline = Instant::now() + limit;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{what} did not finish within {limit:?}"));
            }
            Err(e) => return Err(format!("waiting for {what}: {e}")),
        }
    };
    Ok(Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    })
}

/// Runs `ip ARGS` (bounded by [`IP_TIMEOUT`]); the error holds its stderr.
pub fn ip(args: &[&str]) -> Result<(), String> {
    let out = run_bounded(Command::new("ip").args(args), IP_TIMEOUT)?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// A named network namespace, deleted (with every interface in it) on
/// drop.
#[derive(Debug)]
pub struct Netns {
    name: String,
}

impl Netns {
    /// Creates namespace `name`, or says why it cannot (not root, no `ip`,
    /// no namespace support).
    pub fn create(name: &str) -> Result<Self, String> {
        if !crate::is_root() {
            return Err("not root: network namespaces need root".into());
        }
        ip(&["netns", "add", name])?;
        let ns = Self {
            name: name.to_owned(),
        };
        // No IPv6 chatter (router solicitations, MLD) on the test links.
        let _ = run_bounded(
            Command::new("ip")
                .args(["netns", "exec", name, "sysctl", "-qw"])
                .arg("net.ipv6.conf.default.disable_ipv6=1"),
            IP_TIMEOUT,
        );
        Ok(ns)
    }

    /// The namespace's name (for `ip -n NAME`, `ip netns exec NAME`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The command prefix that runs a program inside this namespace.
    pub fn exec_prefix(&self) -> [&str; 4] {
        ["ip", "netns", "exec", &self.name]
    }

    /// Runs `f` on a new thread inside this namespace (a thread's network
    /// namespace is its own, set with setns).
    pub fn run_in<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> JoinHandle<T> {
        run_in(&self.name, f)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        if let Err(e) = ip(&["netns", "del", &self.name]) {
            eprintln!("cleaning up namespace {}: {e}", self.name);
        }
    }
}

/// Runs `f` on a new thread inside namespace `ns`.
pub fn run_in<T: Send + 'static>(
    ns: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> JoinHandle<T> {
    let path = format!("/run/netns/{ns}");
    std::thread::spawn(move || {
        let file = std::fs::File::open(&path).expect("namespace file");
        rustix::thread::move_into_link_name_space(
            file.as_fd(),
            Some(rustix::thread::LinkNameSpaceType::Network),
        )
        .expect("setns into the test namespace");
        f()
    })
}

/// Deletes the namespaces whose names start with `prefix`: what a run
/// killed before its clean-up left behind.
pub fn remove_leftovers(prefix: &str) {
    let Ok(out) = run_bounded(Command::new("ip").args(["netns", "list"]), IP_TIMEOUT) else {
        return;
    };
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let name = line.split_whitespace().next().unwrap_or("");
        if name.starts_with(prefix) {
            let _ = ip(&["netns", "del", name]);
        }
    }
}

/// Two namespaces joined by a veth pair, `a` in `ns_a` and `b` in `ns_b`,
/// both up. Dropping it deletes the namespaces, and so the interfaces.
#[derive(Debug)]
pub struct VethPair {
    /// Namespace of end `a`.
    pub ns_a: String,
    /// Namespace of end `b`.
    pub ns_b: String,
    /// Interface name of end `a`.
    pub a: String,
    /// Interface name of end `b`.
    pub b: String,
    // Deleted on drop, with the interfaces in them.
    _namespaces: [Netns; 2],
}

impl VethPair {
    /// Makes the pair with the given MACs on ends `a` and `b`, or says why
    /// the test cannot run here.
    pub fn create(mac_a: [u8; 6], mac_b: [u8; 6]) -> Result<Self, String> {
        Self::make(mac_a, mac_b, None)
    }

    /// The same with `queues` TX and RX queues on each end (a multi-queue
    /// NIC's stand-in: the sender's TX queue is the receiver's RX queue).
    pub fn create_with_queues(mac_a: [u8; 6], mac_b: [u8; 6], queues: u32) -> Result<Self, String> {
        Self::make(mac_a, mac_b, Some(queues))
    }

    fn make(mac_a: [u8; 6], mac_b: [u8; 6], queues: Option<u32>) -> Result<Self, String> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let tag = format!(
            "{}x{}",
            std::process::id() % 100_000,
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let ns_a = Netns::create(&format!("nmtk{tag}a"))?;
        let ns_b = Netns::create(&format!("nmtk{tag}b"))?;
        // From here on, dropping the namespaces removes what was made.
        let (a, b) = (format!("nv{tag}a"), format!("nv{tag}b"));
        let queues = queues.map(|q| q.to_string());
        let queue_args: Vec<&str> = match &queues {
            Some(q) => vec!["numtxqueues", q, "numrxqueues", q],
            None => Vec::new(),
        };
        let (mac_a, mac_b) = (format_mac(mac_a), format_mac(mac_b));
        let mut args = vec!["-n", ns_a.name(), "link", "add", &a, "address", &mac_a];
        args.extend(&queue_args);
        args.extend(["type", "veth", "peer", "name", &b, "address", &mac_b]);
        args.extend(&queue_args);
        args.extend(["netns", ns_b.name()]);
        ip(&args)?;
        ip(&["-n", ns_a.name(), "link", "set", &a, "up"])?;
        ip(&["-n", ns_b.name(), "link", "set", &b, "up"])?;
        Ok(Self {
            ns_a: ns_a.name().to_owned(),
            ns_b: ns_b.name().to_owned(),
            a,
            b,
            _namespaces: [ns_a, ns_b],
        })
    }

    /// Runs `f` on a thread inside namespace `ns`.
    pub fn run_in<T: Send + 'static>(
        ns: &str,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> JoinHandle<T> {
        run_in(ns, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_that_overruns_is_killed() {
        let started = Instant::now();
        let err =
            run_bounded(Command::new("sleep").arg("10"), Duration::from_millis(100)).unwrap_err();
        assert!(err.contains("did not finish"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn a_command_s_output_is_collected() {
        let out = run_bounded(Command::new("echo").arg("hello"), IP_TIMEOUT).unwrap();
        assert!(out.status.success());
        assert_eq!(out.stdout, b"hello\n");
    }

    #[test]
    fn a_veth_pair_is_removed_on_drop() {
        let pair = crate::ok_or_skip!(VethPair::create(
            crate::frames::mac(1),
            crate::frames::mac(2)
        ));
        let ns_a = pair.ns_a.clone();
        let listed = || {
            let out = run_bounded(Command::new("ip").args(["netns", "list"]), IP_TIMEOUT).unwrap();
            String::from_utf8_lossy(&out.stdout).contains(ns_a.as_str())
        };
        assert!(listed());
        drop(pair);
        assert!(!listed(), "namespace {ns_a} left behind");
    }
}
