//! Runs the GameStream host's first half (nvhttp, pairing, RTSP) for manual tests with a
//! real Moonlight client. Type `<PIN> [name]` on stdin when the client shows a PIN.
//! Finished RTSP handshakes and session ends are logged (no video/audio/ENet yet).
//!
//! `cargo run -p punktfunk-control --example gs_host -- --state-dir /tmp/pf-state`

use std::io::BufRead;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use punktfunk_control::gamestream::{GameStreamHost, HostConfig};

#[derive(Parser, Debug)]
struct Args {
    /// Base port B (HTTP); HTTPS is B-5, RTSP B+21.
    #[arg(long, default_value_t = 47989)]
    base_port: u16,
    /// Address to bind.
    #[arg(long, default_value = "0.0.0.0")]
    bind: std::net::IpAddr,
    /// State directory (host certificate, paired clients).
    #[arg(long, default_value = "/tmp/punktfunk-gamestream")]
    state_dir: PathBuf,
    /// Host name shown by clients.
    #[arg(long, default_value = "punktfunk")]
    hostname: String,
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let args = Args::parse();
    let host = match GameStreamHost::start(HostConfig {
        hostname: args.hostname,
        bind: args.bind,
        base_port: args.base_port,
        state_dir: args.state_dir,
        ..HostConfig::default()
    }) {
        Ok(h) => std::sync::Arc::new(h),
        Err(e) => {
            eprintln!("gs_host: {e}");
            std::process::exit(1);
        }
    };
    let events = host.clone();
    std::thread::spawn(move || {
        loop {
            if let Some(ev) = events.next_event(Duration::from_secs(1)) {
                tracing::info!("host event: {ev:?}");
            }
        }
    });
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let mut parts = line.split_whitespace();
        let Some(pin) = parts.next() else { continue };
        let name = parts.collect::<Vec<_>>().join(" ");
        let name = if name.is_empty() {
            "Moonlight client"
        } else {
            name.as_str()
        };
        match host.submit_pin(pin, name) {
            Ok(()) => println!("PIN accepted"),
            Err(e) => println!("PIN refused: {e}"),
        }
    }
}
