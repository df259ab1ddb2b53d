//! Reachability checks between namespaces and from netmap ports, without
//! a `ping` binary (Debian's minimal images have none): a UDP echo
//! between two namespaces through the kernels' own stacks, and the ARP
//! and ICMP frames a port sends to make a kernel answer.

use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::time::{Duration, Instant};

use crate::netns::run_in;

/// Sends `count` UDP datagrams from namespace `client_ns` to
/// `server:port`, where a thread in `server_ns` echoes them; returns how
/// many echoes came back (each waited for up to `wait`).
pub fn udp_echo(
    client_ns: &str,
    server_ns: &str,
    server: Ipv4Addr,
    port: u16,
    count: u32,
    wait: Duration,
) -> Result<u32, String> {
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let deadline = wait * (count + 2);
    let server_thread = run_in(server_ns, move || -> Result<(), String> {
        let socket = UdpSocket::bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port))
            .map_err(|e| format!("echo server bind: {e}"))?;
        socket
            .set_read_timeout(Some(Duration::from_millis(100)))
            .map_err(|e| e.to_string())?;
        let _ = ready_tx.send(());
        let started = Instant::now();
        let mut buf = [0u8; 2048];
        let mut echoed = 0;
        while echoed < count && started.elapsed() < deadline {
            if let Ok((n, from)) = socket.recv_from(&mut buf) {
                let _ = socket.send_to(&buf[..n], from);
                echoed += 1;
            }
        }
        Ok(())
    });
    ready_rx
        .recv_timeout(Duration::from_secs(10))
        .map_err(|_| "the echo server did not start".to_string())?;
    let client = run_in(client_ns, move || -> Result<u32, String> {
        let socket = UdpSocket::bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0))
            .map_err(|e| format!("client bind: {e}"))?;
        socket
            .connect(SocketAddrV4::new(server, port))
            .map_err(|e| format!("client connect: {e}"))?;
        socket
            .set_read_timeout(Some(wait))
            .map_err(|e| e.to_string())?;
        let mut back = 0;
        let mut buf = [0u8; 64];
        for seq in 0..count {
            let msg = format!("echo {seq}");
            socket.send(msg.as_bytes()).map_err(|e| e.to_string())?;
            let started = Instant::now();
            while started.elapsed() < wait {
                match socket.recv(&mut buf) {
                    Ok(n) if &buf[..n] == msg.as_bytes() => {
                        back += 1;
                        break;
                    }
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
        }
        Ok(back)
    });
    let back = client.join().map_err(|_| "client panicked".to_string())??;
    server_thread
        .join()
        .map_err(|_| "server panicked".to_string())??;
    Ok(back)
}

fn checksum(bytes: &[u8]) -> u16 {
    let mut sum: u32 = bytes
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An ARP request from `src_mac`/`src_ip` asking for `target_ip`
/// (broadcast).
pub fn arp_request(src_mac: [u8; 6], src_ip: Ipv4Addr, target_ip: Ipv4Addr) -> Vec<u8> {
    let mut f = Vec::with_capacity(60);
    f.extend_from_slice(&[0xff; 6]);
    f.extend_from_slice(&src_mac);
    f.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1]);
    f.extend_from_slice(&src_mac);
    f.extend_from_slice(&src_ip.octets());
    f.extend_from_slice(&[0; 6]);
    f.extend_from_slice(&target_ip.octets());
    f.resize(60, 0);
    f
}

/// The sender of an ARP reply to `to_ip`: (MAC, IP), if `frame` is one.
pub fn arp_reply_sender(frame: &[u8], to_ip: Ipv4Addr) -> Option<([u8; 6], Ipv4Addr)> {
    if frame.len() < 42 || frame[12..14] != [0x08, 0x06] || frame[20..22] != [0, 2] {
        return None;
    }
    if frame[38..42] != to_ip.octets() {
        return None;
    }
    let mac: [u8; 6] = frame[22..28].try_into().ok()?;
    let ip = Ipv4Addr::new(frame[28], frame[29], frame[30], frame[31]);
    Some((mac, ip))
}

/// An ICMP echo request (`id`, `seq`) between the given addresses.
pub fn icmp_echo(
    dst_mac: [u8; 6],
    src_mac: [u8; 6],
    src_ip: Ipv4Addr,
    dst_ip: Ipv4Addr,
    id: u16,
    seq: u16,
) -> Vec<u8> {
    let mut f = Vec::with_capacity(98);
    f.extend_from_slice(&dst_mac);
    f.extend_from_slice(&src_mac);
    f.extend_from_slice(&[0x08, 0x00]);
    let mut ip = vec![0x45, 0, 0, 84, 0, 0, 0x40, 0, 64, 1, 0, 0];
    ip.extend_from_slice(&src_ip.octets());
    ip.extend_from_slice(&dst_ip.octets());
    let sum = checksum(&ip);
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
    f.extend_from_slice(&ip);
    let mut icmp = vec![8, 0, 0, 0];
    icmp.extend_from_slice(&id.to_be_bytes());
    icmp.extend_from_slice(&seq.to_be_bytes());
    icmp.extend((0..56).map(|i| i as u8));
    let sum = checksum(&icmp);
    icmp[2..4].copy_from_slice(&sum.to_be_bytes());
    f.extend_from_slice(&icmp);
    f
}

/// Whether `frame` is the ICMP echo reply to (`id`, `seq`) from `from`.
pub fn is_echo_reply(frame: &[u8], from: Ipv4Addr, id: u16, seq: u16) -> bool {
    frame.len() >= 42
        && frame[12..14] == [0x08, 0x00]
        && frame[23] == 1
        && frame[26..30] == from.octets()
        && frame[34] == 0
        && frame[38..40] == id.to_be_bytes()
        && frame[40..42] == seq.to_be_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_echo_request_has_good_checksums() {
        let f = icmp_echo(
            [2, 0, 0, 0, 0, 2],
            [2, 0, 0, 0, 0, 1],
            Ipv4Addr::new(10, 0, 0, 1),
            Ipv4Addr::new(10, 0, 0, 2),
            7,
            1,
        );
        assert_eq!(f.len(), 98);
        assert_eq!(checksum(&f[14..34]), 0);
        assert_eq!(checksum(&f[34..]), 0);
    }

    #[test]
    fn an_arp_request_asks_for_the_target() {
        let f = arp_request(
            [2, 0, 0, 0, 0, 1],
            Ipv4Addr::new(10, 0, 0, 1),
            Ipv4Addr::new(10, 0, 0, 2),
        );
        assert_eq!(f.len(), 60);
        assert_eq!(&f[38..42], &[10, 0, 0, 2]);
        assert_eq!(arp_reply_sender(&f, Ipv4Addr::new(10, 0, 0, 1)), None);
    }
}
