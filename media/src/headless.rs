//! Private headless desktops for tests and benchmarks: an Xvfb server and a PulseAudio
//! daemon with a null sink, each started on its own display/runtime directory and killed
//! when its guard drops (also when a test fails).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Errors starting a headless service.
#[derive(Debug, thiserror::Error)]
pub enum HeadlessError {
    /// The program is not installed.
    #[error("{0} not found in PATH (install it: scripts/setup.sh)")]
    Missing(&'static str),
    /// It started but never became ready.
    #[error("{0} did not become ready: {1}")]
    NotReady(&'static str, String),
    /// Spawning failed.
    #[error("spawning {0}: {1}")]
    Spawn(&'static str, std::io::Error),
}

/// Finds `prog` in `PATH`.
pub fn which(prog: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(prog))
        .find(|p| p.is_file())
}

/// Asks the child to terminate (SIGTERM lets Xvfb remove its lock and socket), then
/// kills it if it is still there after a second.
fn kill(child: &mut Child) {
    if let Some(pid) = rustix::process::Pid::from_raw(child.id() as i32) {
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
    }
    let deadline = Instant::now() + Duration::from_secs(1);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// A private Xvfb server (`Xvfb :N -screen 0 WxHx24 -nolisten tcp -noreset`).
pub struct Xvfb {
    child: Child,
    display: String,
}

impl Xvfb {
    /// Starts Xvfb at `width`×`height` on a free display number (retrying the next one
    /// when another server grabbed it first).
    pub fn start(width: u32, height: u32) -> Result<Self, HeadlessError> {
        static SEQ: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let bin = which("Xvfb").ok_or(HeadlessError::Missing("Xvfb"))?;
        let base = 200 + (std::process::id() % 400) * 16;
        let mut last = String::new();
        for _ in 0..16 {
            let n = base + SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 16;
            if Path::new(&format!("/tmp/.X{n}-lock")).exists()
                || Path::new(&format!("/tmp/.X11-unix/X{n}")).exists()
            {
                continue;
            }
            match Self::try_start(&bin, n, width, height) {
                Ok(x) => return Ok(x),
                Err(e) => last = e.to_string(),
            }
        }
        Err(HeadlessError::NotReady(
            "Xvfb",
            format!("no display came up: {last}"),
        ))
    }

    fn try_start(bin: &Path, n: u32, width: u32, height: u32) -> Result<Self, HeadlessError> {
        let display = format!(":{n}");
        let child = Command::new(bin)
            .args([
                &display,
                "-screen",
                "0",
                &format!("{width}x{height}x24"),
                "-nolisten",
                "tcp",
                "-noreset",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| HeadlessError::Spawn("Xvfb", e))?;
        let mut me = Self { child, display };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(st)) = me.child.try_wait() {
                return Err(HeadlessError::NotReady("Xvfb", format!("exited: {st}")));
            }
            if Path::new(&format!("/tmp/.X11-unix/X{n}")).exists()
                && x11rb::connect(Some(&me.display)).is_ok()
            {
                return Ok(me);
            }
            if Instant::now() > deadline {
                return Err(HeadlessError::NotReady("Xvfb", "timeout".into()));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The display name (`:N`).
    pub fn display(&self) -> &str {
        &self.display
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        kill(&mut self.child);
    }
}

/// A private PulseAudio daemon with a null sink `vsink` (48 kHz stereo), running in its
/// own runtime directory (design-notes §6).
pub struct PulseDaemon {
    child: Child,
    dir: PathBuf,
}

impl PulseDaemon {
    /// Starts the daemon and waits until `pactl info` answers.
    pub fn start() -> Result<Self, HeadlessError> {
        let bin = which("pulseaudio").ok_or(HeadlessError::Missing("pulseaudio"))?;
        which("pactl").ok_or(HeadlessError::Missing("pactl"))?;
        static SEQ: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("pf-pulse-{}-{seq}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("home")).map_err(|e| HeadlessError::Spawn("mkdir", e))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700));
        }
        let mut cmd = Command::new(bin);
        cmd.args([
            "--daemonize=no",
            "--exit-idle-time=-1",
            "-n",
            "--use-pid-file=no",
            "--disallow-exit",
            "-L",
            "module-native-protocol-unix auth-anonymous=1",
            "-L",
            "module-null-sink sink_name=vsink rate=48000 channels=2",
        ]);
        let mut me = {
            let child = Self::env(&mut cmd, &dir)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| HeadlessError::Spawn("pulseaudio", e))?;
            Self { child, dir }
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let ok = me
                .command("pactl")
                .args(["list", "short", "sinks"])
                .output()
                .map(|o| o.status.success() && String::from_utf8_lossy(&o.stdout).contains("vsink"))
                .unwrap_or(false);
            if ok {
                return Ok(me);
            }
            if let Ok(Some(st)) = me.child.try_wait() {
                return Err(HeadlessError::NotReady(
                    "pulseaudio",
                    format!("exited: {st}"),
                ));
            }
            if Instant::now() > deadline {
                return Err(HeadlessError::NotReady("pulseaudio", "timeout".into()));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn env<'a>(cmd: &'a mut Command, dir: &Path) -> &'a mut Command {
        cmd.env("XDG_RUNTIME_DIR", dir)
            .env("PULSE_RUNTIME_PATH", dir.join("pulse"))
            .env("HOME", dir.join("home"))
            .env(
                "PULSE_SERVER",
                format!("unix:{}", dir.join("pulse/native").display()),
            )
    }

    /// A command (e.g. `pacat`, `pactl`) set up to talk to this daemon.
    pub fn command(&self, prog: &str) -> Command {
        let mut c = Command::new(prog);
        Self::env(&mut c, &self.dir);
        c
    }

    /// The server address for clients (`unix:/…/pulse/native`).
    pub fn server(&self) -> String {
        format!("unix:{}", self.dir.join("pulse/native").display())
    }
}

impl Drop for PulseDaemon {
    fn drop(&mut self) {
        kill(&mut self.child);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
