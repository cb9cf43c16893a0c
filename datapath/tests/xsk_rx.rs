//! The XSK receive path end to end with the `ebpf` crate's XDP steering program: feedback for
//! the host's port, sent from the namespace, is redirected into the AF_XDP socket's RX ring
//! (skb and driver mode; 1000 datagrams through a 64-entry ring, so fill-ring recycling is
//! exercised), read by `poll_rx`, and TX keeps working on the same socket.

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use punktfunk_datapath::xdp::{XdpConfig, XdpEngine};
use punktfunk_datapath::{Flow, TxQueue};
use punktfunk_ebpf::{XdpAttachMode, XdpSteering};

#[test]
fn feedback_through_the_xsk_rx_ring() {
    if let Err(why) = punktfunk_testnet::available() {
        eprintln!("SKIPPED: {why}");
        return;
    }
    if let Err(why) = punktfunk_datapath::xdp::available() {
        eprintln!("SKIPPED: {why}");
        return;
    }
    for mode in [XdpAttachMode::Skb, XdpAttachMode::Driver] {
        let net = punktfunk_testnet::VethNet::create().unwrap();
        let ns_addr = net.ns_addr;
        let peer = net
            .ns
            .run(move || UdpSocket::bind((ns_addr, 0)).unwrap())
            .unwrap();
        let flow = Flow {
            local: SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)),
            remote: peer.local_addr().unwrap(),
        };
        let mut q = XdpEngine::open(
            &flow,
            &XdpConfig {
                rx: true,
                ring_size: 64,
                frames: 256,
                ..XdpConfig::default()
            },
        )
        .unwrap();
        let host = q.local_addr();
        let mut steer = match XdpSteering::load() {
            Ok(s) => s,
            Err(e) => {
                eprintln!("SKIPPED: cannot load the XDP steering program: {e}");
                return;
            }
        };
        steer.set_ports(&[host.port()]).unwrap();
        steer.register_xsk(0, &q.xsk_fd()).unwrap();
        steer.attach(&net.host_if, mode).unwrap();
        for round in 0..20u8 {
            for i in 0..50u8 {
                peer.send_to(&[i ^ round; 300], host).unwrap();
            }
            let mut got = Vec::new();
            let mut buf = vec![0u8; 65536];
            let deadline = Instant::now() + Duration::from_secs(5);
            while got.len() < 50 && Instant::now() < deadline {
                q.poll_rx(&mut buf, &mut |from, d| {
                    assert_eq!(from, peer.local_addr().unwrap());
                    got.push(d.to_vec())
                })
                .unwrap();
            }
            assert_eq!(got.len(), 50, "{mode:?} round {round}");
            for (i, d) in got.iter().enumerate() {
                assert_eq!(d, &vec![i as u8 ^ round; 300]);
            }
        }
        let st = steer.stats().unwrap();
        eprintln!("{mode:?}: {st:?}");
        assert_eq!(st.redirected, 1000, "{mode:?}: all through the XSK");
        // And TX still works on the same socket.
        let mut b = q.batch(1).unwrap();
        use punktfunk_datapath::{DatagramSink, TxBatch};
        b.next_datagram(4).unwrap().copy_from_slice(b"pong");
        b.commit().unwrap();
        let mut buf = [0u8; 16];
        peer.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let (n, _) = peer.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"pong");
    }
}
