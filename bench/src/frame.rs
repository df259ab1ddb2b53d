//! The frames the benchmarks send: Ethernet, a local experimental
//! EtherType (so AF_PACKET receivers see only ours), padded to the size
//! asked for.
#![forbid(unsafe_code)]

/// IEEE 802 local experimental EtherType 1.
pub const ETHERTYPE: u16 = 0x88b5;
/// Smallest frame (without FCS) the benchmarks send.
pub const MIN_FRAME: usize = 60;
/// Largest frame (without FCS): a 1500-byte MTU.
pub const MAX_FRAME: usize = 1514;

/// A locally administered unicast MAC numbered `n`.
pub fn mac(n: u8) -> [u8; 6] {
    [0x02, 0x00, 0x00, 0x00, 0x00, n]
}

/// The broadcast MAC.
pub const BROADCAST: [u8; 6] = [0xff; 6];

/// A frame of `len` bytes (clamped to 14..=MAX_FRAME) from `src` to `dst`.
pub fn frame(dst: [u8; 6], src: [u8; 6], len: usize) -> Vec<u8> {
    let len = len.clamp(14, MAX_FRAME);
    let mut f = Vec::with_capacity(len);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&ETHERTYPE.to_be_bytes());
    f.extend((0..len - 14).map(|i| i as u8));
    f
}

/// Parses `aa:bb:cc:dd:ee:ff`.
pub fn parse_mac(s: &str) -> Result<[u8; 6], String> {
    let parts: Vec<&str> = s.split(':').collect();
    if parts.len() != 6 {
        return Err(format!("{s:?} is not a MAC address (six hex bytes)"));
    }
    let mut mac = [0u8; 6];
    for (byte, part) in mac.iter_mut().zip(parts) {
        *byte = u8::from_str_radix(part, 16)
            .map_err(|_| format!("{s:?} is not a MAC address (six hex bytes)"))?;
    }
    Ok(mac)
}

/// Formats a MAC as `aa:bb:cc:dd:ee:ff`.
pub use netmap_testkit::frames::format_mac;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_carry_addresses_type_and_length() {
        let f = frame(BROADCAST, mac(7), 60);
        assert_eq!(f.len(), 60);
        assert_eq!(&f[0..6], &[0xff; 6]);
        assert_eq!(&f[6..12], &[2, 0, 0, 0, 0, 7]);
        assert_eq!(&f[12..14], &[0x88, 0xb5]);
        assert_eq!(frame(mac(1), mac(2), 5000).len(), MAX_FRAME);
    }

    #[test]
    fn macs_round_trip_and_garbage_is_refused() {
        let m = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];
        assert_eq!(parse_mac(&format_mac(m)).unwrap(), m);
        assert!(parse_mac("52:54:00:12:34").is_err());
        assert!(parse_mac("52:54:00:12:34:zz").is_err());
    }
}
