//! `--source-ips`: lists and ranges of local addresses to open connections from. Pure.
//!
//! Syntax: comma-separated items, each an address (`127.0.0.2`, `::1`) or an inclusive
//! range of IPv4 addresses (`127.0.0.2-127.0.0.50`, or `127.0.0.2-50` for the last octet).

use std::net::{IpAddr, Ipv4Addr};

/// Most addresses one `--source-ips` may name.
pub const SOURCE_IPS_MAX: usize = 1 << 20;

/// Parses a `--source-ips` value into the addresses, in order.
pub fn parse_source_ips(spec: &str) -> Result<Vec<IpAddr>, String> {
    let mut out = Vec::new();
    for item in spec.split(',').map(str::trim) {
        if item.is_empty() {
            return Err(format!("empty item in {spec:?}"));
        }
        match item.split_once('-') {
            None => out.push(
                item.parse::<IpAddr>()
                    .map_err(|_| format!("{item:?} is not an IP address"))?,
            ),
            Some((first, last)) => {
                let first: Ipv4Addr = first
                    .trim()
                    .parse()
                    .map_err(|_| format!("{item:?}: {first:?} is not an IPv4 address"))?;
                let last = last.trim();
                let last: Ipv4Addr = match last.parse::<u8>() {
                    Ok(octet) => {
                        let [a, b, c, _] = first.octets();
                        Ipv4Addr::new(a, b, c, octet)
                    }
                    Err(_) => last
                        .parse()
                        .map_err(|_| format!("{item:?}: {last:?} is not an IPv4 address"))?,
                };
                let (lo, hi) = (u32::from(first), u32::from(last));
                if lo > hi {
                    return Err(format!("{item:?}: the range runs backwards"));
                }
                if (hi - lo) as usize + out.len() >= SOURCE_IPS_MAX {
                    return Err(format!("{spec:?}: more than {SOURCE_IPS_MAX} addresses"));
                }
                out.extend((lo..=hi).map(|ip| IpAddr::V4(Ipv4Addr::from(ip))));
            }
        }
        if out.len() > SOURCE_IPS_MAX {
            return Err(format!("{spec:?}: more than {SOURCE_IPS_MAX} addresses"));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn single_addresses_and_lists() {
        assert_eq!(parse_source_ips("127.0.0.2").unwrap(), [v4("127.0.0.2")]);
        assert_eq!(
            parse_source_ips("10.0.0.1, ::1").unwrap(),
            [v4("10.0.0.1"), v4("::1")]
        );
    }

    #[test]
    fn ranges_inclusive_full_and_short_form() {
        let r = parse_source_ips("127.0.0.2-127.0.0.50").unwrap();
        assert_eq!(r.len(), 49);
        assert_eq!(r[0], v4("127.0.0.2"));
        assert_eq!(r[48], v4("127.0.0.50"));
        assert_eq!(parse_source_ips("127.0.0.2-4").unwrap().len(), 3);
        // Across an octet boundary.
        let r = parse_source_ips("10.0.0.255-10.0.1.1").unwrap();
        assert_eq!(r, [v4("10.0.0.255"), v4("10.0.1.0"), v4("10.0.1.1")]);
        assert_eq!(
            parse_source_ips("127.0.0.2-3,127.0.0.9").unwrap(),
            [v4("127.0.0.2"), v4("127.0.0.3"), v4("127.0.0.9")]
        );
    }

    #[test]
    fn bad_input_is_an_error() {
        for bad in [
            "",
            "127.0.0.5-127.0.0.2",
            "300.0.0.1",
            "a-b",
            "127.0.0.1,",
            "::1-::2",
        ] {
            assert!(parse_source_ips(bad).is_err(), "{bad:?}");
        }
        assert!(parse_source_ips("0.0.0.0-255.255.255.255").is_err());
    }
}
