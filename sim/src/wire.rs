//! A simulated Ethernet wire: frames between a Linux interface and a
//! Verilated model's MAC-side AXI-Stream ports.
//!
//! Each [`Wire`] holds an AF_PACKET socket bound to one interface (a veth
//! end, a TAP) and stands for the MAC of one Ethernet port of the model:
//! a frame the socket receives enters the model's RX user interface beat
//! by beat (512 bits, `tkeep`, `tlast`, `tuser` = bad frame), and a frame
//! the model's TX user interface sends is written to the socket. The MAC
//! strips and adds the FCS, so the frames here have none; a frame shorter
//! than 60 bytes from Linux (a veth does not pad) is padded to 60 with
//! zeros, as the sending MAC would pad it on a wire.
//!
//! [`run`] clocks the model only while a frame is in flight or the model
//! says it is busy; otherwise it sleeps in `poll()` on the sockets, so an
//! idle wire costs no cycles and no CPU ([`WireStats::cycles`] counts the
//! clock edges it made). The model side is the [`MacPorts`] trait; the
//! test top `eth_loop_top` implements it here.

use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

/// Bytes per beat of the MAC's user interface.
pub const BEAT_BYTES: usize = 64;
/// The shortest frame on a wire, without FCS.
pub const MIN_FRAME: usize = 60;
/// The largest frame a wire socket reads (jumbo frames included).
pub const MAX_FRAME: usize = 16384;

/// One beat of a MAC's AXI-Stream user interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Beat {
    /// Byte k in lane k.
    pub data: [u8; BEAT_BYTES],
    /// Lanes that carry a byte (contiguous from lane 0).
    pub keep: u64,
    /// The frame's last beat.
    pub last: bool,
    /// At the last beat: the frame is bad (FCS error or another the MAC found).
    pub user: bool,
}

impl Beat {
    /// The beat as Verilator's wide-port words (least significant first).
    pub fn words(&self) -> [u32; 16] {
        let mut words = [0u32; 16];
        for (word, bytes) in words.iter_mut().zip(self.data.chunks_exact(4)) {
            *word = u32::from_le_bytes(bytes.try_into().expect("4 bytes"));
        }
        words
    }

    /// A beat from Verilator's wide-port words.
    pub fn from_words(words: &[u32; 16], keep: u64, last: bool, user: bool) -> Self {
        let mut data = [0u8; BEAT_BYTES];
        for (bytes, word) in data.chunks_exact_mut(4).zip(words) {
            bytes.copy_from_slice(&word.to_le_bytes());
        }
        Beat {
            data,
            keep,
            last,
            user,
        }
    }

    /// The bytes `keep` marks (lanes up to the first one it leaves out).
    pub fn bytes(&self) -> &[u8] {
        &self.data[..self.keep.trailing_ones() as usize]
    }
}

/// A frame as a MAC's RX side presents it: full beats, the last one's
/// `tkeep` covering its bytes, `tuser` at the last beat when `bad`.
pub fn beats(frame: &[u8], bad: bool) -> Vec<Beat> {
    let chunks: Vec<&[u8]> = if frame.is_empty() {
        vec![&[][..]]
    } else {
        frame.chunks(BEAT_BYTES).collect()
    };
    let n = chunks.len();
    chunks
        .into_iter()
        .enumerate()
        .map(|(i, chunk)| {
            let mut data = [0u8; BEAT_BYTES];
            data[..chunk.len()].copy_from_slice(chunk);
            let keep = if chunk.len() == BEAT_BYTES {
                u64::MAX
            } else {
                (1u64 << chunk.len()) - 1
            };
            Beat {
                data,
                keep,
                last: i + 1 == n,
                user: bad && i + 1 == n,
            }
        })
        .collect()
}

/// Gathers a MAC TX side's beats into frames.
#[derive(Debug, Default)]
pub struct Assembler {
    frame: Vec<u8>,
}

impl Assembler {
    /// Takes one beat; returns the frame it completes, and whether the
    /// frame was marked bad (`tuser` at its last beat).
    pub fn push(&mut self, beat: &Beat) -> Option<(Vec<u8>, bool)> {
        self.frame.extend_from_slice(beat.bytes());
        beat.last
            .then(|| (std::mem::take(&mut self.frame), beat.user))
    }
}

/// The MAC-side ports of a model with Ethernet ports, as [`run`] drives
/// them. Port `p`'s RX input is what the wire received; its TX output is
/// what the wire sends.
pub trait MacPorts {
    /// Drives port `port`'s RX interface for the next clock edge (`None`:
    /// `tvalid` low). The MAC has no `tready`: the beat is taken at the edge.
    fn set_rx(&mut self, port: usize, beat: Option<&Beat>);
    /// Drives port `port`'s TX `tready`.
    fn set_tx_ready(&mut self, port: usize, ready: bool);
    /// The beat port `port`'s TX interface offers now (`tvalid` high).
    fn tx(&self, port: usize) -> Option<Beat>;
    /// One clock cycle.
    fn tick(&mut self);
    /// Frames are inside the model: keep clocking.
    fn busy(&self) -> bool;
}

/// What a wire did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WireStats {
    /// Frames read from the socket (each entered the model's RX side).
    pub frames_in: u64,
    /// Frames injected at the AXI side ([`Wire::inject`]).
    pub frames_injected: u64,
    /// Frames the model sent, written to the socket.
    pub frames_out: u64,
    /// Frames the model sent marked bad (`tuser`), not written.
    pub frames_out_bad: u64,
    /// Frames the socket refused (link down, too long).
    pub send_errors: u64,
}

/// An AF_PACKET raw socket bound to one interface of the calling thread's
/// network namespace: non-blocking, every EtherType, its own outgoing
/// frames not looped back to it.
#[derive(Debug)]
pub struct PacketSocket {
    fd: OwnedFd,
}

fn errno(what: &str) -> io::Error {
    let e = io::Error::last_os_error();
    io::Error::new(e.kind(), format!("{what}: {e}"))
}

impl PacketSocket {
    /// Opens and binds the socket (needs `CAP_NET_RAW`), with the
    /// interface in promiscuous mode while it is open (a membership the
    /// kernel drops with the socket).
    pub fn open(ifname: &str) -> io::Result<Self> {
        let name = std::ffi::CString::new(ifname)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in interface name"))?;
        // SAFETY: `name` is a NUL-terminated string that outlives the call.
        let ifindex = unsafe { libc::if_nametoindex(name.as_ptr()) };
        if ifindex == 0 {
            return Err(errno(&format!("no interface {ifname}")));
        }
        let protocol = (libc::ETH_P_ALL as u16).to_be();
        // SAFETY: plain system call; the result is checked.
        let raw = unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                i32::from(protocol),
            )
        };
        if raw < 0 {
            return Err(errno("AF_PACKET socket (needs CAP_NET_RAW)"));
        }
        // SAFETY: `raw` is a new descriptor nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: sockaddr_ll is plain data, valid all-zero.
        let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        addr.sll_family = libc::AF_PACKET as u16;
        addr.sll_protocol = protocol;
        addr.sll_ifindex = ifindex as i32;
        // SAFETY: `addr` is a valid sockaddr_ll and its size is passed.
        let rc = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&addr as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as u32,
            )
        };
        if rc < 0 {
            return Err(errno(&format!("bind to {ifname}")));
        }
        let socket = PacketSocket { fd };
        // Our own sends are not received (older kernels lack the option;
        // `recv` also skips PACKET_OUTGOING).
        let _ = socket.set_opt(libc::PACKET_IGNORE_OUTGOING, &1i32);
        // SAFETY: packet_mreq is plain data, valid all-zero.
        let mut mreq: libc::packet_mreq = unsafe { std::mem::zeroed() };
        mreq.mr_ifindex = ifindex as i32;
        mreq.mr_type = libc::PACKET_MR_PROMISC as u16;
        socket
            .set_opt(libc::PACKET_ADD_MEMBERSHIP, &mreq)
            .map_err(|e| io::Error::new(e.kind(), format!("promiscuous {ifname}: {e}")))?;
        Ok(socket)
    }

    fn set_opt<T>(&self, option: i32, value: &T) -> io::Result<()> {
        // SAFETY: `value` points to a live T whose size is passed.
        let rc = unsafe {
            libc::setsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_PACKET,
                option,
                (value as *const T).cast(),
                std::mem::size_of::<T>() as u32,
            )
        };
        if rc < 0 {
            return Err(errno("setsockopt"));
        }
        Ok(())
    }

    /// Sends one frame (without FCS) out of the interface.
    pub fn send(&self, frame: &[u8]) -> io::Result<()> {
        // SAFETY: `frame` is a live buffer of `frame.len()` bytes.
        let n = unsafe { libc::send(self.fd.as_raw_fd(), frame.as_ptr().cast(), frame.len(), 0) };
        if n < 0 {
            return Err(errno("send"));
        }
        Ok(())
    }

    /// The next frame the interface received (not one it sent), if any is
    /// waiting: its length in `buf` (cut to `buf`'s size).
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        loop {
            // SAFETY: sockaddr_ll is plain data, valid all-zero.
            let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
            let mut addr_len = std::mem::size_of::<libc::sockaddr_ll>() as u32;
            // SAFETY: `buf` and `addr` are live and their sizes are passed.
            let n = unsafe {
                libc::recvfrom(
                    self.fd.as_raw_fd(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    0,
                    (&mut addr as *mut libc::sockaddr_ll).cast(),
                    &mut addr_len,
                )
            };
            if n < 0 {
                let e = io::Error::last_os_error();
                return match e.kind() {
                    io::ErrorKind::WouldBlock => Ok(None),
                    io::ErrorKind::Interrupted => continue,
                    _ => Err(errno("recv")),
                };
            }
            if addr.sll_pkttype == libc::PACKET_OUTGOING {
                continue;
            }
            return Ok(Some((n as usize).min(buf.len())));
        }
    }

    /// Waits until a frame is waiting on any of `sockets` or `timeout`
    /// passes; true if one is.
    pub fn wait_any(sockets: &[&PacketSocket], timeout: Duration) -> io::Result<bool> {
        let mut fds: Vec<libc::pollfd> = sockets
            .iter()
            .map(|s| libc::pollfd {
                fd: s.fd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        let ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
        // SAFETY: `fds` is a live array of `fds.len()` pollfd.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                return Ok(false);
            }
            return Err(errno("poll"));
        }
        Ok(n > 0)
    }
}

/// One Ethernet port's wire: its socket and the beats on their way in.
#[derive(Debug)]
pub struct Wire {
    port: usize,
    socket: PacketSocket,
    rx: VecDeque<Beat>,
    tx: Assembler,
    /// What the wire did so far.
    pub stats: WireStats,
}

impl Wire {
    /// The wire of model port `port` on interface `ifname` (of the calling
    /// thread's network namespace).
    pub fn open(ifname: &str, port: usize) -> io::Result<Self> {
        Ok(Self::with_socket(PacketSocket::open(ifname)?, port))
    }

    /// The wire of model port `port` on a socket opened elsewhere (in
    /// another namespace's thread).
    pub fn with_socket(socket: PacketSocket, port: usize) -> Self {
        Wire {
            port,
            socket,
            rx: VecDeque::new(),
            tx: Assembler::default(),
            stats: WireStats::default(),
        }
    }

    /// Puts a frame on the RX interface as the MAC would present it, `bad`
    /// setting `tuser` at its last beat (an FCS error), without padding:
    /// how a test makes the frames Linux cannot send (runts, bad FCS).
    pub fn inject(&mut self, frame: &[u8], bad: bool) {
        self.rx.extend(beats(frame, bad));
        self.stats.frames_injected += 1;
    }

    /// A frame from the socket onto the RX interface, padded to 60 bytes.
    fn receive(&mut self, frame: &[u8]) {
        if frame.len() < MIN_FRAME {
            let mut padded = frame.to_vec();
            padded.resize(MIN_FRAME, 0);
            self.rx.extend(beats(&padded, false));
        } else {
            self.rx.extend(beats(frame, false));
        }
        self.stats.frames_in += 1;
    }

    /// Beats are waiting to enter the model.
    pub fn in_flight(&self) -> bool {
        !self.rx.is_empty()
    }
}

/// Beats a burst of clocking runs before the sockets are read again.
const BURST: usize = 256;
/// Frames read from one socket per round.
const READ_BATCH: usize = 64;

/// Runs the wires and the model until `done` says so (true) or `limit`
/// passes (false). The model is clocked only while a wire has beats to
/// put in or the model is busy; otherwise the thread sleeps in `poll()`
/// on the sockets. Returns the clock cycles it ran.
pub fn run<M: MacPorts>(
    wires: &mut [Wire],
    model: &mut M,
    limit: Duration,
    mut done: impl FnMut(&[Wire], &M) -> bool,
) -> io::Result<(bool, u64)> {
    let deadline = Instant::now() + limit;
    let mut buf = vec![0u8; MAX_FRAME];
    let mut cycles = 0u64;
    loop {
        for wire in wires.iter_mut() {
            for _ in 0..READ_BATCH {
                let Some(n) = wire.socket.recv(&mut buf)? else {
                    break;
                };
                wire.receive(&buf[..n]);
            }
        }
        if done(wires, model) {
            return Ok((true, cycles));
        }
        let now = Instant::now();
        let active = wires.iter().any(Wire::in_flight) || model.busy();
        if !active {
            if now >= deadline {
                return Ok((false, cycles));
            }
            // Idle: no cycles until a frame comes (or the deadline).
            let sockets: Vec<&PacketSocket> = wires.iter().map(|w| &w.socket).collect();
            let wait = (deadline - now).min(Duration::from_millis(50));
            PacketSocket::wait_any(&sockets, wait)?;
            continue;
        }
        if now >= deadline {
            return Ok((false, cycles));
        }
        for _ in 0..BURST {
            let mut out = Vec::new();
            for wire in wires.iter() {
                model.set_rx(wire.port, wire.rx.front());
                model.set_tx_ready(wire.port, true);
                // tready is high: a beat offered now is taken at the edge.
                out.push(model.tx(wire.port));
            }
            model.tick();
            cycles += 1;
            for (wire, beat) in wires.iter_mut().zip(out) {
                wire.rx.pop_front();
                let Some(beat) = beat else { continue };
                let Some((frame, bad)) = wire.tx.push(&beat) else {
                    continue;
                };
                if bad {
                    wire.stats.frames_out_bad += 1;
                } else if wire.socket.send(&frame).is_ok() {
                    wire.stats.frames_out += 1;
                } else {
                    wire.stats.send_errors += 1;
                }
            }
            if !wires.iter().any(Wire::in_flight) && !model.busy() {
                for wire in wires.iter() {
                    model.set_rx(wire.port, None);
                }
                break;
            }
        }
    }
}

impl crate::models::EthLoopPorts {
    /// A loopback top, reset, its host-side source idle.
    pub fn reset_new() -> Self {
        let mut model = Self::new(crate::vcd_path_from_env().as_deref());
        model.set_rst(1);
        model.set_h_valid(0);
        model.set_rx_axis_tvalid(0);
        model.set_tx_axis_tready(1);
        for _ in 0..4 {
            MacPorts::tick(&mut model);
        }
        model.set_rst(0);
        model
    }
}

/// `eth_loop_top`: one port (0).
impl MacPorts for crate::models::EthLoopPorts {
    fn set_rx(&mut self, port: usize, beat: Option<&Beat>) {
        assert_eq!(port, 0, "eth_loop_top has one port");
        match beat {
            Some(beat) => {
                self.set_rx_axis_tvalid(1);
                self.set_rx_axis_tdata(&beat.words());
                self.set_rx_axis_tkeep(beat.keep);
                self.set_rx_axis_tlast(u64::from(beat.last));
                self.set_rx_axis_tuser(u64::from(beat.user));
            }
            None => self.set_rx_axis_tvalid(0),
        }
    }

    fn set_tx_ready(&mut self, port: usize, ready: bool) {
        assert_eq!(port, 0, "eth_loop_top has one port");
        self.set_tx_axis_tready(u64::from(ready));
    }

    fn tx(&self, port: usize) -> Option<Beat> {
        assert_eq!(port, 0, "eth_loop_top has one port");
        (self.tx_axis_tvalid() != 0).then(|| {
            Beat::from_words(
                &self.tx_axis_tdata(),
                self.tx_axis_tkeep(),
                self.tx_axis_tlast() != 0,
                self.tx_axis_tuser() != 0,
            )
        })
    }

    fn tick(&mut self) {
        self.set_clk(1);
        self.eval();
        self.set_clk(0);
        self.eval();
    }

    fn busy(&self) -> bool {
        crate::models::EthLoopPorts::busy(self) != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_splits_into_beats_and_back() {
        for len in [1usize, 59, 60, 63, 64, 65, 128, 1514] {
            let frame: Vec<u8> = (0..len).map(|i| (i * 7 + len) as u8).collect();
            let beats = beats(&frame, len == 65);
            assert_eq!(beats.len(), len.div_ceil(BEAT_BYTES));
            assert!(beats[..beats.len() - 1]
                .iter()
                .all(|b| b.keep == u64::MAX && !b.last));
            let last = beats.last().unwrap();
            assert_eq!(
                last.keep.count_ones() as usize,
                len - (beats.len() - 1) * 64
            );
            assert_eq!(last.user, len == 65);
            let mut asm = Assembler::default();
            let mut out = None;
            for beat in &beats {
                let words = beat.words();
                out = asm.push(&Beat::from_words(&words, beat.keep, beat.last, beat.user));
            }
            assert_eq!(out, Some((frame, len == 65)));
        }
    }
}
