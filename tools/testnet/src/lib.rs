//! Throw-away test networks: a network namespace joined to the host by a veth pair.
//!
//! Tests of the datapath, the eBPF programs, the host and the benches send real packets only to
//! addresses inside namespaces they created here. Every name is unique per process and call
//! (parallel tests never collide), subnets are allocated under a file lock, and everything is
//! removed on drop, also when a test panics.
//!
//! ```no_run
//! let net = punktfunk_testnet::VethNet::create().unwrap();
//! let peer = std::net::SocketAddr::from((net.ns_addr, 9000));
//! net.ns.run(|| { /* code here runs inside the namespace */ }).unwrap();
//! ```

use std::fs::File;
use std::net::Ipv4Addr;
use std::os::fd::AsFd;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

/// Errors while building or using a test network.
#[derive(Debug, thiserror::Error)]
pub enum TestNetError {
    /// Creating namespaces needs root (CAP_SYS_ADMIN, CAP_NET_ADMIN).
    #[error("not running as root: network namespaces need CAP_SYS_ADMIN/CAP_NET_ADMIN")]
    NotRoot,
    /// The `ip` tool (iproute2) is missing.
    #[error("`ip` (iproute2) not found: install iproute2")]
    NoIpTool,
    /// An `ip` command failed.
    #[error("`{cmd}` failed: {stderr}")]
    Command {
        /// The command line.
        cmd: String,
        /// What it printed on stderr.
        stderr: String,
    },
    /// A system call failed.
    #[error("{what}: {source}")]
    Sys {
        /// What was being done.
        what: &'static str,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// No free test subnet is left (more than 200 live test networks).
    #[error("no free 10.77.x.0/24 test subnet")]
    NoSubnet,
}

/// Checks that test networks can be built here; the error explains why not (tests print it
/// as their skip reason).
pub fn available() -> Result<(), TestNetError> {
    if !nix::unistd::Uid::effective().is_root() {
        return Err(TestNetError::NotRoot);
    }
    match Command::new("ip").arg("-V").output() {
        Ok(o) if o.status.success() => Ok(()),
        _ => Err(TestNetError::NoIpTool),
    }
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn unique_tag() -> String {
    // pid (base 36, ≤ 6 chars) + counter keeps interface names within 15 bytes.
    let pid = std::process::id();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{}{}", radix36(pid), radix36(n))
}

fn radix36(mut v: u32) -> String {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[(v % 36) as usize]);
        v /= 36;
        if v == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).expect("ascii digits")
}

/// Runs `ip ARGS...` and returns its output, or a typed error with stderr.
pub fn ip(args: &[&str]) -> Result<Output, TestNetError> {
    let out = Command::new("ip").args(args).output().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            TestNetError::NoIpTool
        } else {
            TestNetError::Sys {
                what: "spawning ip",
                source: e,
            }
        }
    })?;
    if !out.status.success() {
        return Err(TestNetError::Command {
            cmd: format!("ip {}", args.join(" ")),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(out)
}

/// A network namespace, deleted on drop.
#[derive(Debug)]
pub struct NetNs {
    name: String,
}

impl NetNs {
    /// Creates a namespace with a unique name starting with `pf`; loopback is brought up.
    pub fn create() -> Result<Self, TestNetError> {
        available()?;
        let name = format!("pf{}", unique_tag());
        ip(&["netns", "add", &name])?;
        let ns = Self { name };
        ns.exec(&["ip", "link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// The namespace's name (as `ip netns` knows it).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs a command inside the namespace (`ip netns exec`) and waits for it.
    pub fn exec(&self, argv: &[&str]) -> Result<Output, TestNetError> {
        let mut args = vec!["netns", "exec", &self.name];
        args.extend_from_slice(argv);
        ip(&args)
    }

    /// A `Command` that will run inside the namespace (for long-lived child processes).
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name, program]);
        c
    }

    /// Runs `f` on a new thread that has joined this namespace, and returns its result.
    /// Sockets created inside `f` belong to the namespace for their whole life.
    pub fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, TestNetError> {
        let handle = self.spawn(f)?;
        Ok(handle
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e)))
    }

    /// Starts `f` on a new thread inside this namespace and returns its join handle.
    pub fn spawn<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<std::thread::JoinHandle<T>, TestNetError> {
        let path = Path::new("/var/run/netns").join(&self.name);
        let file = File::open(&path).map_err(|e| TestNetError::Sys {
            what: "opening netns",
            source: e,
        })?;
        let (tx, rx) = std::sync::mpsc::channel();
        let handle = std::thread::spawn(move || {
            let joined = nix::sched::setns(file.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET)
                .map_err(|e| std::io::Error::from_raw_os_error(e as i32));
            let ok = joined.is_ok();
            let _ = tx.send(joined);
            if !ok {
                // The caller gets the error from the channel; this thread must not run `f`
                // in the wrong namespace.
                std::panic::resume_unwind(Box::new("setns failed"));
            }
            f()
        });
        match rx.recv() {
            Ok(Ok(())) => Ok(handle),
            Ok(Err(e)) => {
                let _ = handle.join();
                Err(TestNetError::Sys {
                    what: "setns into test namespace",
                    source: e,
                })
            }
            Err(_) => Err(TestNetError::Sys {
                what: "namespace thread",
                source: std::io::Error::other("thread ended before joining the namespace"),
            }),
        }
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

/// A veth pair: one end in the host's namespace, the other inside a fresh [`NetNs`],
/// with addresses `10.77.N.1/24` (host) and `10.77.N.2/24` (namespace), both up.
#[derive(Debug)]
pub struct VethNet {
    /// Interface name on the host side.
    pub host_if: String,
    /// Interface name inside the namespace.
    pub ns_if: String,
    /// Address of the host side.
    pub host_addr: Ipv4Addr,
    /// Address of the namespace side.
    pub ns_addr: Ipv4Addr,
    /// MAC address of the host side.
    pub host_mac: [u8; 6],
    /// MAC address of the namespace side.
    pub ns_mac: [u8; 6],
    /// The namespace holding `ns_if`. Dropped after the link (fields drop in order).
    pub ns: NetNs,
    _subnet: SubnetLease,
}

impl VethNet {
    /// Builds the pair, addresses and links; everything is removed on drop.
    pub fn create() -> Result<Self, TestNetError> {
        let ns = NetNs::create()?;
        let tag = &ns.name()[2..];
        let host_if = format!("pfh{tag}");
        let ns_if = format!("pfn{tag}");
        let lease = SubnetLease::acquire()?;
        let n = lease.index;
        let host_addr = Ipv4Addr::new(10, 77, n, 1);
        let ns_addr = Ipv4Addr::new(10, 77, n, 2);
        ip(&[
            "link", "add", &host_if, "type", "veth", "peer", "name", &ns_if,
        ])?;
        // From here on the link exists: build the value first so Drop cleans up on error.
        let mut net = Self {
            host_if,
            ns_if,
            host_addr,
            ns_addr,
            host_mac: [0; 6],
            ns_mac: [0; 6],
            ns,
            _subnet: lease,
        };
        ip(&["link", "set", &net.ns_if, "netns", net.ns.name()])?;
        ip(&[
            "addr",
            "add",
            &format!("{host_addr}/24"),
            "dev",
            &net.host_if,
        ])?;
        ip(&["link", "set", &net.host_if, "up"])?;
        net.ns.exec(&[
            "ip",
            "addr",
            "add",
            &format!("{ns_addr}/24"),
            "dev",
            &net.ns_if,
        ])?;
        net.ns.exec(&["ip", "link", "set", &net.ns_if, "up"])?;
        net.host_mac = read_mac(None, &net.host_if)?;
        net.ns_mac = read_mac(Some(&net.ns), &net.ns_if)?;
        Ok(net)
    }

    /// Interface index of the host side.
    pub fn host_ifindex(&self) -> Result<u32, TestNetError> {
        nix::net::if_::if_nametoindex(self.host_if.as_str()).map_err(|e| TestNetError::Sys {
            what: "if_nametoindex",
            source: e.into(),
        })
    }
}

impl Drop for VethNet {
    fn drop(&mut self) {
        // Deleting one end deletes both; the namespace goes when `ns` drops.
        let _ = Command::new("ip")
            .args(["link", "del", &self.host_if])
            .output();
    }
}

fn read_mac(ns: Option<&NetNs>, ifname: &str) -> Result<[u8; 6], TestNetError> {
    let out = match ns {
        Some(ns) => ns.exec(&["cat", &format!("/sys/class/net/{ifname}/address")])?,
        None => Command::new("cat")
            .arg(format!("/sys/class/net/{ifname}/address"))
            .output()
            .map_err(|e| TestNetError::Sys {
                what: "reading MAC",
                source: e,
            })?,
    };
    parse_mac(String::from_utf8_lossy(&out.stdout).trim()).ok_or_else(|| TestNetError::Command {
        cmd: format!("read MAC of {ifname}"),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

/// Parses `aa:bb:cc:dd:ee:ff`.
pub fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    let mut parts = s.split(':');
    for b in &mut mac {
        *b = u8::from_str_radix(parts.next()?, 16).ok()?;
    }
    parts.next().is_none().then_some(mac)
}

/// A claim on one 10.77.N.0/24 subnet, held by a lock file for the life of the network.
#[derive(Debug)]
struct SubnetLease {
    index: u8,
    _lock: nix::fcntl::Flock<File>,
}

impl SubnetLease {
    fn acquire() -> Result<Self, TestNetError> {
        let dir = Path::new("/tmp/punktfunk-testnet");
        std::fs::create_dir_all(dir).map_err(|e| TestNetError::Sys {
            what: "creating lease dir",
            source: e,
        })?;
        for index in 1..=250u8 {
            let file = File::options()
                .create(true)
                .truncate(false)
                .write(true)
                .open(dir.join(format!("subnet-{index}.lock")))
                .map_err(|e| TestNetError::Sys {
                    what: "opening lease file",
                    source: e,
                })?;
            if let Ok(lock) =
                nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusiveNonblock)
            {
                return Ok(Self { index, _lock: lock });
            }
        }
        Err(TestNetError::NoSubnet)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;
    use std::time::Duration;

    #[test]
    fn mac_parsing() {
        assert_eq!(parse_mac("02:00:0a:ff:10:01"), Some([2, 0, 10, 255, 16, 1]));
        assert_eq!(parse_mac("02:00:0a:ff:10"), None);
        assert_eq!(parse_mac("02:00:0a:ff:10:01:02"), None);
        assert_eq!(parse_mac("zz:00:0a:ff:10:01"), None);
    }

    #[test]
    fn udp_crosses_the_veth_pair_and_everything_is_removed() {
        if let Err(why) = available() {
            eprintln!("SKIPPED: {why}");
            return;
        }
        let (ns_name, host_if);
        {
            let net = VethNet::create().unwrap();
            ns_name = net.ns.name().to_string();
            host_if = net.host_if.clone();
            assert_ne!(net.host_mac, net.ns_mac);
            let ns_addr = net.ns_addr;
            let rx = net
                .ns
                .run(move || {
                    let s = UdpSocket::bind((ns_addr, 0)).unwrap();
                    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                    s
                })
                .unwrap();
            let to = rx.local_addr().unwrap();
            let tx = UdpSocket::bind((net.host_addr, 0)).unwrap();
            tx.send_to(b"punktfunk", to).unwrap();
            let mut buf = [0u8; 32];
            let (n, from) = rx.recv_from(&mut buf).unwrap();
            assert_eq!(&buf[..n], b"punktfunk");
            assert_eq!(from.ip(), std::net::IpAddr::V4(net.host_addr));
            // A socket bound in the host namespace cannot bind the namespace's address.
            assert!(UdpSocket::bind((ns_addr, 0)).is_err());
        }
        let links = ip(&["-o", "link"]).unwrap();
        assert!(!String::from_utf8_lossy(&links.stdout).contains(&host_if));
        let nss = ip(&["netns", "list"]).unwrap();
        assert!(!String::from_utf8_lossy(&nss.stdout).contains(&ns_name));
    }
}
