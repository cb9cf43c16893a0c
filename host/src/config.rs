//! Host configuration: a TOML file whose every key has a CLI flag and an environment variable.
//! Precedence: command line > environment > file > built-in default.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use clap::{ArgAction, Parser, Subcommand, ValueEnum};
use serde::Deserialize;

/// What produces the video AUs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// The punktfunk/1 synthetic test stream (§5.7): 64 KiB AUs at the session's frame rate.
    Synthetic,
}

/// One-shot commands against a running host.
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Enters the PIN a Moonlight client shows while pairing (sent to the running host).
    Pin {
        /// The 4-digit PIN.
        pin: String,
        /// A name for the paired client.
        #[arg(long, default_value = "Moonlight")]
        name: String,
    },
}

/// `punktfunk-host`: Linux game/desktop streaming host (Moonlight/GameStream and the native
/// punktfunk/1 protocol).
#[derive(Debug, Parser)]
#[command(version, about)]
pub struct Cli {
    /// A command for a running host instead of running one.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Configuration file (TOML) [default: $XDG_CONFIG_HOME/punktfunk/host.toml]
    #[arg(long, env = "PUNKTFUNK_CONFIG")]
    pub config: Option<PathBuf>,
    /// State directory (identity, paired clients) [default: $XDG_STATE_HOME/punktfunk]
    #[arg(long, env = "PUNKTFUNK_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
    /// Send video through AF_XDP on this interface
    #[arg(long, env = "PUNKTFUNK_XDP")]
    pub xdp: Option<String>,
    /// Serve native punktfunk/1 clients [default: true]
    #[arg(long, env = "PUNKTFUNK_NATIVE", num_args = 0..=1, default_missing_value = "true", action = ArgAction::Set)]
    pub native: Option<bool>,
    /// Do not serve native clients
    #[arg(long, conflicts_with = "native")]
    pub no_native: bool,
    /// Serve Moonlight clients over GameStream [default: true]
    #[arg(long, env = "PUNKTFUNK_GAMESTREAM", num_args = 0..=1, default_missing_value = "true", action = ArgAction::Set)]
    pub gamestream: Option<bool>,
    /// Do not serve Moonlight clients
    #[arg(long, conflicts_with = "gamestream")]
    pub no_gamestream: bool,
    /// Video source [default: synthetic]
    #[arg(long, env = "PUNKTFUNK_SOURCE", value_enum)]
    pub source: Option<Source>,
    /// Cores for the datapath threads (e.g. "2,3" or "2-5")
    #[arg(long, env = "PUNKTFUNK_DATAPATH_CORES")]
    pub datapath_cores: Option<String>,
    /// Cores for the control-plane executor (e.g. "1")
    #[arg(long, env = "PUNKTFUNK_CONTROL_CORES")]
    pub control_cores: Option<String>,
    /// Address to listen on [default: 0.0.0.0]
    #[arg(long, env = "PUNKTFUNK_BIND")]
    pub bind: Option<IpAddr>,
    /// QUIC control port [default: 9777]
    #[arg(long, env = "PUNKTFUNK_NATIVE_PORT")]
    pub port: Option<u16>,
    /// Fixed data-plane port [default: ephemeral]
    #[arg(long, env = "PUNKTFUNK_DATA_PORT")]
    pub data_port: Option<u16>,
    /// Fixed pairing PIN (4 digits; for tests) [default: random per ceremony]
    #[arg(long, env = "PUNKTFUNK_PAIRING_PIN")]
    pub pairing_pin: Option<String>,
    /// Serve clients that are not paired (trust on first use)
    #[arg(long, env = "PUNKTFUNK_ALLOW_TOFU", num_args = 0..=1, default_missing_value = "true", action = ArgAction::Set)]
    pub allow_tofu: Option<bool>,
    /// Synthetic AUs per session, 0 = until the client leaves [default: 0]
    #[arg(long, env = "PUNKTFUNK_FRAMES")]
    pub frames: Option<u32>,
    /// Initial FEC percentage [default: 10]
    #[arg(long, env = "PUNKTFUNK_FEC_PCT")]
    pub fec_percent: Option<u8>,
    /// Keep the FEC percentage fixed [default: false]
    #[arg(long, env = "PUNKTFUNK_FEC_PINNED", num_args = 0..=1, default_missing_value = "true", action = ArgAction::Set)]
    pub fec_pinned: Option<bool>,
    /// Bitrate announced to clients in kbps, 0 = unknown [default: 0]
    #[arg(long, env = "PUNKTFUNK_BITRATE_KBPS")]
    pub bitrate_kbps: Option<u32>,
    /// Link MTU used to size shards [default: 1500]
    #[arg(long, env = "PUNKTFUNK_LINK_MTU")]
    pub link_mtu: Option<u16>,
    /// QUIC idle timeout in seconds [default: 8]
    #[arg(long, env = "PUNKTFUNK_IDLE_TIMEOUT")]
    pub idle_timeout: Option<u64>,
    /// GameStream base port (HTTP; HTTPS is 5 below, RTSP 21 above) [default: 47989]
    #[arg(long, env = "PUNKTFUNK_GAMESTREAM_PORT")]
    pub gamestream_port: Option<u16>,
    /// Host name shown to Moonlight clients [default: the system host name]
    #[arg(long, env = "PUNKTFUNK_HOSTNAME")]
    pub hostname: Option<String>,
    /// Advertise GameStream over mDNS so Moonlight finds the host by itself; "all" for every
    /// non-loopback IPv4 interface, or a list such as "eth0,wlan0" [default: off, clients add
    /// the host by address]
    #[arg(long, env = "PUNKTFUNK_MDNS")]
    pub mdns: Option<String>,
}

/// The TOML file: the same keys as the long options, with `-` written as `_`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    state_dir: Option<PathBuf>,
    xdp: Option<String>,
    native: Option<bool>,
    gamestream: Option<bool>,
    source: Option<Source>,
    datapath_cores: Option<String>,
    control_cores: Option<String>,
    bind: Option<IpAddr>,
    port: Option<u16>,
    data_port: Option<u16>,
    pairing_pin: Option<String>,
    allow_tofu: Option<bool>,
    frames: Option<u32>,
    fec_percent: Option<u8>,
    fec_pinned: Option<bool>,
    bitrate_kbps: Option<u32>,
    link_mtu: Option<u16>,
    idle_timeout: Option<u64>,
    gamestream_port: Option<u16>,
    hostname: Option<String>,
    mdns: Option<String>,
}

/// The resolved settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// State directory.
    pub state_dir: PathBuf,
    /// AF_XDP interface.
    pub xdp: Option<String>,
    /// Serve native clients.
    pub native: bool,
    /// Serve GameStream clients.
    pub gamestream: bool,
    /// Video source.
    pub source: Source,
    /// Datapath cores.
    pub datapath_cores: Vec<usize>,
    /// Control cores.
    pub control_cores: Vec<usize>,
    /// Listen address.
    pub bind: IpAddr,
    /// QUIC port.
    pub port: u16,
    /// Data port (0 = ephemeral).
    pub data_port: u16,
    /// Fixed PIN.
    pub pairing_pin: Option<String>,
    /// Serve unpaired clients.
    pub allow_tofu: bool,
    /// Synthetic frames per session.
    pub frames: u32,
    /// FEC percentage.
    pub fec_percent: u8,
    /// Fixed FEC.
    pub fec_pinned: bool,
    /// Bitrate announced.
    pub bitrate_kbps: u32,
    /// Link MTU.
    pub link_mtu: u16,
    /// Idle timeout, seconds.
    pub idle_timeout: u64,
    /// GameStream base port.
    pub gamestream_port: u16,
    /// Host name for Moonlight.
    pub hostname: String,
    /// mDNS advertisement: `None` off, `Some(empty)` every IPv4 interface, else these names.
    pub mdns: Option<Vec<String>>,
}

/// Errors resolving the configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file could not be read.
    #[error("{0}: {1}")]
    Read(PathBuf, std::io::Error),
    /// The config file is not valid.
    #[error("{0}: {1}")]
    Parse(PathBuf, toml::de::Error),
    /// A core list is malformed.
    #[error("bad core list {0:?} (use e.g. \"2,3\" or \"2-5\")")]
    Cores(String),
    /// No home directory to derive defaults from.
    #[error("cannot find a home directory for the default {0}; pass it explicitly")]
    NoHome(&'static str),
}

fn xdg(var: &str, fallback: &str) -> Option<PathBuf> {
    match std::env::var_os(var) {
        Some(v) if !v.is_empty() => Some(PathBuf::from(v)),
        _ => std::env::var_os("HOME").map(|h| Path::new(&h).join(fallback)),
    }
}

fn system_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "punktfunk".into())
}

/// `--mdns`: "off"/"" → none, "all" → every IPv4 interface (empty list), else a list of names.
fn parse_mdns(s: &str) -> Option<Vec<String>> {
    match s.trim() {
        "" | "off" | "no" | "false" => None,
        "all" | "on" | "yes" | "true" => Some(Vec::new()),
        list => Some(
            list.split(',')
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .map(String::from)
                .collect(),
        ),
    }
}

/// Parses "2,3,5-7".
pub fn parse_cores(s: &str) -> Result<Vec<usize>, ConfigError> {
    let bad = || ConfigError::Cores(s.to_string());
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (usize, usize) = (
                    a.trim().parse().map_err(|_| bad())?,
                    b.trim().parse().map_err(|_| bad())?,
                );
                if a > b || b - a > 4096 {
                    return Err(bad());
                }
                out.extend(a..=b);
            }
            None => out.push(part.parse().map_err(|_| bad())?),
        }
    }
    Ok(out)
}

impl Cli {
    /// Merges the command line (with environment) over the config file and the defaults.
    pub fn resolve(self) -> Result<Settings, ConfigError> {
        let (path, explicit) = match &self.config {
            Some(p) => (Some(p.clone()), true),
            None => (
                xdg("XDG_CONFIG_HOME", ".config").map(|d| d.join("punktfunk/host.toml")),
                false,
            ),
        };
        let file = match path {
            Some(p) => match std::fs::read_to_string(&p) {
                Ok(text) => toml::from_str::<FileConfig>(&text)
                    .map_err(|e| ConfigError::Parse(p.clone(), e))?,
                Err(e) if !explicit && e.kind() == std::io::ErrorKind::NotFound => {
                    FileConfig::default()
                }
                Err(e) => return Err(ConfigError::Read(p, e)),
            },
            None => FileConfig::default(),
        };
        let state_dir = match self.state_dir.or(file.state_dir) {
            Some(d) => d,
            None => xdg("XDG_STATE_HOME", ".local/state")
                .ok_or(ConfigError::NoHome("state dir"))?
                .join("punktfunk"),
        };
        let native = if self.no_native {
            Some(false)
        } else {
            self.native
        };
        let gamestream = if self.no_gamestream {
            Some(false)
        } else {
            self.gamestream
        };
        Ok(Settings {
            state_dir,
            xdp: self.xdp.or(file.xdp),
            native: native.or(file.native).unwrap_or(true),
            gamestream: gamestream.or(file.gamestream).unwrap_or(true),
            source: self.source.or(file.source).unwrap_or(Source::Synthetic),
            datapath_cores: parse_cores(
                &self
                    .datapath_cores
                    .or(file.datapath_cores)
                    .unwrap_or_default(),
            )?,
            control_cores: parse_cores(
                &self
                    .control_cores
                    .or(file.control_cores)
                    .unwrap_or_default(),
            )?,
            bind: self
                .bind
                .or(file.bind)
                .unwrap_or(IpAddr::from([0, 0, 0, 0])),
            port: self.port.or(file.port).unwrap_or(9777),
            data_port: self.data_port.or(file.data_port).unwrap_or(0),
            pairing_pin: self.pairing_pin.or(file.pairing_pin),
            allow_tofu: self.allow_tofu.or(file.allow_tofu).unwrap_or(false),
            frames: self.frames.or(file.frames).unwrap_or(0),
            fec_percent: self.fec_percent.or(file.fec_percent).unwrap_or(10),
            fec_pinned: self.fec_pinned.or(file.fec_pinned).unwrap_or(false),
            bitrate_kbps: self.bitrate_kbps.or(file.bitrate_kbps).unwrap_or(0),
            link_mtu: self.link_mtu.or(file.link_mtu).unwrap_or(1500),
            idle_timeout: self.idle_timeout.or(file.idle_timeout).unwrap_or(8),
            gamestream_port: self
                .gamestream_port
                .or(file.gamestream_port)
                .unwrap_or(47989),
            hostname: self
                .hostname
                .or(file.hostname)
                .unwrap_or_else(system_hostname),
            mdns: self
                .mdns
                .or(file.mdns)
                .map(|m| parse_mdns(&m))
                .unwrap_or(None),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cli(args: &[&str]) -> Cli {
        let mut v = vec!["punktfunk-host"];
        v.extend_from_slice(args);
        Cli::try_parse_from(v).unwrap()
    }

    #[test]
    fn cli_overrides_file_and_file_overrides_defaults() {
        let tmp = tempfile::tempdir().unwrap();
        let f = tmp.path().join("host.toml");
        std::fs::write(&f, "port = 1234\nfec_percent = 20\nnative = false\ncontrol_cores = \"1-2\"\nsource = \"synthetic\"\n")
            .unwrap();
        let cfg = f.to_str().unwrap();
        let sd = tmp.path().join("st");
        let sd = sd.to_str().unwrap();
        let s = cli(&["--config", cfg, "--state-dir", sd])
            .resolve()
            .unwrap();
        assert_eq!((s.port, s.fec_percent, s.native), (1234, 20, false));
        assert_eq!(s.control_cores, vec![1, 2]);
        assert!(s.gamestream);
        let s = cli(&[
            "--config",
            cfg,
            "--state-dir",
            sd,
            "--port",
            "9",
            "--native",
            "--no-gamestream",
        ])
        .resolve()
        .unwrap();
        assert_eq!((s.port, s.native, s.gamestream), (9, true, false));
        assert_eq!(s.fec_percent, 20);
    }

    #[test]
    fn bad_files_and_core_lists_are_errors() {
        let tmp = tempfile::tempdir().unwrap();
        let f = tmp.path().join("host.toml");
        std::fs::write(&f, "prot = 1\n").unwrap();
        assert!(matches!(
            cli(&["--config", f.to_str().unwrap()]).resolve(),
            Err(ConfigError::Parse(..))
        ));
        let missing = tmp.path().join("nope.toml");
        assert!(matches!(
            cli(&["--config", missing.to_str().unwrap()]).resolve(),
            Err(ConfigError::Read(..))
        ));
        assert_eq!(parse_cores("0,2-4").unwrap(), vec![0, 2, 3, 4]);
        assert_eq!(parse_mdns("off"), None);
        assert_eq!(parse_mdns("all"), Some(vec![]));
        assert_eq!(
            parse_mdns("eth0, wlan0"),
            Some(vec!["eth0".to_string(), "wlan0".to_string()])
        );
        assert!(parse_cores("4-2").is_err());
        assert!(parse_cores("x").is_err());
    }
}
