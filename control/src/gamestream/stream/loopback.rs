//! Building blocks for driving a stream session on loopback without RTSP: a typed ANNOUNCE
//! as stock Moonlight sends it, free ports, and the `StreamStart` the RTSP server would emit.
//! Used by the session tests and the loopback benchmark (`examples/gs_loopback_bench.rs`).

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::time::Instant;

use punktfunk_core::gamestream::rtsp::StreamConfig;

use crate::gamestream::nvhttp::query::LaunchParams;
use crate::gamestream::session::{LaunchSession, Ports, StreamStart};

/// What the synthetic client announces.
#[derive(Debug, Clone, Copy)]
pub struct ClientParams {
    /// `x-ss-general.encryptionEnabled` (1 control v2, 2 video, 4 audio).
    pub encryption: u32,
    /// Stream width.
    pub width: u32,
    /// Stream height.
    pub height: u32,
    /// Frames per second.
    pub fps: u32,
    /// Bitrate in kbit/s.
    pub bitrate_kbps: u32,
}

/// The ANNOUNCE body of stock Moonlight for `p` (Appendix C.3 with the values changed), parsed.
pub fn announce(p: &ClientParams) -> StreamConfig {
    StreamConfig::parse(announce_body(p).as_bytes()).expect("the synthetic ANNOUNCE parses")
}

/// The ANNOUNCE body (SDP) of stock Moonlight for `p`, as sent over RTSP.
pub fn announce_body(p: &ClientParams) -> String {
    let packet_size = if p.encryption & 2 != 0 { 1360 } else { 1392 };
    let attrs = [
        "x-ml-general.featureFlags:3".to_string(),
        format!("x-ss-general.encryptionEnabled:{}", p.encryption),
        "x-ss-video[0].chromaSamplingType:0".into(),
        format!("x-nv-video[0].clientViewportWd:{}", p.width),
        format!("x-nv-video[0].clientViewportHt:{}", p.height),
        format!("x-nv-video[0].maxFPS:{}", p.fps),
        format!("x-nv-video[0].packetSize:{packet_size}"),
        "x-nv-video[0].rateControlMode:4".into(),
        format!("x-nv-vqos[0].bw.maximumBitrateKbps:{}", p.bitrate_kbps),
        format!("x-ml-video.configuredBitrateKbps:{}", p.bitrate_kbps),
        "x-nv-general.featureFlags:167".into(),
        "x-nv-general.useReliableUdp:13".into(),
        "x-nv-vqos[0].fec.minRequiredFecPackets:2".into(),
        "x-nv-video[0].videoEncoderSlicesPerFrame:1".into(),
        "x-nv-clientSupportHevc:0".into(),
        "x-nv-vqos[0].bitStreamFormat:0".into(),
        "x-nv-video[0].dynamicRangeMode:0".into(),
        "x-nv-video[0].maxNumReferenceFrames:1".into(),
        format!("x-nv-video[0].clientRefreshRateX100:{}", p.fps * 100),
        "x-nv-audio.surround.numChannels:2".into(),
        "x-nv-audio.surround.channelMask:3".into(),
        "x-nv-audio.surround.enable:0".into(),
        "x-nv-audio.surround.AudioQuality:0".into(),
        "x-nv-aqos.packetDuration:5".into(),
        "x-nv-video[0].encoderCscMode:2".into(),
    ];
    let mut body =
        String::from("v=0\r\no=android 0 14 IN IPv4 127.0.0.1\r\ns=NVIDIA Streaming Client\r\n");
    for a in attrs {
        body.push_str(&format!("a={a} \r\n"));
    }
    body.push_str("t=0 0\r\nm=video 47998  \r\n");
    body
}

/// A base port whose video, audio and control ports are free on 127.0.0.1 right now.
pub fn free_ports() -> Option<Ports> {
    (0..64).find_map(|_| {
        let base = 20_000 + rand::random::<u16>() % 40_000;
        let p = Ports::from_base(base)?;
        [p.video, p.audio, p.control]
            .iter()
            .all(|&port| UdpSocket::bind(("127.0.0.1", port)).is_ok())
            .then_some(p)
    })
}

/// Keys and identifiers of a synthetic launch.
#[derive(Debug, Clone)]
pub struct LaunchKeys {
    /// `rikey`.
    pub rikey: [u8; 16],
    /// `rikeyid`.
    pub rikeyid: u32,
    /// 16-character ping payload.
    pub ping_payload: String,
    /// ENet connect data.
    pub connect_data: u32,
}

/// The `StreamStart` the RTSP server would emit for a client on 127.0.0.1.
pub fn stream_start(config: StreamConfig, ports: Ports, keys: &LaunchKeys) -> StreamStart {
    let ip: IpAddr = IpAddr::from([127, 0, 0, 1]);
    let session = LaunchSession {
        params: LaunchParams {
            appid: 1,
            mode: None,
            rikey: keys.rikey,
            rikeyid: keys.rikeyid,
            local_audio: false,
            surround_audio_info: 0x0003_0002,
            sops: false,
            hdr: false,
            corever: 1,
            controllers: 1,
        },
        appid: 1,
        client_fingerprint: [0; 32],
        client_ip: ip,
        ping_payload: keys.ping_payload.clone(),
        connect_data: keys.connect_data,
        created: Instant::now(),
        rtsp_seq: 0,
        setup: [true; 3],
        config: Some(config),
        high_quality_audio: false,
    };
    StreamStart {
        session,
        config,
        client_ip: ip,
        rtsp_peer: SocketAddr::new(ip, 1),
        ports,
    }
}

/// A session ping: payload then BE32 counter.
pub fn ping(payload: &str, n: u32) -> Vec<u8> {
    let mut p = payload.as_bytes().to_vec();
    p.extend_from_slice(&n.to_be_bytes());
    p
}

/// A decrypted message from the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostMsg {
    /// The host's sequence number.
    pub seq: u32,
    /// Inner message type.
    pub msg_type: u16,
    /// Payload.
    pub payload: Vec<u8>,
}

/// Moonlight's side of the control stream, for tests: ENet with 48 channels and the connect
/// data, v2-encrypted messages both ways.
pub struct ControlClient {
    host: rusty_enet::Host<UdpSocket>,
    peer: rusty_enet::PeerID,
    cipher: punktfunk_core::gamestream::control::ControlCipher,
    seq: u32,
    /// Host messages that arrived while `connect` watched for a refusal.
    early: std::collections::VecDeque<HostMsg>,
}

impl ControlClient {
    /// Connects to `server` with `connect_data`; `None` if the host refused (a refused client
    /// sees the connection complete, then an immediate disconnect) or nothing answered in 5 s.
    pub fn connect(server: SocketAddr, connect_data: u32, rikey: &[u8; 16]) -> Option<Self> {
        use punktfunk_core::gamestream::control::{ControlCipher, IvMode};
        use rusty_enet::{EventNoRef, Host, HostSettings};
        let epoch = Instant::now();
        let mut host = Host::new(
            UdpSocket::bind("127.0.0.1:0").ok()?,
            HostSettings {
                peer_limit: 1,
                channel_limit: 48,
                time: Box::new(move || epoch.elapsed()),
                ..HostSettings::default()
            },
        )
        .ok()?;
        let peer = host.connect(server, 48, connect_data).ok()?.id();
        let mut c = Self {
            host,
            peer,
            cipher: ControlCipher::new(rikey, IvMode::V2),
            seq: 0,
            early: Default::default(),
        };
        if !matches!(
            c.wait(std::time::Duration::from_secs(5)),
            Some(EventNoRef::Connect { .. })
        ) {
            return None;
        }
        let end = Instant::now() + std::time::Duration::from_millis(300);
        while let Some(ev) = c.wait(end.saturating_duration_since(Instant::now())) {
            match ev {
                EventNoRef::Disconnect { .. } => return None,
                EventNoRef::Receive { packet, .. } => {
                    if let Some(m) = c.open(packet.data()) {
                        c.early.push_back(m);
                    }
                }
                EventNoRef::Connect { .. } => {}
            }
        }
        Some(c)
    }

    /// The next ENet event within `timeout`.
    pub fn wait(&mut self, timeout: std::time::Duration) -> Option<rusty_enet::EventNoRef> {
        let end = Instant::now() + timeout;
        while Instant::now() < end {
            if let Ok(Some(ev)) = self.host.service() {
                return Some(ev.no_ref());
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        None
    }

    /// Seals and sends one message on `channel` (reliable).
    pub fn send(&mut self, channel: u8, msg_type: u16, payload: &[u8]) {
        use punktfunk_core::gamestream::control::{ControlCipher, Direction};
        let mut out = vec![0u8; ControlCipher::sealed_len(payload.len())];
        let n = self
            .cipher
            .seal(
                Direction::ClientToHost,
                self.seq,
                msg_type,
                payload,
                &mut out,
            )
            .expect("payload fits a control message");
        self.seq += 1;
        self.send_raw(channel, &out[..n]);
    }

    /// Sends raw bytes as one reliable ENet packet (to test bad input).
    pub fn send_raw(&mut self, channel: u8, bytes: &[u8]) {
        let _ = self
            .host
            .peer_mut(self.peer)
            .send(channel, &rusty_enet::Packet::reliable(bytes));
        self.host.flush();
    }

    /// Services ENet once: returns the next event, if any.
    pub fn poll(&mut self) -> Option<rusty_enet::EventNoRef> {
        self.host.service().ok().flatten().map(|e| e.no_ref())
    }

    /// Services ENet for `d`, collecting events (keeps acks and retransmits flowing).
    pub fn pump(&mut self, d: std::time::Duration) -> Vec<rusty_enet::EventNoRef> {
        let end = Instant::now() + d;
        let mut evs = Vec::new();
        while Instant::now() < end {
            match self.poll() {
                Some(ev) => evs.push(ev),
                None => std::thread::sleep(std::time::Duration::from_millis(1)),
            }
        }
        evs
    }

    /// Opens a message from the host, or `None` if it does not authenticate.
    pub fn open(&self, packet: &[u8]) -> Option<HostMsg> {
        let mut scratch = vec![0u8; packet.len()];
        let m = self
            .cipher
            .open(
                punktfunk_core::gamestream::control::Direction::HostToClient,
                packet,
                &mut scratch,
            )
            .ok()?;
        Some(HostMsg {
            seq: m.seq,
            msg_type: m.msg_type,
            payload: m.payload.to_vec(),
        })
    }

    /// Services ENet once and returns the host message it delivered, if any.
    pub fn poll_message(&mut self) -> Option<HostMsg> {
        if let Some(m) = self.early.pop_front() {
            return Some(m);
        }
        match self.poll()? {
            rusty_enet::EventNoRef::Receive { packet, .. } => self.open(packet.data()),
            _ => None,
        }
    }
}
