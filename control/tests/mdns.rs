//! mDNS discovery over a real veth pair: the host side advertises on its veth only, and a
//! browser inside the namespace (as Moonlight on another machine) resolves the service to the
//! host's veth address and HTTP port.

use std::time::{Duration, Instant};

use mdns_sd::{IfKind, ServiceDaemon, ServiceEvent};
use punktfunk_control::gamestream::discovery::{Advertiser, Interfaces, SERVICE_TYPE};

#[test]
fn nvstream_service_is_found_from_another_namespace() {
    if let Err(why) = punktfunk_testnet::available() {
        eprintln!("SKIPPED: {why}");
        return;
    }
    let net = punktfunk_testnet::VethNet::create().unwrap();
    let adv = Advertiser::start(
        "pf-mdns-test",
        47989,
        &Interfaces::Named(vec![net.host_if.clone()]),
    )
    .unwrap();
    assert!(adv.fullname().starts_with("pf-mdns-test."));
    let ns_if = net.ns_if.clone();
    let found = net
        .ns
        .run(move || {
            let browser = ServiceDaemon::new().unwrap();
            browser.disable_interface(IfKind::All).unwrap();
            browser.enable_interface(IfKind::Name(ns_if)).unwrap();
            let rx = browser.browse(SERVICE_TYPE).unwrap();
            let deadline = Instant::now() + Duration::from_secs(10);
            let mut found = None;
            while Instant::now() < deadline && found.is_none() {
                if let Ok(ServiceEvent::ServiceResolved(s)) =
                    rx.recv_timeout(Duration::from_millis(200))
                {
                    found = Some((
                        s.get_fullname().to_string(),
                        s.get_port(),
                        s.get_addresses_v4(),
                    ));
                }
            }
            let _ = browser.shutdown();
            found
        })
        .unwrap();
    let (name, port, addrs) = found.expect("service resolved from the namespace within 10 s");
    assert!(name.starts_with("pf-mdns-test."), "{name}");
    assert_eq!(port, 47989);
    assert!(
        addrs.contains(&net.host_addr),
        "advertised {addrs:?}, want {}",
        net.host_addr
    );
    drop(adv);
}
