//! Test frames: an Ethernet header with the IEEE 802 local experimental
//! EtherType, a sequence number (bytes 14..18, network order), then a
//! filler derived from the number, so every frame is distinct and a
//! receiver can tell the test's frames from anything else on a link.

/// The EtherType of every test frame (IEEE 802 local experimental 1).
pub const TEST_ETHERTYPE: u16 = 0x88b5;
/// The broadcast MAC.
pub const BROADCAST: [u8; 6] = [0xff; 6];
/// An IPv4 multicast MAC (group bit set, not broadcast).
pub const MULTICAST: [u8; 6] = [0x01, 0x00, 0x5e, 0x00, 0x00, 0x01];

/// Offset and length of the sequence number in a test frame.
const SEQ_AT: usize = 14;
const SEQ_END: usize = SEQ_AT + 4;

/// A locally administered unicast MAC ending in `id`: `02:00:00:00:00:id`.
pub fn mac(id: u8) -> [u8; 6] {
    [0x02, 0, 0, 0, 0, id]
}

/// `aa:bb:cc:dd:ee:ff`, as `ip` and tshark write it.
pub fn format_mac(mac: [u8; 6]) -> String {
    mac.map(|b| format!("{b:02x}")).join(":")
}

/// A frame of exactly `len` bytes from `src` to `dst` carrying `seq`.
///
/// Frames shorter than 18 bytes are cut from the full one (a 10-byte
/// frame is a truncated header, as the drop tests need); they carry no
/// readable sequence number.
pub fn frame(dst: [u8; 6], src: [u8; 6], seq: u32, len: usize) -> Vec<u8> {
    let mut f = Vec::with_capacity(len.max(SEQ_END));
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&TEST_ETHERTYPE.to_be_bytes());
    f.extend_from_slice(&seq.to_be_bytes());
    let filler = (SEQ_END..len).map(|i| (seq as usize).wrapping_mul(31).wrapping_add(i) as u8);
    f.extend(filler);
    f.truncate(len);
    f
}

/// The sequence number of a frame built by [`frame`]; `None` for a frame
/// too short to hold one or of another EtherType.
pub fn seq_of(frame: &[u8]) -> Option<u32> {
    let ethertype = frame.get(12..SEQ_AT)?;
    if ethertype != TEST_ETHERTYPE.to_be_bytes() {
        return None;
    }
    let seq = frame.get(SEQ_AT..SEQ_END)?;
    Some(u32::from_be_bytes(seq.try_into().expect("4 bytes")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_carries_addresses_type_and_its_sequence_number() {
        let f = frame(BROADCAST, mac(7), 0x0102_0304, 60);
        assert_eq!(f.len(), 60);
        assert_eq!(&f[0..6], &BROADCAST);
        assert_eq!(&f[6..12], &[2, 0, 0, 0, 0, 7]);
        assert_eq!(&f[12..14], &[0x88, 0xb5]);
        assert_eq!(&f[14..18], &[1, 2, 3, 4]);
        assert_eq!(seq_of(&f), Some(0x0102_0304));
        assert_ne!(
            frame(BROADCAST, mac(7), 1, 60),
            frame(BROADCAST, mac(7), 2, 60)
        );
    }

    #[test]
    fn short_and_foreign_frames_have_no_sequence_number() {
        assert_eq!(
            frame(mac(1), mac(2), 5, 10),
            frame(mac(1), mac(2), 5, 60)[..10]
        );
        assert_eq!(seq_of(&frame(mac(1), mac(2), 5, 17)), None);
        assert_eq!(seq_of(&frame(mac(1), mac(2), 5, 18)), Some(5));
        let mut ipv4 = frame(mac(1), mac(2), 5, 60);
        ipv4[12..14].copy_from_slice(&[0x08, 0x00]);
        assert_eq!(seq_of(&ipv4), None);
    }

    #[test]
    fn macs_are_written_as_ip_writes_them() {
        assert_eq!(
            format_mac([0x52, 0x54, 0, 0x12, 0x34, 0x56]),
            "52:54:00:12:34:56"
        );
    }
}
