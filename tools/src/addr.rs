//! pkt-gen's `-s`/`-d` address arguments: `IP[:PORT][-IP[:PORT]]`, a
//! single address or an inclusive range that frames cycle through, ports
//! varying fastest (as netmap's pkt-gen advances them).
#![forbid(unsafe_code)]

use std::net::Ipv4Addr;
use std::str::FromStr;

/// An inclusive range of IPv4 addresses and UDP ports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AddrRange {
    pub ip_start: Ipv4Addr,
    pub ip_end: Ipv4Addr,
    pub port_start: u16,
    pub port_end: u16,
}

/// An address argument that does not parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("'{text}' is not IP[:PORT][-IP[:PORT]]: {why}")]
pub struct BadAddr {
    pub text: String,
    pub why: &'static str,
}

impl AddrRange {
    /// One address and port.
    pub fn single(ip: Ipv4Addr, port: u16) -> Self {
        Self {
            ip_start: ip,
            ip_end: ip,
            port_start: port,
            port_end: port,
        }
    }

    fn ips(&self) -> u64 {
        u64::from(u32::from(self.ip_end)) - u64::from(u32::from(self.ip_start)) + 1
    }

    fn ports(&self) -> u64 {
        u64::from(self.port_end) - u64::from(self.port_start) + 1
    }

    /// Distinct (address, port) pairs in the range.
    pub fn len(&self) -> u64 {
        self.ips() * self.ports()
    }

    /// Always false: a range holds at least one pair.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The `k`th pair, cycling; ports vary fastest.
    pub fn nth(&self, k: u64) -> (Ipv4Addr, u16) {
        let k = k % self.len();
        let port = self.port_start + (k % self.ports()) as u16;
        let ip = u32::from(self.ip_start) + (k / self.ports()) as u32;
        (Ipv4Addr::from(ip), port)
    }

    /// Parses `text`, taking `default_port` where the first address has
    /// none (the end of a range takes the start's port).
    pub fn parse(text: &str, default_port: u16) -> Result<Self, BadAddr> {
        let bad = |why| BadAddr {
            text: text.to_owned(),
            why,
        };
        let one = |part: &str, port: u16| -> Result<(Ipv4Addr, u16), BadAddr> {
            let (ip, port) = match part.split_once(':') {
                Some((ip, p)) => (ip, p.parse().map_err(|_| bad("bad port"))?),
                None => (part, port),
            };
            Ok((
                Ipv4Addr::from_str(ip).map_err(|_| bad("bad IPv4 address"))?,
                port,
            ))
        };
        let (first, last) = match text.split_once('-') {
            Some((a, b)) => (a, Some(b)),
            None => (text, None),
        };
        let (ip_start, port_start) = one(first, default_port)?;
        let (ip_end, port_end) = match last {
            Some(last) => one(last, port_start)?,
            None => (ip_start, port_start),
        };
        if ip_end < ip_start {
            return Err(bad("the range ends before it starts (addresses)"));
        }
        if port_end < port_start {
            return Err(bad("the range ends before it starts (ports)"));
        }
        Ok(Self {
            ip_start,
            ip_end,
            port_start,
            port_end,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_singles_and_ranges() {
        let a = AddrRange::parse("10.0.0.1", 1234).unwrap();
        assert_eq!(a, AddrRange::single(Ipv4Addr::new(10, 0, 0, 1), 1234));
        assert_eq!(a.len(), 1);
        let a = AddrRange::parse("10.0.0.1:5-10.0.0.2:7", 1234).unwrap();
        assert_eq!(a.len(), 6);
        let seen: Vec<_> = (0..7).map(|k| a.nth(k)).collect();
        assert_eq!(seen[0], (Ipv4Addr::new(10, 0, 0, 1), 5));
        assert_eq!(seen[2], (Ipv4Addr::new(10, 0, 0, 1), 7));
        assert_eq!(seen[3], (Ipv4Addr::new(10, 0, 0, 2), 5));
        assert_eq!(seen[6], seen[0]);
        let a = AddrRange::parse("10.0.0.250:9-10.0.1.3", 1).unwrap();
        assert_eq!((a.port_start, a.port_end), (9, 9));
        assert_eq!(a.len(), 10);
        assert_eq!(a.nth(9).0, Ipv4Addr::new(10, 0, 1, 3));
    }

    #[test]
    fn refuses_bad_text_and_backward_ranges() {
        for bad in [
            "",
            "10.0.0",
            "10.0.0.1:x",
            "10.0.0.1:70000",
            "10.0.0.2-10.0.0.1",
            "1.1.1.1:5-1.1.1.1:4",
        ] {
            assert!(AddrRange::parse(bad, 1).is_err(), "{bad}");
        }
    }
}
