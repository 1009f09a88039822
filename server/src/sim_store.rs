//! Profiles from their files, and `qcall simulate --store PATH --restart-every K`: the
//! simulated days also go through the real
//! engine and SQLite store. Every command is applied in memory and submitted to the engine
//! (which must agree it applies), and every `K` commands the engine is stopped, the database
//! reopened and loaded, and the loaded state compared with the one in memory.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::clock::ManualClock;
use crate::domain::{Command, Millis, State, Topology};
use crate::engine::{Durable, Engine, Request};
use crate::store::Store;

/// A profile file (`config/profiles/*.toml`), named after the file.
pub fn load_profile(path: &Path, topo: &Topology) -> Result<qcall_core::sim::Profile, qcall_core::sim::profile::ProfileError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| qcall_core::sim::profile::ProfileError::Read { file: file.clone(), source: e })?;
    let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    qcall_core::sim::Profile::parse(&text, &file, &name, topo)
}

pub struct StoreMirror {
    rt: tokio::runtime::Runtime,
    engine: Option<(Engine, std::thread::JoinHandle<()>)>,
    clock: Arc<ManualClock>,
    path: PathBuf,
    topo: Arc<Topology>,
    restart_every: u64,
    since_restart: u64,
    /// Commands mirrored, restarts done (each with a comparison).
    pub commands: u64,
    pub restarts: u32,
}

impl StoreMirror {
    /// A fresh database at `path` (refused if one is there: a run never mixes with real data).
    pub fn create(path: &Path, topo: Arc<Topology>, restart_every: u64, now: Millis) -> anyhow::Result<StoreMirror> {
        anyhow::ensure!(!path.exists(), "{}: already exists; --store makes a new database", path.display());
        anyhow::ensure!(restart_every > 0, "--restart-every must be at least 1");
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let clock = Arc::new(ManualClock::new(now));
        let mut m = StoreMirror { rt, engine: None, clock, path: path.to_path_buf(), topo, restart_every, since_restart: 0, commands: 0, restarts: 0 };
        m.start()?;
        Ok(m)
    }

    fn start(&mut self) -> anyhow::Result<()> {
        let store = Store::open(&crate::store::StoreAt::Sqlite(self.path.clone()), self.topo.clone())?;
        let _guard = self.rt.enter();
        self.engine = Some(Engine::start(store, self.clock.clone())?);
        Ok(())
    }

    fn stop(&mut self) {
        if let Some((engine, writer)) = self.engine.take() {
            drop(engine);
            let _ = writer.join();
        }
    }

}

impl qcall_core::sim::Mirror for StoreMirror {
    /// Submits `cmd` at `now`; `applied` is what memory said. Then, every `restart_every`
    /// commands, restarts from disk and compares with `memory`.
    fn submit(&mut self, cmd: Command, now: Millis, applied: bool, memory: &State) -> Result<(), String> {
        let Some((engine, _)) = &self.engine else { return Err("the engine is not running".into()) };
        self.clock.set(now);
        let what = format!("{cmd:?}");
        let r = self.rt.block_on(engine.submit(Request::Domain(cmd)));
        if r.is_ok() != applied {
            return Err(format!("command {} ({what}): memory {} it, the engine {}", self.commands + 1, ok(applied), ok(r.is_ok())));
        }
        self.commands += 1;
        self.since_restart += 1;
        if self.since_restart >= self.restart_every {
            self.since_restart = 0;
            self.restart(now, memory)?;
        }
        Ok(())
    }

    /// Stops the engine, loads the database afresh and compares it with `memory`.
    fn arrival_curves(&mut self, day: chrono::NaiveDate) -> Option<crate::domain::estimate::ArrivalCurves> {
        let mut store = Store::open(&crate::store::StoreAt::Sqlite(self.path.clone()), self.topo.clone()).ok()?;
        store.arrival_curves(day).ok().flatten()
    }

    fn restart(&mut self, now: Millis, memory: &State) -> Result<(), String> {
        if let Some((engine, _)) = &self.engine {
            let live = self.rt.block_on(engine.shared.core.read()).state.clone();
            if live != *memory {
                return Err(format!("after {} commands the engine's state differs from the simulation's:\n{}", self.commands, diff(&live, memory)));
            }
        }
        self.stop();
        let mut store = Store::open(&crate::store::StoreAt::Sqlite(self.path.clone()), self.topo.clone()).map_err(|e| e.to_string())?;
        let loaded = Durable::load(&mut store, now).map_err(|e| e.to_string())?.state;
        drop(store);
        if loaded != *memory {
            return Err(format!(
                "after {} commands the state loaded from {} differs from the one in memory:\n{}",
                self.commands,
                self.path.display(),
                diff(&loaded, memory)
            ));
        }
        self.restarts += 1;
        self.start().map_err(|e| e.to_string())
    }
}

impl Drop for StoreMirror {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Where the two states differ (first, second).
fn diff(a: &State, b: &State) -> String {
    let d = a.differences(b);
    d.iter().take(8).cloned().collect::<Vec<_>>().join("\n") + if d.len() > 8 { "\n…" } else { "" }
}

fn ok(applied: bool) -> &'static str {
    if applied {
        "applied"
    } else {
        "refused"
    }
}
