//! The client address a request counts against for rate limits (never stored).

use std::net::{IpAddr, Ipv4Addr};

use actix_web::HttpRequest;

/// The client address used for rate limits. Behind trusted proxies it is the nearest untrusted
/// address in `X-Forwarded-For`, read from the right (each proxy appends the address it saw); an
/// entry that is not an address stops the walk at the last trusted hop. IPv6 clients count per
/// /64 (one subscriber's network), so rotating addresses within it does not escape a limit.
pub fn client_address(req: &HttpRequest, trusted: &[IpAddr]) -> IpAddr {
    let peer = req
        .peer_addr()
        .map(|a| a.ip().to_canonical())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    let mut client = peer;
    if trusted.contains(&peer) {
        let hops: Vec<&str> = req
            .headers()
            .get_all("x-forwarded-for")
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        for hop in hops.iter().rev() {
            match hop.parse::<IpAddr>() {
                Ok(ip) => {
                    client = ip.to_canonical();
                    if !trusted.contains(&client) {
                        break;
                    }
                }
                Err(_) => break,
            }
        }
    }
    per_subscriber(client)
}

/// An IPv6 address reduced to its /64 network; IPv4 addresses as they are.
fn per_subscriber(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & !u128::from(u64::MAX)).into()),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::per_subscriber;

    #[test]
    fn ipv6_clients_count_per_64() {
        let a: std::net::IpAddr = "2001:db8:1:2:aaaa::1"
            .parse()
            .unwrap_or(std::net::Ipv6Addr::LOCALHOST.into());
        let b: std::net::IpAddr = "2001:db8:1:2:bbbb::9"
            .parse()
            .unwrap_or(std::net::Ipv6Addr::LOCALHOST.into());
        let other: std::net::IpAddr = "2001:db8:1:3::1"
            .parse()
            .unwrap_or(std::net::Ipv6Addr::LOCALHOST.into());
        assert_eq!(per_subscriber(a), per_subscriber(b));
        assert_ne!(per_subscriber(a), per_subscriber(other));
        let v4: std::net::IpAddr = [203, 0, 113, 7].into();
        assert_eq!(per_subscriber(v4), v4);
    }
}
