//! A bare AF_XDP program, the baseline of the NIC benchmarks: one socket
//! on queue 0 of an interface, in the same mode as a NIC port's (copy
//! mode, unaligned chunks, the same six-instruction redirect program),
//! with no netmap ring in between. TX sends one 60-byte frame written
//! once into every chunk; RX counts frames and hands their chunks straight
//! back to the fill ring. Everything a netmap port adds (slots, head/cur/
//! tail, checks, counters, the buffer swap) is what the benchmark's ratio
//! measures.
#![forbid(unsafe_code)]

use std::collections::VecDeque;
use std::io;

use netmap_ring::shm::SharedRegion;

use super::xdp_sys::{desc_data_offset, XdpRedirect, XskSocket};

/// Chunk size: a power of two, as a bare program would pick.
const CHUNK: u32 = 2048;
/// Chunks in the UMEM, and entries per ring.
const CHUNKS: u32 = 4096;
/// Chunks a TX rotation goes through: a NIC port's TX ring (1024 slots).
const TX_CHUNKS: u32 = 1024;

/// A bare AF_XDP socket with its UMEM and program.
pub struct BareXdp {
    socket: XskSocket,
    _redirect: XdpRedirect,
    _umem: SharedRegion,
    /// Chunks free for TX, oldest first (TX only; RX chunks live in the
    /// fill ring): sent in rotation through as many chunks as a port's TX
    /// ring has buffers, as `xdpsock` rotates through its frames, not
    /// reusing the few most recently completed, which would stay in the
    /// cache as no ring-based sender's buffers do.
    free: VecDeque<u64>,
}

impl BareXdp {
    /// Opens queue 0 of `ifname` (which must have one RX queue) with
    /// every chunk holding `frame` (for TX) or posted to the fill ring
    /// (for RX, when `frame` is empty).
    pub fn open(ifname: &str, frame: &[u8]) -> io::Result<Self> {
        let ifindex = super::sys::if_index(ifname)?;
        let len = (CHUNK * CHUNKS) as usize;
        let umem = SharedRegion::create("netmap-rs-bare-xdp", len)
            .map_err(|e| io::Error::other(e.to_string()))?;
        let redirect = XdpRedirect::attach(ifindex, 1)?;
        let socket = XskSocket::open(ifindex, 0, &umem, 0, len, CHUNK, CHUNKS)?;
        redirect.set_socket(0, &socket)?;
        let mut free = VecDeque::new();
        if frame.is_empty() {
            for i in 0..CHUNKS {
                socket.fill.put_addr(i, u64::from(i * CHUNK));
            }
            socket.fill.submit(CHUNKS);
        } else {
            for i in 0..TX_CHUNKS {
                umem.write_bytes((i * CHUNK) as usize, frame)
                    .map_err(|e| io::Error::other(e.to_string()))?;
                free.push_back(u64::from(i * CHUNK));
            }
        }
        Ok(Self {
            socket,
            _redirect: redirect,
            _umem: umem,
            free,
        })
    }

    /// Queues up to `batch` frames of `len` bytes, asks the kernel to send
    /// and reaps completions; returns the frames the kernel completed.
    pub fn send(&mut self, batch: u32, len: u32) -> io::Result<u32> {
        let room = self.socket.tx.free().min(batch).min(self.free.len() as u32);
        for n in 0..room {
            let addr = self.free.pop_front().expect("counted above");
            self.socket.tx.put_desc(n, addr, len, 0);
        }
        self.socket.tx.submit(room);
        self.socket.kick_tx()?;
        let done = self.socket.completion.available();
        for n in 0..done {
            self.free.push_back(self.socket.completion.get_addr(n));
        }
        self.socket.completion.release(done);
        Ok(done)
    }

    /// Takes what arrived, gives the chunks back; returns the frames.
    pub fn receive(&mut self) -> u32 {
        let got = self.socket.rx.available().min(self.socket.fill.free());
        for n in 0..got {
            let data = desc_data_offset(self.socket.rx.get_desc(n).addr);
            let chunk = data / u64::from(CHUNK) * u64::from(CHUNK);
            self.socket.fill.put_addr(n, chunk);
        }
        self.socket.rx.release(got);
        self.socket.fill.submit(got);
        got
    }
}
