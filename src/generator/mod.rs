//! Organizer generators of dynamic flags and per-user attachments: found in a folder under
//! `paths.attachments`, run as child processes with bounded concurrency, timeout and output.
//!
//! A folder holds `flag.py` (`flag(user, flag) -> str`) or `gen.py` (`gen(user, chall) ->
//! path`), run by the embedded Python runner (`runner.py`), or an executable named `flag`
//! or `gen` in any language, given the same facts as JSON on stdin ([`facts`]). Either
//! prints the flag, or the generated file's path, as the one line of its stdout.

pub mod facts;
pub mod process;

use crate::config::{Config, GeneratorsConfig};
use crate::safe_path::{relative_path, resolve_inside};
pub use facts::Kind;
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};
use tokio::sync::{OwnedMutexGuard, Semaphore};

/// The Python runner of `flag.py` / `gen.py` modules, shipped inside the binary.
pub const RUNNER_PY: &str = include_str!("runner.py");

/// Runs generators for one attachment directory; shared by every worker of a process.
#[derive(Debug)]
pub struct Generators {
    config: GeneratorsConfig,
    attachments: PathBuf,
    slots: Semaphore,
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    failures: Mutex<HashMap<String, (Instant, String)>>,
}

/// Locks a std mutex even when a panic poisoned it (the maps stay consistent).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// One instance per attachment directory and process, so that the workers of `gs serve`
/// share the concurrency bound and the generate-once locks.
static SHARED: Mutex<Vec<(PathBuf, Weak<Generators>)>> = Mutex::new(Vec::new());

impl Generators {
    /// Generators for `config` (a fresh instance; see [`Generators::shared`]).
    pub fn new(config: &Config) -> Generators {
        Generators {
            config: config.generators.clone(),
            attachments: config.paths.attachments.clone(),
            slots: Semaphore::new(config.generators.concurrency),
            locks: Mutex::new(HashMap::new()),
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// The instance of this process for `config`'s attachment directory.
    pub fn shared(config: &Config) -> Arc<Generators> {
        let mut all = lock(&SHARED);
        all.retain(|(_, w)| w.strong_count() > 0);
        let found = all
            .iter()
            .find(|(dir, _)| *dir == config.paths.attachments)
            .and_then(|(_, w)| w.upgrade());
        if let Some(g) = found {
            return g;
        }
        let g = Arc::new(Generators::new(config));
        all.push((config.paths.attachments.clone(), Arc::downgrade(&g)));
        g
    }

    /// The attachment directory.
    pub fn attachments(&self) -> &Path {
        &self.attachments
    }

    /// Largest generated file, in bytes.
    pub fn max_file_bytes(&self) -> u64 {
        self.config.max_file_mb * 1024 * 1024
    }

    /// Waits for the right to generate `what` (a user and flag, or a user and attachment)
    /// alone in this process: concurrent requests for it queue, then find it done.
    pub async fn exclusive(&self, what: &str) -> OwnedMutexGuard<()> {
        let m = lock(&self.locks)
            .entry(what.to_owned())
            .or_default()
            .clone();
        m.lock_owned().await
    }

    /// The error of the last failure of `what`, while it is younger than `retry_after_s`.
    pub fn recent_failure(&self, what: &str) -> Option<String> {
        let window = Duration::from_secs(self.config.retry_after_s);
        lock(&self.failures)
            .get(what)
            .filter(|(at, _)| at.elapsed() < window)
            .map(|(_, e)| e.clone())
    }

    /// Records the outcome of generating `what` (a success forgets earlier failures).
    pub fn record(&self, what: &str, outcome: Result<(), &str>) {
        let mut f = lock(&self.failures);
        match outcome {
            Ok(()) => {
                f.remove(what);
            }
            Err(e) => {
                f.insert(what.to_owned(), (Instant::now(), e.to_owned()));
            }
        }
    }

    /// Forgets every recorded failure (an admin asked for a retry now).
    pub fn forget_failures(&self) {
        lock(&self.failures).clear();
    }

    /// The generator folder `module` (relative to the attachment directory), resolved;
    /// refused when it leaves the directory or is not a folder.
    pub fn module_dir(&self, module: &str) -> Result<PathBuf, String> {
        let rel = relative_path(module)
            .ok_or_else(|| format!("generator folder {module:?} is not a plain relative path"))?;
        let dir = resolve_inside(&self.attachments, &rel)
            .map_err(|e| format!("generator folder {module:?}: {e}"))?;
        if !dir.is_dir() {
            return Err(format!("generator folder {module:?} is not a folder"));
        }
        Ok(dir)
    }

    /// Runs the `kind` generator of folder `module` with `facts`; returns the one line it
    /// printed. `label` names the challenge and user in the log.
    pub async fn run(
        &self,
        module: &str,
        kind: Kind,
        facts: &Value,
        label: &str,
    ) -> Result<String, String> {
        let dir = self.module_dir(module)?;
        let name = kind.module();
        let python_module = dir.join(format!("{name}.py"));
        let executable = dir.join(name);
        let input = serde_json::to_vec(facts).map_err(|e| e.to_string())?;
        let timeout = Duration::from_secs(self.config.timeout_s);
        let _slot = self
            .slots
            .acquire()
            .await
            .map_err(|_| "the generators are shutting down".to_owned())?;
        let started = Instant::now();
        let ran = if python_module.is_file() {
            let python = Path::new(&self.config.python);
            process::run(python, &["-c", RUNNER_PY, name], &dir, &input, timeout).await
        } else if executable.is_file() {
            resolve_inside(&dir, Path::new(name))?;
            process::run(&executable, &[], &dir, &input, timeout).await
        } else {
            Err(format!(
                "{module}/ holds neither {name}.py nor an executable {name}"
            ))
        };
        let out = ran.map_err(|e| format!("generator {module}/{name}: {e}"))?;
        if !out.stderr.trim().is_empty() {
            tracing::info!(
                "generator {module}/{name} for {label} said: {}",
                out.stderr.trim()
            );
        }
        tracing::debug!(
            "generator {module}/{name} for {label} took {:?}",
            started.elapsed()
        );
        let line = out.stdout.trim();
        if line.is_empty() || line.contains('\n') {
            return Err(format!(
                "generator {module}/{name} must print exactly one line, printed {:?}",
                out.stdout
            ));
        }
        Ok(line.to_owned())
    }

    /// The file a generator named (relative paths are taken from its folder), resolved:
    /// it must be a regular file inside the attachment directory, within the size limit.
    pub fn check_output_file(&self, module: &str, printed: &str) -> Result<PathBuf, String> {
        let dir = self.module_dir(module)?;
        let path = dir.join(printed);
        let real = path
            .canonicalize()
            .map_err(|e| format!("the generated file {printed:?}: {e}"))?;
        let base = self
            .attachments
            .canonicalize()
            .map_err(|e| format!("{}: {e}", self.attachments.display()))?;
        if !real.starts_with(&base) {
            return Err(format!(
                "the generated file {} is outside the attachment directory",
                real.display()
            ));
        }
        let meta = std::fs::metadata(&real).map_err(|e| e.to_string())?;
        if !meta.is_file() {
            return Err(format!(
                "the generated {} is not a regular file",
                real.display()
            ));
        }
        if meta.len() > self.max_file_bytes() {
            return Err(format!(
                "the generated file is {} bytes, over the limit of {} MiB",
                meta.len(),
                self.config.max_file_mb
            ));
        }
        Ok(real)
    }
}
