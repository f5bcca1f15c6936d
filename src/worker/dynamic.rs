//! Dynamic flags and generated attachments as a game replica (worker, admin panel, CLI)
//! obtains them: run the generator when a value is missing, store it through the reducer
//! (first value wins), and cache generated files as `<module>/_cache/<uid>.bin` links.

use super::WorkerShared;
use crate::generator::{facts, Kind};
use crate::glitter::Action;
use crate::safe_path::{relative_path, resolve_inside};
use crate::state::flag::check_submitted_flag;
use std::path::{Path, PathBuf};

/// What went wrong while making one user's value or file (already logged).
pub type GenError = String;

/// The cache link of `uid`'s file from generator folder `module`, relative to the
/// attachment directory (the reference's `<module_path>/_cache/<uid>.bin`).
pub fn cache_path(module: &Path, uid: i64) -> PathBuf {
    module.join("_cache").join(format!("{uid}.bin"))
}

impl WorkerShared {
    /// Makes sure every dynamic flag of challenge `key` has a value for `uid`: generates
    /// the missing ones (one at a time per user and flag in this process) and stores them
    /// through the reducer. Returns the failures; a flag that failed within
    /// `generators.retry_after_s` fails at once unless `retry_now`.
    pub async fn ensure_dynamic_flags(
        &self,
        uid: i64,
        key: &str,
        retry_now: bool,
    ) -> Vec<GenError> {
        let missing = self
            .read(|g| {
                g.missing_dynamic_flags(uid, key)
                    .into_iter()
                    .filter_map(|i| {
                        let generator = g.challenge(key)?.flags[i].spec.generator()?;
                        Some((i, generator.to_owned()))
                    })
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        let mut errors = Vec::new();
        for (flag_idx, generator) in missing {
            if let Err(e) = self
                .generate_flag(uid, key, flag_idx, &generator, retry_now)
                .await
            {
                errors.push(e);
            }
        }
        errors
    }

    async fn generate_flag(
        &self,
        uid: i64,
        key: &str,
        flag_idx: usize,
        generator: &str,
        retry_now: bool,
    ) -> Result<(), GenError> {
        let gens = &self.generators;
        let what = format!("flag {key}#{} of U#{uid}", flag_idx + 1);
        let _alone = gens.exclusive(&what).await;
        let known = self.read(|g| g.dynamic_value(uid, key, flag_idx).is_some());
        if known == Some(true) {
            return Ok(());
        }
        if !retry_now {
            if let Some(e) = gens.recent_failure(&what) {
                return Err(e);
            }
        }
        let facts = self
            .read(|g| facts::facts(g, uid, key, Kind::Flag { flag_idx }))
            .ok_or("no game state yet")??;
        let made = gens
            .run(generator, Kind::Flag { flag_idx }, &facts, &what)
            .await
            .and_then(|value| match check_submitted_flag(&value) {
                Some((_, msg)) => Err(format!(
                    "generator {generator}/flag made {value:?}, which cannot be submitted: {msg}"
                )),
                None => Ok(value),
            });
        let stored = match made {
            Ok(value) => self
                .perform(Action::SetDynamicFlag {
                    uid,
                    challenge_key: key.to_owned(),
                    flag_idx,
                    generator: generator.to_owned(),
                    value,
                })
                .await
                .map_err(|e| e.to_string())
                .and_then(|reply| match reply.error_msg {
                    None => Ok(()),
                    Some(e) => Err(format!("the reducer refused it: {e}")),
                }),
            Err(e) => Err(e),
        };
        if let Err(e) = &stored {
            tracing::error!("dynamic {what}: {e}; the flag cannot be matched until it is made");
        }
        gens.record(&what, stored.as_ref().map(|_| ()).map_err(String::as_str));
        stored
    }

    /// The cache link of `uid`'s attachment from generator folder `module` of challenge
    /// `key` (relative to the attachment directory), generated first when missing (or
    /// when `force`). Concurrent first downloads generate once, also across processes.
    pub async fn dynamic_attachment(
        &self,
        uid: i64,
        key: &str,
        module: &str,
        force: bool,
    ) -> Result<PathBuf, GenError> {
        let gens = &self.generators;
        let rel_module = relative_path(module)
            .ok_or_else(|| format!("module_path {module:?} is not a plain relative path"))?;
        let cache_rel = cache_path(&rel_module, uid);
        let base = gens.attachments().to_owned();
        let cached = |base: &Path| resolve_inside(base, &cache_rel).is_ok_and(|p| p.is_file());
        if !force && cached(&base) {
            return Ok(cache_rel);
        }
        let what = format!("attachment {module} of U#{uid}");
        let _alone = gens.exclusive(&what).await;
        if !force && cached(&base) {
            return Ok(cache_rel);
        }
        if !force {
            if let Some(e) = gens.recent_failure(&what) {
                return Err(e);
            }
        }
        let made = self
            .make_attachment(uid, key, module, &cache_rel, force)
            .await;
        if let Err(e) = &made {
            tracing::error!("dynamic {what} (challenge {key}): {e}");
        }
        gens.record(&what, made.as_ref().map(|_| ()).map_err(String::as_str));
        made.map(|()| cache_rel)
    }

    async fn make_attachment(
        &self,
        uid: i64,
        key: &str,
        module: &str,
        cache_rel: &Path,
        force: bool,
    ) -> Result<(), GenError> {
        let gens = &self.generators;
        let dir = gens.module_dir(module)?;
        let cache_dir = dir.join("_cache");
        let lock_file = cache_dir.join(format!("{uid}.lock"));
        // Another process may be making the same file: wait for its lock, then look again.
        let lock = tokio::task::spawn_blocking(move || -> Result<std::fs::File, String> {
            std::fs::create_dir_all(&cache_dir)
                .map_err(|e| format!("{}: {e}", cache_dir.display()))?;
            let f = std::fs::File::create(&lock_file)
                .map_err(|e| format!("{}: {e}", lock_file.display()))?;
            f.lock()
                .map_err(|e| format!("locking {}: {e}", lock_file.display()))?;
            Ok(f)
        })
        .await
        .map_err(|e| e.to_string())??;
        let base = gens.attachments().to_owned();
        if !force && resolve_inside(&base, cache_rel).is_ok_and(|p| p.is_file()) {
            return Ok(());
        }
        let flag_errors = self.ensure_dynamic_flags(uid, key, force).await;
        if let Some(e) = flag_errors.into_iter().next() {
            return Err(format!("a dynamic flag it holds is missing: {e}"));
        }
        let label = format!("attachment {module} of U#{uid}");
        let facts = self
            .read(|g| facts::facts(g, uid, key, Kind::Attachment))
            .ok_or("no game state yet")??;
        let printed = gens.run(module, Kind::Attachment, &facts, &label).await?;
        let target = gens.check_output_file(module, &printed)?;
        let link = base.join(cache_rel);
        let made = tokio::task::spawn_blocking(move || link_atomically(&target, &link))
            .await
            .map_err(|e| e.to_string())?;
        drop(lock);
        made
    }
}

/// Points `link` at `target`, replacing any old link in one step (readers never see a
/// missing or half-made cache entry).
fn link_atomically(target: &Path, link: &Path) -> Result<(), String> {
    let tmp = link.with_extension(format!("tmp{}", rand::random::<u32>()));
    #[cfg(unix)]
    let made = std::os::unix::fs::symlink(target, &tmp);
    #[cfg(not(unix))]
    let made = std::fs::copy(target, &tmp).map(|_| ());
    made.map_err(|e| format!("{}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, link).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!("{}: {e}", link.display())
    })
}
