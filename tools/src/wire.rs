//! Ethernet II, IPv4 and UDP, in the smoltcp pattern: a `Packet<T>` view
//! over bytes (a checked constructor for untrusted input, accessors, and
//! setters when the bytes are mutable) and a `Repr` that parses a view
//! into plain values or emits them into one.
//!
//! Only what pkt-gen, pong and the capture checks need: no IPv4 options
//! are emitted (they are skipped on parse), no fragments.
#![forbid(unsafe_code)]

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

/// Why bytes are not a valid header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("buffer too short for the header or the length it declares")]
    Truncated,
    #[error("malformed header: {0}")]
    Malformed(&'static str),
    #[error("bad {0} checksum")]
    BadChecksum(&'static str),
}

/// A 48-bit Ethernet address.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EthernetAddress(pub [u8; 6]);

impl EthernetAddress {
    pub const BROADCAST: Self = Self([0xff; 6]);

    /// Group (multicast or broadcast) addresses have bit 0 of byte 0 set.
    pub fn is_group(&self) -> bool {
        self.0[0] & 1 == 1
    }
}

impl fmt::Display for EthernetAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

/// A MAC address text was not six `:`-separated hex bytes.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a MAC address (six hex bytes separated by ':')")]
pub struct BadMac(pub String);

impl FromStr for EthernetAddress {
    type Err = BadMac;

    fn from_str(s: &str) -> Result<Self, BadMac> {
        let mut out = [0u8; 6];
        let mut parts = s.split(':');
        for byte in out.iter_mut() {
            let part = parts.next().ok_or_else(|| BadMac(s.to_owned()))?;
            if part.is_empty() || part.len() > 2 {
                return Err(BadMac(s.to_owned()));
            }
            *byte = u8::from_str_radix(part, 16).map_err(|_| BadMac(s.to_owned()))?;
        }
        if parts.next().is_some() {
            return Err(BadMac(s.to_owned()));
        }
        Ok(Self(out))
    }
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn put16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_be_bytes());
}

/// The Internet checksum (RFC 1071).
pub mod checksum {
    use std::net::Ipv4Addr;

    /// The one's-complement sum of `data` as big-endian 16-bit words (an
    /// odd last byte is padded with zero), folded to 16 bits.
    pub fn sum(data: &[u8]) -> u16 {
        let mut acc: u64 = 0;
        let mut words = data.chunks_exact(2);
        for w in &mut words {
            acc += u64::from(u16::from_be_bytes([w[0], w[1]]));
        }
        if let [last] = words.remainder() {
            acc += u64::from(*last) << 8;
        }
        fold(acc)
    }

    /// Adds folded sums.
    pub fn combine(sums: &[u16]) -> u16 {
        fold(sums.iter().map(|&s| u64::from(s)).sum())
    }

    fn fold(mut acc: u64) -> u16 {
        while acc > 0xffff {
            acc = (acc & 0xffff) + (acc >> 16);
        }
        acc as u16
    }

    /// The sum of the IPv4 pseudo-header of a transport segment.
    pub fn pseudo_header(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, length: u16) -> u16 {
        let mut bytes = [0u8; 12];
        bytes[0..4].copy_from_slice(&src.octets());
        bytes[4..8].copy_from_slice(&dst.octets());
        bytes[9] = protocol;
        bytes[10..12].copy_from_slice(&length.to_be_bytes());
        sum(&bytes)
    }
}

/// EtherType of IPv4.
pub const ETHERTYPE_IPV4: u16 = 0x0800;
/// IP protocol number of UDP.
pub const IP_PROTO_UDP: u8 = 17;

/// An Ethernet II frame (without the FCS, as netmap buffers hold it).
#[derive(Debug, Clone)]
pub struct EthernetFrame<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> EthernetFrame<T> {
    pub const HEADER_LEN: usize = 14;

    /// Wraps `buffer` without checks (for emitting into a sized buffer).
    pub fn new_unchecked(buffer: T) -> Self {
        Self { buffer }
    }

    /// Wraps `buffer`, checking it holds a whole header.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        if buffer.as_ref().len() < Self::HEADER_LEN {
            return Err(WireError::Truncated);
        }
        Ok(Self { buffer })
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    pub fn dst_addr(&self) -> EthernetAddress {
        let mut a = [0u8; 6];
        a.copy_from_slice(&self.buffer.as_ref()[0..6]);
        EthernetAddress(a)
    }

    pub fn src_addr(&self) -> EthernetAddress {
        let mut a = [0u8; 6];
        a.copy_from_slice(&self.buffer.as_ref()[6..12]);
        EthernetAddress(a)
    }

    pub fn ethertype(&self) -> u16 {
        be16(self.buffer.as_ref(), 12)
    }

    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[Self::HEADER_LEN..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> EthernetFrame<T> {
    pub fn set_dst_addr(&mut self, a: EthernetAddress) {
        self.buffer.as_mut()[0..6].copy_from_slice(&a.0);
    }

    pub fn set_src_addr(&mut self, a: EthernetAddress) {
        self.buffer.as_mut()[6..12].copy_from_slice(&a.0);
    }

    pub fn set_ethertype(&mut self, v: u16) {
        put16(self.buffer.as_mut(), 12, v);
    }

    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[Self::HEADER_LEN..]
    }
}

/// The values of an Ethernet header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EthernetRepr {
    pub src_addr: EthernetAddress,
    pub dst_addr: EthernetAddress,
    pub ethertype: u16,
}

impl EthernetRepr {
    pub fn parse<T: AsRef<[u8]>>(frame: &EthernetFrame<T>) -> Result<Self, WireError> {
        Ok(Self {
            src_addr: frame.src_addr(),
            dst_addr: frame.dst_addr(),
            ethertype: frame.ethertype(),
        })
    }

    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, frame: &mut EthernetFrame<T>) {
        frame.set_src_addr(self.src_addr);
        frame.set_dst_addr(self.dst_addr);
        frame.set_ethertype(self.ethertype);
    }
}

/// An IPv4 packet.
#[derive(Debug, Clone)]
pub struct Ipv4Packet<T: AsRef<[u8]>> {
    buffer: T,
}

/// IPv4 header field offsets (RFC 791).
mod ip_field {
    pub const VER_IHL: usize = 0;
    pub const TOS: usize = 1;
    pub const LENGTH: usize = 2;
    pub const IDENT: usize = 4;
    pub const FLAGS_FRAG: usize = 6;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const CHECKSUM: usize = 10;
    pub const SRC: usize = 12;
    pub const DST: usize = 16;
}

impl<T: AsRef<[u8]>> Ipv4Packet<T> {
    /// Header length without options.
    pub const MIN_HEADER_LEN: usize = 20;

    pub fn new_unchecked(buffer: T) -> Self {
        Self { buffer }
    }

    /// Wraps `buffer`, checking the version, that the header and the total
    /// length it declares fit the buffer.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let p = Self { buffer };
        let len = p.buffer.as_ref().len();
        if len < Self::MIN_HEADER_LEN {
            return Err(WireError::Truncated);
        }
        if p.version() != 4 {
            return Err(WireError::Malformed("IP version is not 4"));
        }
        let header_len = usize::from(p.header_len());
        if header_len < Self::MIN_HEADER_LEN {
            return Err(WireError::Malformed("IPv4 header length under 20"));
        }
        let total = usize::from(p.total_len());
        if total < header_len {
            return Err(WireError::Malformed(
                "IPv4 total length under header length",
            ));
        }
        if header_len > len || total > len {
            return Err(WireError::Truncated);
        }
        Ok(p)
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[ip_field::VER_IHL] >> 4
    }

    /// Header length in bytes.
    pub fn header_len(&self) -> u8 {
        (self.buffer.as_ref()[ip_field::VER_IHL] & 0x0f) * 4
    }

    pub fn tos(&self) -> u8 {
        self.buffer.as_ref()[ip_field::TOS]
    }

    pub fn total_len(&self) -> u16 {
        be16(self.buffer.as_ref(), ip_field::LENGTH)
    }

    pub fn ident(&self) -> u16 {
        be16(self.buffer.as_ref(), ip_field::IDENT)
    }

    /// Flags (3 bits) and fragment offset (13 bits), as on the wire.
    pub fn flags_frag(&self) -> u16 {
        be16(self.buffer.as_ref(), ip_field::FLAGS_FRAG)
    }

    pub fn ttl(&self) -> u8 {
        self.buffer.as_ref()[ip_field::TTL]
    }

    pub fn protocol(&self) -> u8 {
        self.buffer.as_ref()[ip_field::PROTOCOL]
    }

    pub fn checksum(&self) -> u16 {
        be16(self.buffer.as_ref(), ip_field::CHECKSUM)
    }

    pub fn src_addr(&self) -> Ipv4Addr {
        let b = self.buffer.as_ref();
        Ipv4Addr::new(
            b[ip_field::SRC],
            b[ip_field::SRC + 1],
            b[ip_field::SRC + 2],
            b[ip_field::SRC + 3],
        )
    }

    pub fn dst_addr(&self) -> Ipv4Addr {
        let b = self.buffer.as_ref();
        Ipv4Addr::new(
            b[ip_field::DST],
            b[ip_field::DST + 1],
            b[ip_field::DST + 2],
            b[ip_field::DST + 3],
        )
    }

    /// True when the header sums to 0xffff (checksum field included).
    pub fn verify_checksum(&self) -> bool {
        let header = &self.buffer.as_ref()[..usize::from(self.header_len())];
        checksum::sum(header) == 0xffff
    }

    /// The bytes after the header, up to the total length.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[usize::from(self.header_len())..usize::from(self.total_len())]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv4Packet<T> {
    /// Sets version 4 and the header length in bytes (a multiple of 4).
    pub fn set_version_header_len(&mut self, header_len: u8) {
        self.buffer.as_mut()[ip_field::VER_IHL] = 0x40 | (header_len / 4);
    }

    pub fn set_tos(&mut self, v: u8) {
        self.buffer.as_mut()[ip_field::TOS] = v;
    }

    pub fn set_total_len(&mut self, v: u16) {
        put16(self.buffer.as_mut(), ip_field::LENGTH, v);
    }

    pub fn set_ident(&mut self, v: u16) {
        put16(self.buffer.as_mut(), ip_field::IDENT, v);
    }

    pub fn set_flags_frag(&mut self, v: u16) {
        put16(self.buffer.as_mut(), ip_field::FLAGS_FRAG, v);
    }

    pub fn set_ttl(&mut self, v: u8) {
        self.buffer.as_mut()[ip_field::TTL] = v;
    }

    pub fn set_protocol(&mut self, v: u8) {
        self.buffer.as_mut()[ip_field::PROTOCOL] = v;
    }

    pub fn set_checksum(&mut self, v: u16) {
        put16(self.buffer.as_mut(), ip_field::CHECKSUM, v);
    }

    pub fn set_src_addr(&mut self, a: Ipv4Addr) {
        self.buffer.as_mut()[ip_field::SRC..ip_field::SRC + 4].copy_from_slice(&a.octets());
    }

    pub fn set_dst_addr(&mut self, a: Ipv4Addr) {
        self.buffer.as_mut()[ip_field::DST..ip_field::DST + 4].copy_from_slice(&a.octets());
    }

    /// Computes and stores the header checksum.
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let header_len = usize::from(self.header_len());
        let sum = checksum::sum(&self.buffer.as_ref()[..header_len]);
        self.set_checksum(!sum);
    }

    pub fn payload_mut(&mut self) -> &mut [u8] {
        let range = usize::from(self.header_len())..usize::from(self.total_len());
        &mut self.buffer.as_mut()[range]
    }
}

/// The values of an IPv4 header (no options).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv4Repr {
    pub src_addr: Ipv4Addr,
    pub dst_addr: Ipv4Addr,
    pub protocol: u8,
    /// Bytes after the header.
    pub payload_len: usize,
    pub ttl: u8,
}

impl Ipv4Repr {
    /// Default TTL of emitted packets (`IPDEFTTL`).
    pub const DEFAULT_TTL: u8 = 64;

    /// Parses a checked packet, refusing a bad header checksum and
    /// fragments.
    pub fn parse<T: AsRef<[u8]>>(packet: &Ipv4Packet<T>) -> Result<Self, WireError> {
        if !packet.verify_checksum() {
            return Err(WireError::BadChecksum("IPv4 header"));
        }
        // More-fragments flag or a fragment offset: not a whole datagram.
        if packet.flags_frag() & 0x3fff != 0 {
            return Err(WireError::Malformed("IPv4 fragment"));
        }
        Ok(Self {
            src_addr: packet.src_addr(),
            dst_addr: packet.dst_addr(),
            protocol: packet.protocol(),
            payload_len: usize::from(packet.total_len()) - usize::from(packet.header_len()),
            ttl: packet.ttl(),
        })
    }

    /// Header bytes of an emitted packet.
    pub fn header_len(&self) -> usize {
        Ipv4Packet::<&[u8]>::MIN_HEADER_LEN
    }

    /// Writes the header (with its checksum) into `packet`, whose buffer
    /// must hold `header_len() + payload_len` bytes.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Ipv4Packet<T>) {
        packet.set_version_header_len(self.header_len() as u8);
        packet.set_tos(0);
        packet.set_total_len((self.header_len() + self.payload_len) as u16);
        packet.set_ident(0);
        packet.set_flags_frag(0);
        packet.set_ttl(self.ttl);
        packet.set_protocol(self.protocol);
        packet.set_src_addr(self.src_addr);
        packet.set_dst_addr(self.dst_addr);
        packet.fill_checksum();
    }
}

/// A UDP datagram.
#[derive(Debug, Clone)]
pub struct UdpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> UdpPacket<T> {
    pub const HEADER_LEN: usize = 8;

    pub fn new_unchecked(buffer: T) -> Self {
        Self { buffer }
    }

    /// Wraps `buffer`, checking the header fits and the declared length
    /// is at least a header and fits the buffer.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let p = Self { buffer };
        let len = p.buffer.as_ref().len();
        if len < Self::HEADER_LEN {
            return Err(WireError::Truncated);
        }
        let declared = usize::from(p.len());
        if declared < Self::HEADER_LEN {
            return Err(WireError::Malformed("UDP length under 8"));
        }
        if declared > len {
            return Err(WireError::Truncated);
        }
        Ok(p)
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    pub fn src_port(&self) -> u16 {
        be16(self.buffer.as_ref(), 0)
    }

    pub fn dst_port(&self) -> u16 {
        be16(self.buffer.as_ref(), 2)
    }

    /// Header plus payload length, as declared.
    pub fn len(&self) -> u16 {
        be16(self.buffer.as_ref(), 4)
    }

    /// True when the declared length is just a header.
    pub fn is_empty(&self) -> bool {
        usize::from(self.len()) <= Self::HEADER_LEN
    }

    pub fn checksum(&self) -> u16 {
        be16(self.buffer.as_ref(), 6)
    }

    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[Self::HEADER_LEN..usize::from(self.len())]
    }

    /// Checks the checksum over the pseudo-header and the datagram; a zero
    /// checksum means "not computed" and passes (RFC 768).
    pub fn verify_checksum(&self, src: Ipv4Addr, dst: Ipv4Addr) -> bool {
        if self.checksum() == 0 {
            return true;
        }
        let datagram = &self.buffer.as_ref()[..usize::from(self.len())];
        let sum = checksum::combine(&[
            checksum::pseudo_header(src, dst, IP_PROTO_UDP, self.len()),
            checksum::sum(datagram),
        ]);
        sum == 0xffff
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> UdpPacket<T> {
    pub fn set_src_port(&mut self, v: u16) {
        put16(self.buffer.as_mut(), 0, v);
    }

    pub fn set_dst_port(&mut self, v: u16) {
        put16(self.buffer.as_mut(), 2, v);
    }

    pub fn set_len(&mut self, v: u16) {
        put16(self.buffer.as_mut(), 4, v);
    }

    pub fn set_checksum(&mut self, v: u16) {
        put16(self.buffer.as_mut(), 6, v);
    }

    /// Computes and stores the checksum; a computed 0 is sent as 0xffff,
    /// since 0 means "no checksum".
    pub fn fill_checksum(&mut self, src: Ipv4Addr, dst: Ipv4Addr) {
        self.set_checksum(0);
        let len = self.len();
        let sum = checksum::combine(&[
            checksum::pseudo_header(src, dst, IP_PROTO_UDP, len),
            checksum::sum(&self.buffer.as_ref()[..usize::from(len)]),
        ]);
        let value = !sum;
        self.set_checksum(if value == 0 { 0xffff } else { value });
    }

    pub fn payload_mut(&mut self) -> &mut [u8] {
        let end = usize::from(self.len());
        &mut self.buffer.as_mut()[Self::HEADER_LEN..end]
    }
}

/// The values of a UDP header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UdpRepr {
    pub src_port: u16,
    pub dst_port: u16,
}

impl UdpRepr {
    /// Parses a checked datagram carried from `src` to `dst`, refusing a
    /// bad checksum.
    pub fn parse<T: AsRef<[u8]>>(
        packet: &UdpPacket<T>,
        src: Ipv4Addr,
        dst: Ipv4Addr,
    ) -> Result<Self, WireError> {
        if !packet.verify_checksum(src, dst) {
            return Err(WireError::BadChecksum("UDP"));
        }
        Ok(Self {
            src_port: packet.src_port(),
            dst_port: packet.dst_port(),
        })
    }

    /// Writes the header, lets `fill_payload` write the `payload_len`
    /// payload bytes, then computes the checksum over both.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(
        &self,
        packet: &mut UdpPacket<T>,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        payload_len: usize,
        fill_payload: impl FnOnce(&mut [u8]),
    ) {
        packet.set_src_port(self.src_port);
        packet.set_dst_port(self.dst_port);
        packet.set_len((UdpPacket::<&[u8]>::HEADER_LEN + payload_len) as u16);
        fill_payload(packet.payload_mut());
        packet.fill_checksum(src, dst);
    }
}

/// A whole Ethernet/IPv4/UDP frame, parsed and checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UdpFrame<'a> {
    pub ethernet: EthernetRepr,
    pub ip: Ipv4Repr,
    pub udp: UdpRepr,
    pub payload: &'a [u8],
}

impl<'a> UdpFrame<'a> {
    /// Parses and checks every layer of `bytes` (checksums included).
    pub fn parse(bytes: &'a [u8]) -> Result<Self, WireError> {
        let frame = EthernetFrame::new_checked(bytes)?;
        let ethernet = EthernetRepr::parse(&frame)?;
        if ethernet.ethertype != ETHERTYPE_IPV4 {
            return Err(WireError::Malformed("EtherType is not IPv4"));
        }
        let ip_bytes = &bytes[EthernetFrame::<&[u8]>::HEADER_LEN..];
        let ip_packet = Ipv4Packet::new_checked(ip_bytes)?;
        let ip = Ipv4Repr::parse(&ip_packet)?;
        if ip.protocol != IP_PROTO_UDP {
            return Err(WireError::Malformed("IP protocol is not UDP"));
        }
        let header_len = usize::from(ip_packet.header_len());
        let total_len = usize::from(ip_packet.total_len());
        let udp_bytes = &ip_bytes[header_len..total_len];
        let udp_packet = UdpPacket::new_checked(udp_bytes)?;
        let udp = UdpRepr::parse(&udp_packet, ip.src_addr, ip.dst_addr)?;
        let payload = &udp_bytes[UdpPacket::<&[u8]>::HEADER_LEN..usize::from(udp_packet.len())];
        Ok(Self {
            ethernet,
            ip,
            udp,
            payload,
        })
    }

    /// Bytes of Ethernet, IPv4 and UDP headers before the payload.
    pub const HEADERS_LEN: usize = 14 + 20 + 8;

    /// Emits the three headers and the payload written by `fill_payload`
    /// into `out`, which must be exactly `HEADERS_LEN + payload_len` long.
    pub fn emit(
        ethernet: &EthernetRepr,
        src: (Ipv4Addr, u16),
        dst: (Ipv4Addr, u16),
        out: &mut [u8],
        fill_payload: impl FnOnce(&mut [u8]),
    ) {
        let payload_len = out.len() - Self::HEADERS_LEN;
        let mut frame = EthernetFrame::new_unchecked(&mut *out);
        ethernet.emit(&mut frame);
        let ip_repr = Ipv4Repr {
            src_addr: src.0,
            dst_addr: dst.0,
            protocol: IP_PROTO_UDP,
            payload_len: UdpPacket::<&[u8]>::HEADER_LEN + payload_len,
            ttl: Ipv4Repr::DEFAULT_TTL,
        };
        let mut ip = Ipv4Packet::new_unchecked(frame.payload_mut());
        ip_repr.emit(&mut ip);
        let mut udp = UdpPacket::new_unchecked(ip.payload_mut());
        UdpRepr {
            src_port: src.1,
            dst_port: dst.1,
        }
        .emit(&mut udp, src.0, dst.0, payload_len, fill_payload);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The IPv4 header of Wikipedia's "IPv4 header checksum" worked
    /// example: 192.168.0.1 -> 192.168.0.199, UDP, total length 0x73, DF,
    /// TTL 64, checksum 0xb861.
    const WIKI_IP_HEADER: [u8; 20] = [
        0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8, 0x00,
        0x01, 0xc0, 0xa8, 0x00, 0xc7,
    ];

    /// A 60-byte frame as pkt-gen emits it by default (10.0.0.1:1234 ->
    /// 10.1.0.1:1234, 18 payload bytes 'a'..'r', broadcast destination),
    /// checksums verified with tshark (`ip.checksum.status` and
    /// `udp.checksum.status` both "Good"): IP 0x66bd, UDP 0x2d56.
    const PKTGEN_FRAME: [u8; 60] = [
        // Ethernet: dst ff:ff:ff:ff:ff:ff, src 02:00:00:00:00:01, IPv4
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08, 0x00,
        // IPv4
        0x45, 0x00, 0x00, 0x2e, 0x00, 0x00, 0x00, 0x00, 0x40, 0x11, 0x66, 0xbd, 0x0a, 0x00, 0x00,
        0x01, 0x0a, 0x01, 0x00, 0x01, // UDP
        0x04, 0xd2, 0x04, 0xd2, 0x00, 0x1a, 0x2d, 0x56, // payload
        b'a', b'b', b'c', b'd', b'e', b'f', b'g', b'h', b'i', b'j', b'k', b'l', b'm', b'n', b'o',
        b'p', b'q', b'r',
    ];

    #[test]
    fn ipv4_header_checksum_matches_the_worked_example() {
        let p = Ipv4Packet::new_checked(&WIKI_IP_HEADER[..]);
        // The header declares 0x73 bytes but the buffer holds 20: truncated.
        assert_eq!(p.unwrap_err(), WireError::Truncated);
        let mut full = [0u8; 0x73];
        full[..20].copy_from_slice(&WIKI_IP_HEADER);
        let p = Ipv4Packet::new_checked(&full[..]).unwrap();
        assert!(p.verify_checksum());
        assert_eq!(p.src_addr(), Ipv4Addr::new(192, 168, 0, 1));
        assert_eq!(p.dst_addr(), Ipv4Addr::new(192, 168, 0, 199));
        assert_eq!(p.protocol(), IP_PROTO_UDP);
        let mut copy = full;
        let mut p = Ipv4Packet::new_unchecked(&mut copy[..]);
        p.set_checksum(0);
        p.fill_checksum();
        assert_eq!(p.checksum(), 0xb861);
    }

    #[test]
    fn parses_the_reference_frame() {
        let f = UdpFrame::parse(&PKTGEN_FRAME).unwrap();
        assert_eq!(f.ethernet.dst_addr, EthernetAddress::BROADCAST);
        assert_eq!(
            f.ethernet.src_addr,
            "02:00:00:00:00:01".parse::<EthernetAddress>().unwrap()
        );
        assert_eq!(f.ip.src_addr, Ipv4Addr::new(10, 0, 0, 1));
        assert_eq!(f.ip.dst_addr, Ipv4Addr::new(10, 1, 0, 1));
        assert_eq!(f.ip.payload_len, 26);
        assert_eq!(f.udp.src_port, 1234);
        assert_eq!(f.udp.dst_port, 1234);
        assert_eq!(f.payload, b"abcdefghijklmnopqr");
    }

    #[test]
    fn emit_reproduces_the_reference_frame() {
        let f = UdpFrame::parse(&PKTGEN_FRAME).unwrap();
        let mut out = [0u8; 60];
        UdpFrame::emit(
            &f.ethernet,
            (f.ip.src_addr, f.udp.src_port),
            (f.ip.dst_addr, f.udp.dst_port),
            &mut out,
            |p| p.copy_from_slice(f.payload),
        );
        assert_eq!(out, PKTGEN_FRAME);
    }

    #[test]
    fn every_flipped_bit_in_the_headers_is_caught_or_changes_a_field() {
        let good = UdpFrame::parse(&PKTGEN_FRAME).unwrap();
        // Flip each bit of the IP and UDP headers and payload: the frame is
        // either rejected or parses differently (no silent corruption).
        for byte in 14..60 {
            for bit in 0..8 {
                let mut bad = PKTGEN_FRAME;
                bad[byte] ^= 1 << bit;
                if let Ok(parsed) = UdpFrame::parse(&bad) {
                    assert_ne!(parsed, good, "byte {byte} bit {bit} went unnoticed");
                }
            }
        }
        let mut bad = PKTGEN_FRAME;
        bad[40] ^= 0x01; // UDP checksum, high byte
        assert_eq!(
            UdpFrame::parse(&bad).unwrap_err(),
            WireError::BadChecksum("UDP")
        );
        let mut bad = PKTGEN_FRAME;
        bad[22] ^= 0x01; // TTL: covered by the IP checksum only
        assert_eq!(
            UdpFrame::parse(&bad).unwrap_err(),
            WireError::BadChecksum("IPv4 header")
        );
    }

    #[test]
    fn checked_constructors_refuse_short_and_inconsistent_buffers() {
        assert_eq!(
            EthernetFrame::new_checked(&[0u8; 13][..]).unwrap_err(),
            WireError::Truncated
        );
        let mut ip = [0u8; 20];
        ip[0] = 0x65; // version 6
        assert!(matches!(
            Ipv4Packet::new_checked(&ip[..]),
            Err(WireError::Malformed(_))
        ));
        ip[0] = 0x44; // IHL 4: 16 bytes
        assert!(matches!(
            Ipv4Packet::new_checked(&ip[..]),
            Err(WireError::Malformed(_))
        ));
        let udp = [0, 1, 0, 2, 0, 7, 0, 0]; // length 7
        assert!(matches!(
            UdpPacket::new_checked(&udp[..]),
            Err(WireError::Malformed(_))
        ));
        let udp = [0, 1, 0, 2, 0, 9, 0, 0]; // length 9 in 8 bytes
        assert_eq!(
            UdpPacket::new_checked(&udp[..]).unwrap_err(),
            WireError::Truncated
        );
        assert_eq!(
            UdpFrame::parse(&PKTGEN_FRAME[..50]).unwrap_err(),
            WireError::Truncated
        );
    }

    #[test]
    fn udp_zero_checksum_means_none_and_computed_zero_is_sent_as_ones() {
        let mut frame = PKTGEN_FRAME;
        frame[40] = 0;
        frame[41] = 0;
        assert!(UdpFrame::parse(&frame).is_ok());
        // Find a payload whose checksum computes to 0: adjust the last two
        // payload bytes so the sum is 0xffff before complementing.
        let src = Ipv4Addr::new(10, 0, 0, 1);
        let dst = Ipv4Addr::new(10, 1, 0, 1);
        let mut buf = [0u8; 10];
        {
            let mut udp = UdpPacket::new_unchecked(&mut buf[..]);
            udp.set_src_port(1);
            udp.set_dst_port(2);
            udp.set_len(10);
        }
        let partial = checksum::combine(&[
            checksum::pseudo_header(src, dst, IP_PROTO_UDP, 10),
            checksum::sum(&buf),
        ]);
        let filler = 0xffff - partial;
        buf[8..10].copy_from_slice(&filler.to_be_bytes());
        let mut udp = UdpPacket::new_unchecked(&mut buf[..]);
        udp.fill_checksum(src, dst);
        assert_eq!(udp.checksum(), 0xffff);
        assert!(udp.verify_checksum(src, dst));
    }

    #[test]
    fn mac_addresses_parse_and_print() {
        let mac: EthernetAddress = "52:54:0:12:34:56".parse().unwrap();
        assert_eq!(mac.0, [0x52, 0x54, 0, 0x12, 0x34, 0x56]);
        assert_eq!(mac.to_string(), "52:54:00:12:34:56");
        assert!(!mac.is_group());
        assert!(EthernetAddress::BROADCAST.is_group());
        for bad in [
            "",
            "1:2:3:4:5",
            "1:2:3:4:5:6:7",
            "123:0:0:0:0:0",
            "g0:0:0:0:0:0",
        ] {
            assert!(bad.parse::<EthernetAddress>().is_err(), "{bad}");
        }
    }
}
