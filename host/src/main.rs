//! `punktfunk-host`: the streaming host binary.

mod config;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Parser;
use punktfunk_control::native::host::{HostConfig, HostState, LogInput, handler_factory};
use punktfunk_control::native::sealer::native_sealer_factory;
use punktfunk_control::native::state::StateDir;
use punktfunk_control::native::tls::server_config;
use punktfunk_control::quic::Driver;
use punktfunk_control::runtime::run_pinned;
use punktfunk_core::native::control::pake::Pin;
use tracing::info;

use config::{Cli, Command, Settings, Source};
use punktfunk_control::gamestream::discovery::Interfaces;
use punktfunk_datapath::select::EngineConfig;
use punktfunk_datapath::xdp::XdpConfig;
use punktfunk_host::gamestream::{
    GameStreamService, GameStreamSettings, backend_input, submit_pin,
};

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let command = cli.command.clone();
    let settings = cli.resolve()?;
    match command {
        Some(Command::Pin { pin, name }) => {
            let reply = submit_pin(&settings.state_dir, &pin, &name)?;
            println!("{reply}: pairing continues on the client");
            Ok(())
        }
        None => run(settings),
    }
}

fn run(s: Settings) -> anyhow::Result<()> {
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, stop.clone()).context("installing signal handlers")?;
    }
    if !s.datapath_cores.is_empty() {
        info!(
            "datapath cores {:?} (the native sender runs on the control executor for now)",
            s.datapath_cores
        );
    }
    if !s.native && !s.gamestream {
        bail!("nothing to serve: both --no-native and --no-gamestream were given");
    }
    std::fs::create_dir_all(&s.state_dir)
        .with_context(|| format!("state dir {}", s.state_dir.display()))?;
    let gamestream = if s.gamestream {
        let engines = match &s.xdp {
            Some(iface) => EngineConfig {
                xdp: Some(XdpConfig {
                    ifname: Some(iface.clone()),
                    ..XdpConfig::default()
                }),
                ..EngineConfig::all()
            },
            None => EngineConfig::sockets(),
        };
        let gs = GameStreamSettings {
            bind: s.bind,
            base_port: s.gamestream_port,
            state_dir: s.state_dir.clone(),
            hostname: s.hostname.clone(),
            engines,
            input: backend_input(),
            mdns: s.mdns.clone().map(|names| {
                if names.is_empty() {
                    Interfaces::AllIpv4
                } else {
                    Interfaces::Named(names)
                }
            }),
        };
        Some(GameStreamService::start(&gs, stop.clone())?)
    } else {
        None
    };
    if !s.native {
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(100));
        }
        info!("shutting down");
        if let Some(gs) = gamestream {
            gs.shutdown();
        }
        return Ok(());
    }
    let fixed_pin = match &s.pairing_pin {
        Some(p) => {
            Some(Pin::parse(p).with_context(|| format!("pairing PIN {p:?} must be 4 digits"))?)
        }
        None => None,
    };
    let Source::Synthetic = s.source;
    info!("video source: synthetic test stream (64 KiB AUs, user_flags 0x5)");

    let state_dir = StateDir::open(&s.state_dir)
        .with_context(|| format!("state dir {}", s.state_dir.display()))?;
    let (identity, created) =
        state_dir.load_or_create_identity(&["localhost", "punktfunk-host"])?;
    let paired = state_dir.load_paired()?;
    if created {
        info!("created host identity in {}", state_dir.path().display());
    }
    info!("host fingerprint {}", identity.fingerprint().to_hex());
    info!("{} paired client(s)", paired.clients().len());

    let host_config = HostConfig {
        require_pairing: !s.allow_tofu,
        fec_percent: s.fec_percent.clamp(0, 90),
        fec_pinned: s.fec_pinned,
        link_mtu: s.link_mtu,
        bitrate_kbps: s.bitrate_kbps,
        frames: s.frames,
        data_port: s.data_port,
        ..HostConfig::default()
    };
    let bind = SocketAddr::new(s.bind, s.port);
    let idle = Duration::from_secs(s.idle_timeout);
    let control_cores = s.control_cores.clone();
    run_pinned("pf-control", &control_cores, move || async move {
        let state = HostState::new(
            host_config,
            identity.fingerprint(),
            paired,
            fixed_pin,
            Box::new(|pin| {
                println!("pairing PIN: {pin}");
                info!("pairing armed, PIN {pin}");
            }),
            Box::new(LogInput),
            native_sealer_factory(),
        );
        let sc = server_config(&identity, idle)?;
        let driver = Driver::server(bind, sc, handler_factory(state.clone()), stop)
            .with_context(|| format!("binding QUIC on {bind}"))?;
        info!(
            "punktfunk/1 listening on {} (ALPN pkf1)",
            driver.local_addr()?
        );
        driver.run().await?;
        let st = state.borrow();
        st.paired.flush()?;
        info!("shut down: {:?}", st.stats);
        anyhow::Ok(())
    })??;
    if let Some(gs) = gamestream {
        gs.shutdown();
    }
    Ok(())
}
