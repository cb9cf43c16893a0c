//! mDNS discovery (gamestream-protocol.md §10 step 1): the host advertises
//! `_nvstream._tcp.local.` with SRV port = its HTTP port, so Moonlight lists it without the
//! user typing an address. Only the chosen interfaces are joined (mdns-sd joins every
//! interface, loopback included, unless told otherwise).

use mdns_sd::{IfKind, ServiceDaemon, ServiceInfo};

/// The GameStream service type.
pub const SERVICE_TYPE: &str = "_nvstream._tcp.local.";

/// Where to advertise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Interfaces {
    /// Every IPv4 interface except loopback.
    AllIpv4,
    /// Exactly these interfaces, by name.
    Named(Vec<String>),
}

/// Errors starting discovery.
#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    /// The mDNS daemon refused.
    #[error("mDNS: {0}")]
    Mdns(#[from] mdns_sd::Error),
}

/// A running advertisement; withdrawn on drop.
pub struct Advertiser {
    daemon: ServiceDaemon,
    fullname: String,
}

impl std::fmt::Debug for Advertiser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Advertiser")
            .field("fullname", &self.fullname)
            .finish()
    }
}

impl Advertiser {
    /// Advertises `instance` (the host name Moonlight shows) at HTTP port `http_port`.
    pub fn start(
        instance: &str,
        http_port: u16,
        interfaces: &Interfaces,
    ) -> Result<Self, DiscoveryError> {
        let daemon = ServiceDaemon::new()?;
        daemon.disable_interface(IfKind::All)?;
        match interfaces {
            Interfaces::AllIpv4 => {
                daemon.enable_interface(IfKind::IPv4)?;
                daemon.disable_interface(vec![IfKind::LoopbackV4, IfKind::LoopbackV6])?;
            }
            Interfaces::Named(names) => {
                let kinds: Vec<IfKind> = names.iter().map(|n| IfKind::Name(n.clone())).collect();
                daemon.enable_interface(kinds)?;
            }
        }
        let host = format!("{}.local.", sanitize(instance));
        let info = ServiceInfo::new(
            SERVICE_TYPE,
            instance,
            &host,
            (),
            http_port,
            None::<std::collections::HashMap<String, String>>,
        )?
        .enable_addr_auto();
        let fullname = info.get_fullname().to_string();
        daemon.register(info)?;
        tracing::info!(%fullname, http_port, ?interfaces, "advertising over mDNS");
        Ok(Self { daemon, fullname })
    }

    /// The advertised instance's full name.
    pub fn fullname(&self) -> &str {
        &self.fullname
    }
}

impl Drop for Advertiser {
    fn drop(&mut self) {
        if let Ok(rx) = self.daemon.unregister(&self.fullname) {
            let _ = rx.recv_timeout(std::time::Duration::from_secs(1));
        }
        let _ = self.daemon.shutdown();
    }
}

/// A DNS-safe host label from a display name.
fn sanitize(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .take(63)
        .collect();
    if s.is_empty() { "punktfunk".into() } else { s }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_labels_are_dns_safe() {
        assert_eq!(sanitize("my host_1.lan"), "my-host-1-lan");
        assert_eq!(sanitize(""), "punktfunk");
        assert_eq!(sanitize(&"x".repeat(100)).len(), 63);
    }
}
