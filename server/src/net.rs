//! Client addresses, pure: address ranges (`10.0.0.0/8`, `fd00::/8`), the address a request
//! came from behind trusted reverse proxies, and the key per-address limits count by (an IPv6
//! /64 is one client: a phone's provider hands it the whole prefix).

use std::net::{IpAddr, Ipv6Addr};

/// An address range: an address and how many leading bits of it count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    pub addr: IpAddr,
    pub bits: u8,
}

impl Cidr {
    /// `10.1.2.3`, `10.0.0.0/8`, `::1`, `fd00::/8`.
    pub fn parse(s: &str) -> Result<Cidr, String> {
        let (a, bits) = match s.split_once('/') {
            Some((a, b)) => (a, Some(b.parse::<u8>().map_err(|_| format!("`{s}`: `{b}` is not a prefix length"))?)),
            None => (s, None),
        };
        let addr: IpAddr = a.trim().parse().map_err(|_| format!("`{s}` is not an IP address or range like 10.0.0.0/8"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let bits = bits.unwrap_or(max);
        if bits > max {
            return Err(format!("`{s}`: a prefix of {bits} bits is longer than the address"));
        }
        Ok(Cidr { addr, bits })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, canonical(ip)) {
            (IpAddr::V4(a), IpAddr::V4(b)) => prefix(u32::from(a).into(), 32, self.bits) == prefix(u32::from(b).into(), 32, self.bits),
            (IpAddr::V6(a), IpAddr::V6(b)) => prefix(u128::from(a), 128, self.bits) == prefix(u128::from(b), 128, self.bits),
            _ => false,
        }
    }
}

fn prefix(v: u128, width: u8, bits: u8) -> u128 {
    if bits == 0 {
        0
    } else {
        v >> (width - bits)
    }
}

/// An IPv4 address mapped into IPv6 (`::ffff:1.2.3.4`) is that IPv4 address.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// What per-address limits count by: an IPv4 address, or the /64 of an IPv6 one.
pub fn limit_key(ip: IpAddr) -> IpAddr {
    match canonical(ip) {
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !((1u128 << 64) - 1))),
        v4 => v4,
    }
}

/// The client behind `peer`: when `peer` is a trusted proxy, the right-most address of
/// `X-Forwarded-For` that is not one (each proxy appends the address it got the request
/// from; the ones on the left are whatever the client claimed). Otherwise `peer` itself.
pub fn client(peer: IpAddr, forwarded_for: Option<&str>, trusted: &[Cidr]) -> IpAddr {
    let peer = canonical(peer);
    if !trusted.iter().any(|c| c.contains(peer)) {
        return peer;
    }
    let Some(list) = forwarded_for else { return peer };
    let mut last = peer;
    for part in list.rsplit(',') {
        let Ok(ip) = part.trim().parse::<IpAddr>().map(canonical) else { return last };
        if !trusted.iter().any(|c| c.contains(ip)) {
            return ip;
        }
        last = ip;
    }
    last
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ranges_and_limit_keys() {
        let r = Cidr::parse("10.0.0.0/8").unwrap();
        assert!(r.contains(ip("10.200.1.1")) && !r.contains(ip("11.0.0.1")));
        assert!(r.contains(ip("::ffff:10.0.0.9")), "IPv4 mapped into IPv6");
        assert!(Cidr::parse("::1").unwrap().contains(ip("::1")));
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains(ip("8.8.8.8")));
        assert!(Cidr::parse("10.0.0.0/33").is_err() && Cidr::parse("proxy").is_err());
        // A /64 is one client; IPv4 addresses count one by one.
        assert_eq!(limit_key(ip("2001:db8:1:2:aaaa::1")), limit_key(ip("2001:db8:1:2:bbbb::9")));
        assert_ne!(limit_key(ip("2001:db8:1:2::1")), limit_key(ip("2001:db8:1:3::1")));
        assert_ne!(limit_key(ip("10.0.0.1")), limit_key(ip("10.0.0.2")));
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let trusted = [Cidr::parse("10.0.0.0/24").unwrap()];
        // Straight from the internet: the header is the client's word, ignored.
        assert_eq!(client(ip("203.0.113.9"), Some("1.2.3.4"), &trusted), ip("203.0.113.9"));
        // Through the proxy: the address the proxy got it from.
        assert_eq!(client(ip("10.0.0.5"), Some("198.51.100.7"), &trusted), ip("198.51.100.7"));
        // A client that forges a left-hand entry does not move the answer.
        assert_eq!(client(ip("10.0.0.5"), Some("1.1.1.1, 198.51.100.7"), &trusted), ip("198.51.100.7"));
        // Two proxies in a row.
        assert_eq!(client(ip("10.0.0.5"), Some("198.51.100.7, 10.0.0.6"), &trusted), ip("198.51.100.7"));
        // No header: the proxy itself.
        assert_eq!(client(ip("10.0.0.5"), None, &trusted), ip("10.0.0.5"));
    }
}
