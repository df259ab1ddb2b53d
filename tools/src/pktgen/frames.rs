//! The frames pkt-gen sends: Ethernet/IPv4/UDP with correct checksums,
//! sizes and addresses cycling through the ranges given, and the ping
//! payload (a magic, a sequence number and a send time).
#![forbid(unsafe_code)]

use crate::addr::AddrRange;
use crate::wire::{EthernetAddress, EthernetRepr, UdpFrame, ETHERTYPE_IPV4};

/// Smallest frame: Ethernet's 60 bytes without FCS (the headers take 42).
pub const MIN_FRAME: usize = 60;
/// Largest frame: a 1500-byte IP packet in Ethernet.
pub const MAX_FRAME: usize = 1514;

/// Filler of ordinary payloads.
const FILLER: &[u8] = b"netmap-rs pkt-gen payload. ";

/// What varies between frames.
#[derive(Clone, Debug)]
pub struct FrameSpec {
    pub src_mac: EthernetAddress,
    pub dst_mac: EthernetAddress,
    pub src: AddrRange,
    pub dst: AddrRange,
    /// Inclusive size range; sizes cycle min, min+1, ..., max.
    pub size_min: usize,
    pub size_max: usize,
}

impl FrameSpec {
    /// True when every frame is the same.
    pub fn is_fixed(&self) -> bool {
        self.size_min == self.size_max && self.src.len() == 1 && self.dst.len() == 1
    }

    /// Frame number `k` of the sequence, into `out` (resized).
    pub fn build(&self, k: u64, out: &mut Vec<u8>) {
        let sizes = (self.size_max - self.size_min + 1) as u64;
        let size = self.size_min + (k % sizes) as usize;
        self.build_with(k, size, out, fill_filler);
    }

    /// Frame number `k` of `size` bytes whose payload `fill` writes.
    pub fn build_with(&self, k: u64, size: usize, out: &mut Vec<u8>, fill: impl FnOnce(&mut [u8])) {
        out.clear();
        out.resize(size, 0);
        let ethernet = EthernetRepr {
            src_addr: self.src_mac,
            dst_addr: self.dst_mac,
            ethertype: ETHERTYPE_IPV4,
        };
        UdpFrame::emit(&ethernet, self.src.nth(k), self.dst.nth(k), out, fill);
    }
}

fn fill_filler(payload: &mut [u8]) {
    for (i, b) in payload.iter_mut().enumerate() {
        *b = FILLER[i % FILLER.len()];
    }
}

/// Marks a ping payload.
pub const PING_MAGIC: [u8; 4] = *b"NMRS";
/// Bytes of the ping payload (magic, u32 sequence, u64 nanoseconds).
pub const PING_PAYLOAD: usize = 16;

/// Writes a ping payload (the rest is filler).
pub fn fill_ping(payload: &mut [u8], seq: u32, sent_ns: u64) {
    fill_filler(payload);
    payload[0..4].copy_from_slice(&PING_MAGIC);
    payload[4..8].copy_from_slice(&seq.to_be_bytes());
    payload[8..16].copy_from_slice(&sent_ns.to_be_bytes());
}

/// Reads a ping payload back: (sequence, send time in ns).
pub fn parse_ping(payload: &[u8]) -> Option<(u32, u64)> {
    if payload.len() < PING_PAYLOAD || payload[0..4] != PING_MAGIC {
        return None;
    }
    let seq = u32::from_be_bytes(payload[4..8].try_into().ok()?);
    let ns = u64::from_be_bytes(payload[8..16].try_into().ok()?);
    Some((seq, ns))
}

/// Turns a received frame into its echo in place: MACs, IPs and UDP ports
/// swapped (the checksums stay valid: the sums do not depend on order).
/// When the frame went to a group address, the echo comes from `own_mac`.
/// Returns false for a frame too short to be Ethernet/IPv4/UDP.
pub fn make_echo(frame: &mut [u8], own_mac: EthernetAddress) -> bool {
    if frame.len() < UdpFrame::HEADERS_LEN || frame[12..14] != ETHERTYPE_IPV4.to_be_bytes() {
        return false;
    }
    let ihl = usize::from(frame[14] & 0x0f) * 4;
    if ihl < 20 || frame.len() < 14 + ihl + 8 {
        return false;
    }
    let (dst, src) = frame.split_at_mut(6);
    let was_group = dst[0] & 1 == 1;
    dst.swap_with_slice(&mut src[..6]);
    if was_group {
        frame[6..12].copy_from_slice(&own_mac.0);
    }
    let (a, b) = frame[26..34].split_at_mut(4);
    a.swap_with_slice(b);
    let udp = 14 + ihl;
    let (a, b) = frame[udp..udp + 4].split_at_mut(2);
    a.swap_with_slice(b);
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn spec() -> FrameSpec {
        FrameSpec {
            src_mac: "02:00:00:00:00:01".parse().unwrap(),
            dst_mac: EthernetAddress::BROADCAST,
            src: AddrRange::parse("10.0.0.1:1234", 0).unwrap(),
            dst: AddrRange::parse("10.1.0.1:1234-10.1.0.2:1235", 0).unwrap(),
            size_min: 60,
            size_max: 62,
        }
    }

    #[test]
    fn frames_cycle_sizes_and_addresses_and_parse_clean() {
        let spec = spec();
        assert!(!spec.is_fixed());
        let mut buf = Vec::new();
        let mut seen = Vec::new();
        for k in 0..6 {
            spec.build(k, &mut buf);
            let f = UdpFrame::parse(&buf).unwrap();
            assert_eq!(buf.len(), 60 + (k as usize % 3));
            seen.push((f.ip.dst_addr, f.udp.dst_port));
        }
        assert_eq!(seen[0], (Ipv4Addr::new(10, 1, 0, 1), 1234));
        assert_eq!(seen[1], (Ipv4Addr::new(10, 1, 0, 1), 1235));
        assert_eq!(seen[3], (Ipv4Addr::new(10, 1, 0, 2), 1235));
        assert_eq!(seen[4], seen[0]);
    }

    #[test]
    fn ping_payload_round_trips_and_echo_stays_valid() {
        let spec = spec();
        let mut buf = Vec::new();
        spec.build_with(0, 60, &mut buf, |p| fill_ping(p, 7, 123_456_789));
        let own: EthernetAddress = "02:00:00:00:00:02".parse().unwrap();
        assert!(make_echo(&mut buf, own));
        let f = UdpFrame::parse(&buf).unwrap();
        assert_eq!(f.ethernet.dst_addr, spec.src_mac);
        assert_eq!(f.ethernet.src_addr, own);
        assert_eq!(f.ip.src_addr, Ipv4Addr::new(10, 1, 0, 1));
        assert_eq!(f.ip.dst_addr, Ipv4Addr::new(10, 0, 0, 1));
        assert_eq!(parse_ping(f.payload), Some((7, 123_456_789)));
        assert_eq!(parse_ping(b"XXXX000000000000"), None);
        assert!(!make_echo(&mut [0u8; 20], own));
    }
}
