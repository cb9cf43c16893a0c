//! Launchable apps (§2.6) and the one running app (§2.8-2.9).
//!
//! An app either has a command (a real process: started on `/launch`, watched; its exit
//! ends the session) or none (like Sunshine's "Desktop": it runs until `/cancel`).

use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One entry of `/applist`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppConfig {
    /// `ID`: positive 32-bit integer.
    pub id: u32,
    /// `AppTitle`.
    pub title: String,
    /// Program and arguments; `None` for the desktop (nothing to start).
    pub command: Option<Vec<String>>,
    /// `IsHdrSupported`.
    pub hdr: bool,
}

impl AppConfig {
    /// The default app list: the desktop only (Sunshine's well-known ID).
    pub fn desktop() -> Self {
        Self {
            id: 881_448_767,
            title: "Desktop".into(),
            command: None,
            hdr: false,
        }
    }
}

/// Why an app could not be started.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// No app with this ID.
    #[error("no app with id {0}")]
    UnknownApp(u32),
    /// Another app already runs.
    #[error("an app is already running on this host")]
    AlreadyRunning,
    /// Spawning the process failed.
    #[error("starting {0}: {1}")]
    Spawn(String, std::io::Error),
}

#[derive(Debug)]
struct Running {
    id: u32,
    /// Incremented per launch so a late watcher does not clear a newer app.
    generation: u64,
    child: Option<Child>,
}

/// The running app, shared between the HTTP handlers and the watcher threads.
#[derive(Debug, Clone, Default)]
pub struct AppRunner {
    inner: Arc<Mutex<(Option<Running>, u64)>>,
}

impl AppRunner {
    /// ID of the running app, 0 if none.
    pub fn current(&self) -> u32 {
        self.lock().0.as_ref().map_or(0, |r| r.id)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (Option<Running>, u64)> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts `app`. `on_exit` runs (on the watcher thread) when its process exits on its
    /// own; it is not called for an app stopped by [`AppRunner::stop`].
    pub fn launch(
        &self,
        app: &AppConfig,
        on_exit: impl FnOnce(u32) + Send + 'static,
    ) -> Result<(), AppError> {
        let mut g = self.lock();
        if g.0.is_some() {
            return Err(AppError::AlreadyRunning);
        }
        g.1 += 1;
        let generation = g.1;
        let child = match &app.command {
            None => None,
            Some(argv) if argv.is_empty() => None,
            Some(argv) => Some(
                Command::new(&argv[0])
                    .args(&argv[1..])
                    .stdin(Stdio::null())
                    .spawn()
                    .map_err(|e| AppError::Spawn(argv[0].clone(), e))?,
            ),
        };
        let watched = child.is_some();
        g.0 = Some(Running {
            id: app.id,
            generation,
            child,
        });
        drop(g);
        tracing::info!(app = app.id, title = %app.title, "app started");
        if watched {
            let runner = self.clone();
            let id = app.id;
            std::thread::Builder::new()
                .name("gs-app-watch".into())
                .spawn(move || runner.watch(generation, id, on_exit))
                .map_err(|e| AppError::Spawn("watcher".into(), e))?;
        }
        Ok(())
    }

    fn watch(&self, generation: u64, id: u32, on_exit: impl FnOnce(u32)) {
        loop {
            std::thread::sleep(Duration::from_millis(50));
            let mut g = self.lock();
            let Some(r) = g.0.as_mut().filter(|r| r.generation == generation) else {
                return; // stopped by cancel, or replaced
            };
            let exited = match r.child.as_mut().map(|c| c.try_wait()) {
                Some(Ok(Some(status))) => {
                    tracing::info!(app = id, %status, "app exited");
                    true
                }
                Some(Err(e)) => {
                    tracing::warn!(app = id, "waiting for app: {e}");
                    true
                }
                _ => false,
            };
            if exited {
                g.0 = None;
                drop(g);
                on_exit(id);
                return;
            }
        }
    }

    /// Stops the running app (kills its process and reaps it); returns its ID, 0 if none.
    pub fn stop(&self) -> u32 {
        let Some(mut r) = self.lock().0.take() else {
            return 0;
        };
        if let Some(child) = r.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
        tracing::info!(app = r.id, "app stopped");
        r.id
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    fn sh(id: u32, script: &str) -> AppConfig {
        AppConfig {
            id,
            title: "t".into(),
            command: Some(vec!["/bin/sh".into(), "-c".into(), script.into()]),
            hdr: false,
        }
    }

    #[test]
    fn process_exit_ends_the_app() {
        let r = AppRunner::default();
        let (tx, rx) = mpsc::channel();
        r.launch(&sh(5, "sleep 0.2"), move |id| tx.send(id).unwrap())
            .unwrap();
        assert_eq!(r.current(), 5);
        assert!(matches!(
            r.launch(&AppConfig::desktop(), |_| {}),
            Err(AppError::AlreadyRunning)
        ));
        assert_eq!(rx.recv_timeout(Duration::from_secs(10)).unwrap(), 5);
        assert_eq!(r.current(), 0);
    }

    #[test]
    fn stop_kills_the_process_without_exit_callback() {
        let r = AppRunner::default();
        let (tx, rx) = mpsc::channel();
        r.launch(&sh(6, "sleep 30"), move |id| tx.send(id).unwrap())
            .unwrap();
        assert_eq!(r.stop(), 6);
        assert_eq!(r.current(), 0);
        assert!(rx.recv_timeout(Duration::from_millis(300)).is_err());
        r.launch(&AppConfig::desktop(), |_| {}).unwrap();
        assert_eq!(r.current(), 881_448_767);
        assert_eq!(r.stop(), 881_448_767);
        assert_eq!(r.stop(), 0);
        let bad = AppConfig {
            command: Some(vec!["/nonexistent/x".into()]),
            ..AppConfig::desktop()
        };
        assert!(matches!(r.launch(&bad, |_| {}), Err(AppError::Spawn(..))));
        assert_eq!(r.current(), 0);
    }
}
