//! Completing the partial TCP/UDP checksums a veth peer leaves.
//!
//! A stack sending through a veth leaves the TCP/UDP checksum to an
//! offload: the field holds only the folded pseudo-header sum, and the
//! kernel's note that it is partial travels with the frame inside the
//! kernel, not in its bytes. AF_XDP and AF_PACKET hand the application
//! the bytes; a frame written to a TAP with such a checksum is dropped by
//! the receiving stack (`InCsumErrors`). So a frame bound for the host
//! stack whose checksum field equals its pseudo-header sum gets its
//! checksum computed, and so does every frame a port receives from a
//! veth (whose peer's stack is the only source of partial checksums), so
//! that a program forwarding between NIC ports (`bridge`, an attached
//! NIC) hands on frames a stack accepts, as a real NIC's would be. A
//! frame whose checksum was complete is never changed: recomputing a
//! correct checksum gives it back.
#![forbid(unsafe_code)]

use netmap_ring::shm::SharedRegion;

use super::datapath::Span;

const TCP: u8 = 6;
const UDP: u8 = 17;

/// Ones' complement sum of `bytes` (big-endian words) added to `sum`.
fn add(mut sum: u32, bytes: &[u8]) -> u32 {
    let mut chunks = bytes.chunks_exact(2);
    for c in &mut chunks {
        sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        sum += u32::from(*last) << 8;
    }
    sum
}

fn fold(mut sum: u32) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

/// Where the L4 header starts, its protocol and the pseudo-header sum.
fn locate(frame: &[u8]) -> Option<(usize, u8, u32)> {
    let ethertype = u16::from_be_bytes(frame.get(12..14)?.try_into().ok()?);
    match ethertype {
        0x0800 => {
            let ihl = usize::from(frame.get(14)? & 0x0f) * 4;
            let total = usize::from(u16::from_be_bytes(frame.get(16..18)?.try_into().ok()?));
            let proto = *frame.get(23)?;
            // Fragments carry no whole L4 segment.
            if frame.get(20..22)? != [0, 0] && frame.get(20..22)? != [0x40, 0] {
                return None;
            }
            let l4_len = total.checked_sub(ihl)?;
            let sum = add(add(0, frame.get(26..34)?), &[0, proto]) + l4_len as u32;
            Some((14 + ihl, proto, sum))
        }
        0x86dd => {
            let proto = *frame.get(20)?;
            let l4_len = u32::from(u16::from_be_bytes(frame.get(18..20)?.try_into().ok()?));
            let sum = add(add(0, frame.get(22..54)?), &[0, proto]) + l4_len;
            Some((54, proto, sum))
        }
        _ => None,
    }
}

/// Completes the checksum of `frame` in place if it is partial; true when
/// it changed.
pub fn complete_in(frame: &mut [u8]) -> bool {
    let Some((l4, proto, pseudo)) = locate(frame) else {
        return false;
    };
    let field = match proto {
        TCP => l4 + 16,
        UDP => l4 + 6,
        _ => return false,
    };
    let Some(current) = frame.get(field..field + 2) else {
        return false;
    };
    let current = u16::from_be_bytes([current[0], current[1]]);
    if current != fold(pseudo) {
        return false;
    }
    frame[field] = 0;
    frame[field + 1] = 0;
    let mut sum = !fold(add(pseudo, &frame[l4..]));
    if proto == UDP && sum == 0 {
        sum = 0xffff;
    }
    frame[field..field + 2].copy_from_slice(&sum.to_be_bytes());
    true
}

/// Completes the checksum of the IP frame at `span` of `region` if it is
/// partial, looking at no more than its EtherType when it is not IP (the
/// receive path of a veth port calls this for every frame).
pub fn complete_received(region: &SharedRegion, span: Span) {
    let mut ethertype = [0u8; 2];
    if span.len < 14 || region.read_bytes(span.offset + 12, &mut ethertype).is_err() {
        return;
    }
    if matches!(ethertype, [0x08, 0x00] | [0x86, 0xdd]) {
        complete_partial(region, span);
    }
}

/// Completes the partial checksum of the frame at `span` of `region`.
pub fn complete_partial(region: &SharedRegion, span: Span) {
    let mut frame = [0u8; 2112];
    let Some(bytes) = frame.get_mut(..span.len) else {
        return;
    };
    if region.read_bytes(span.offset, bytes).is_err() {
        return;
    }
    if complete_in(bytes) {
        let _ = region.write_bytes(span.offset, bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An IPv4 UDP frame with a complete checksum (10.0.0.1 -> 10.0.0.2,
    /// ports 1000 -> 2000, "hello").
    fn udp_frame() -> Vec<u8> {
        let mut f = vec![0u8; 14];
        f[12] = 0x08;
        let ip = [
            0x45, 0, 0, 33, 0, 0, 0x40, 0, 64, UDP, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ];
        f.extend_from_slice(&ip);
        f.extend_from_slice(&[0x03, 0xe8, 0x07, 0xd0, 0, 13, 0, 0]);
        f.extend_from_slice(b"hello");
        let (l4, _, pseudo) = locate(&f).unwrap();
        let sum = !fold(add(pseudo, &f[l4..]));
        f[l4 + 6..l4 + 8].copy_from_slice(&sum.to_be_bytes());
        f
    }

    #[test]
    fn a_partial_checksum_is_completed_and_a_complete_one_kept() {
        let good = udp_frame();
        let mut same = good.clone();
        assert!(!complete_in(&mut same));
        assert_eq!(same, good);
        let mut partial = good.clone();
        let (l4, _, pseudo) = locate(&partial).unwrap();
        partial[l4 + 6..l4 + 8].copy_from_slice(&fold(pseudo).to_be_bytes());
        assert!(complete_in(&mut partial));
        assert_eq!(partial, good);
    }

    #[test]
    fn other_frames_are_left_alone() {
        let mut arp = vec![0u8; 60];
        arp[12] = 0x08;
        arp[13] = 0x06;
        assert!(!complete_in(&mut arp));
        let mut short = vec![0u8; 20];
        short[12] = 0x08;
        assert!(!complete_in(&mut short));
    }
}
