//! Route and neighbour lookup for the AF_XDP engine: which interface, source address and
//! next-hop MAC the kernel would use for a destination, so `--xdp eth0` needs no extra flags.
//!
//! Asks iproute2 (`ip route get`, `ip neigh show`) once at start-up; when the next hop's MAC is
//! not yet known, one UDP datagram to its discard port makes the kernel resolve it (ARP/NDP).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::TxError;

/// Where packets for one destination leave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// Outgoing interface.
    pub ifname: String,
    /// Its index.
    pub ifindex: u32,
    /// Preferred source address.
    pub src: IpAddr,
    /// Gateway, or the destination itself when on-link.
    pub next_hop: IpAddr,
    /// Interface MAC.
    pub src_mac: [u8; 6],
    /// Next hop's MAC.
    pub dst_mac: [u8; 6],
    /// Interface MTU.
    pub mtu: u32,
}

/// Fields of one `ip route get` answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteGet {
    /// `dev`.
    pub dev: String,
    /// `src`, if printed.
    pub src: Option<IpAddr>,
    /// `via`, if printed.
    pub via: Option<IpAddr>,
    /// Whether the route is of type `local` (the destination is this host).
    pub local: bool,
}

/// Parses the first line of `ip route get ADDR` output.
pub fn parse_route_get(out: &str) -> Option<RouteGet> {
    let line = out.lines().next()?;
    let mut toks = line.split_whitespace();
    let mut r = RouteGet {
        dev: String::new(),
        src: None,
        via: None,
        local: false,
    };
    let mut first = true;
    while let Some(t) = toks.next() {
        match t {
            "local" if first => r.local = true,
            "dev" => r.dev = toks.next()?.to_string(),
            "src" => r.src = toks.next()?.parse().ok(),
            "via" => {
                // `via inet6 ADDR` appears for cross-family gateways.
                let mut v = toks.next()?;
                if v == "inet" || v == "inet6" {
                    v = toks.next()?;
                }
                r.via = v.parse().ok()
            }
            _ => {}
        }
        first = false;
    }
    (!r.dev.is_empty()).then_some(r)
}

/// Parses `ip neigh show to ADDR dev DEV` output: the `lladdr` of a usable entry.
pub fn parse_neigh(out: &str) -> Option<[u8; 6]> {
    for line in out.lines() {
        if line.contains("FAILED") || line.contains("INCOMPLETE") {
            continue;
        }
        let mut toks = line.split_whitespace();
        while let Some(t) = toks.next() {
            if t == "lladdr" {
                return parse_mac(toks.next()?);
            }
        }
    }
    None
}

/// Parses `aa:bb:cc:dd:ee:ff`.
pub fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    let mut parts = s.trim().split(':');
    for b in &mut mac {
        *b = u8::from_str_radix(parts.next()?, 16).ok()?;
    }
    parts.next().is_none().then_some(mac)
}

fn ip(args: &[&str]) -> Result<String, String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("running ip: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn sysfs(ifname: &str, what: &str) -> Result<String, String> {
    std::fs::read_to_string(format!("/sys/class/net/{ifname}/{what}"))
        .map(|s| s.trim().to_string())
        .map_err(|e| format!("reading {what} of {ifname}: {e}"))
}

/// Resolves the route to `dst` (optionally forced out of `dev`), waiting up to `wait` for the
/// neighbour entry.
pub fn resolve(dst: IpAddr, dev: Option<&str>, wait: Duration) -> Result<Route, TxError> {
    let err = |why: String| TxError::Route { dst, why };
    let dst_s = dst.to_string();
    let mut args = vec!["route", "get", dst_s.as_str()];
    if let Some(d) = dev {
        args.extend_from_slice(&["oif", d]);
    }
    let rg = parse_route_get(&ip(&args).map_err(err)?)
        .ok_or_else(|| err("unparsable `ip route get` output".into()))?;
    if rg.local || rg.dev == "lo" {
        return Err(TxError::Unsupported(format!(
            "{dst} is local (dev {}): AF_XDP needs a real interface",
            rg.dev
        )));
    }
    let ifindex = nix::net::if_::if_nametoindex(rg.dev.as_str())
        .map_err(|e| err(format!("if_nametoindex({}): {e}", rg.dev)))?;
    let src_mac = parse_mac(&sysfs(&rg.dev, "address").map_err(err)?)
        .ok_or_else(|| err(format!("{} has no Ethernet address", rg.dev)))?;
    let mtu: u32 = sysfs(&rg.dev, "mtu")
        .map_err(err)?
        .parse()
        .map_err(|_| err("bad mtu".into()))?;
    let src = rg
        .src
        .ok_or_else(|| err(format!("no source address on {}", rg.dev)))?;
    let next_hop = rg.via.unwrap_or(dst);
    let dst_mac = neighbour(next_hop, &rg.dev, wait).map_err(err)?;
    Ok(Route {
        ifname: rg.dev,
        ifindex,
        src,
        next_hop,
        src_mac,
        dst_mac,
        mtu,
    })
}

fn neighbour(next_hop: IpAddr, dev: &str, wait: Duration) -> Result<[u8; 6], String> {
    let nh = next_hop.to_string();
    let lookup = || -> Result<Option<[u8; 6]>, String> {
        Ok(parse_neigh(&ip(&["neigh", "show", "to", &nh, "dev", dev])?))
    };
    if let Some(mac) = lookup()? {
        return Ok(mac);
    }
    // Make the kernel resolve it: one empty datagram to the discard port.
    let any: SocketAddr = match next_hop {
        IpAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        IpAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    if let Ok(s) = UdpSocket::bind(any) {
        let _ = s.send_to(&[], (next_hop, 9));
    }
    let deadline = Instant::now() + wait;
    loop {
        std::thread::sleep(Duration::from_millis(10));
        if let Some(mac) = lookup()? {
            return Ok(mac);
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "no neighbour entry for {nh} on {dev} after {wait:?}"
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_route_get() {
        let r = parse_route_get("10.77.3.2 dev pfh1a src 10.77.3.1 uid 0 \n    cache \n").unwrap();
        assert_eq!(r.dev, "pfh1a");
        assert_eq!(r.src, Some("10.77.3.1".parse().unwrap()));
        assert_eq!(r.via, None);
        assert!(!r.local);
        let r = parse_route_get("8.8.8.8 via 192.168.1.1 dev eth0 src 192.168.1.20 uid 0").unwrap();
        assert_eq!(r.via, Some("192.168.1.1".parse().unwrap()));
        assert_eq!(r.dev, "eth0");
        let r = parse_route_get("local 127.0.0.1 dev lo table local src 127.0.0.1 uid 0").unwrap();
        assert!(r.local);
        let r = parse_route_get("fd00::2 from :: via inet6 fe80::1 dev eth1 proto static src fd00::1 metric 1024 pref medium").unwrap();
        assert_eq!(r.via, Some("fe80::1".parse().unwrap()));
        assert!(parse_route_get("").is_none());
        assert!(parse_route_get("10.0.0.1 src 10.0.0.2").is_none());
    }

    #[test]
    fn parses_neigh() {
        assert_eq!(
            parse_neigh("10.77.3.2 lladdr 02:aa:bb:cc:dd:0e REACHABLE\n"),
            Some([2, 0xaa, 0xbb, 0xcc, 0xdd, 0x0e])
        );
        assert_eq!(parse_neigh("10.77.3.2 INCOMPLETE\n"), None);
        assert_eq!(
            parse_neigh("10.77.3.2 lladdr 02:aa:bb:cc:dd:0e FAILED\n"),
            None
        );
        assert_eq!(parse_neigh(""), None);
        assert_eq!(parse_neigh("10.77.3.2 lladdr zz"), None);
    }

    #[test]
    fn loopback_is_refused() {
        match resolve(
            "127.0.0.1".parse().unwrap(),
            None,
            Duration::from_millis(10),
        ) {
            Err(TxError::Unsupported(_)) => {}
            Err(TxError::Route { why, .. }) if why.contains("running ip") => {
                eprintln!("SKIPPED: no ip tool")
            }
            other => panic!("expected Unsupported, got {other:?}"),
        }
    }
}
