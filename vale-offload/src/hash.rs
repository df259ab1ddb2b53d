//! The MAC hash of netmap's VALE switch.
//!
//! netmap hashes a MAC address with one round of Bob Jenkins' 96-bit mix
//! (the `lookup2` mix) and takes the low bits of `c` as the row index. The
//! RTL (`hw/mac_hash.sv`) computes the same function; `docs/mac-table.md`
//! spells out the bit layout both follow.
#![forbid(unsafe_code)]

/// Identifies this hash in the switch register block (`SW_HASH_ID`), so a
/// driver can check that the device hashes as its software twin does.
pub const HASH_ID_NETMAP_JENKINS: u32 = 1;

/// The golden ratio constant netmap seeds `a` and `b` with.
const GOLDEN_RATIO: u32 = 0x9e37_79b9;

/// netmap's hash of a MAC address: the full 32-bit `c` of the mix.
///
/// The row index is `c & (rows - 1)`; see [`crate::table::Geometry`].
#[inline]
pub fn netmap_mac_hash(mac: &[u8; 6]) -> u32 {
    let mut bits = [0u8; 8];
    bits[..6].copy_from_slice(mac);
    netmap_mac_hash_bits(u64::from_le_bytes(bits))
}

/// [`netmap_mac_hash`] of a MAC held as the 48-bit integer the table
/// compares (byte 0 in the low bits, [`crate::table::mac_to_bits`]): the
/// form a frame's header is loaded in. Bits above 47 are ignored.
#[inline]
pub fn netmap_mac_hash_bits(bits: u64) -> u32 {
    let mut a = GOLDEN_RATIO;
    let mut b = GOLDEN_RATIO;
    let mut c = 0u32;
    // b += mac[5] << 8 | mac[4]; a += mac[3..0] as a little-endian word.
    b = b.wrapping_add(u32::from((bits >> 32) as u16));
    a = a.wrapping_add(bits as u32);
    jenkins_mix(&mut a, &mut b, &mut c);
    c
}

/// One round of the `lookup2` mix: nine steps, each subtracting the other
/// two words and folding in a shifted copy of one of them.
#[inline]
fn jenkins_mix(a: &mut u32, b: &mut u32, c: &mut u32) {
    *a = a.wrapping_sub(*b).wrapping_sub(*c) ^ (*c >> 13);
    *b = b.wrapping_sub(*c).wrapping_sub(*a) ^ (*a << 8);
    *c = c.wrapping_sub(*a).wrapping_sub(*b) ^ (*b >> 13);
    *a = a.wrapping_sub(*b).wrapping_sub(*c) ^ (*c >> 12);
    *b = b.wrapping_sub(*c).wrapping_sub(*a) ^ (*a << 16);
    *c = c.wrapping_sub(*a).wrapping_sub(*b) ^ (*b >> 5);
    *a = a.wrapping_sub(*b).wrapping_sub(*c) ^ (*c >> 3);
    *b = b.wrapping_sub(*c).wrapping_sub(*a) ^ (*a << 10);
    *c = c.wrapping_sub(*a).wrapping_sub(*b) ^ (*b >> 15);
}

#[cfg(test)]
mod tests {
    use super::*;

    // The vectors of DESIGN.md section 4: MAC -> c -> row at 1024 rows.
    const VECTORS: [([u8; 6], u32, u32); 4] = [
        ([0x00, 0x00, 0x00, 0x00, 0x00, 0x00], 0xbd49_d10d, 269),
        ([0xff, 0xff, 0xff, 0xff, 0xff, 0xff], 0x1c35_f25c, 604),
        ([0x02, 0x00, 0x00, 0x00, 0x00, 0x01], 0xfe4d_445c, 92),
        ([0x52, 0x54, 0x00, 0x12, 0x34, 0x56], 0x5869_d32e, 814),
    ];

    #[test]
    fn matches_netmap_vectors() {
        for (mac, c, row) in VECTORS {
            let hash = netmap_mac_hash(&mac);
            assert_eq!(hash, c, "hash of {mac:02x?}");
            assert_eq!(hash & 1023, row, "row of {mac:02x?}");
        }
    }

    #[test]
    fn every_byte_moves_the_hash() {
        let base = [0x02, 0x11, 0x22, 0x33, 0x44, 0x55];
        let base_hash = netmap_mac_hash(&base);
        for byte in 0..6 {
            let mut other = base;
            other[byte] ^= 0x01;
            assert_ne!(netmap_mac_hash(&other), base_hash, "byte {byte}");
        }
    }
}
