//! The sources of values: the TOML file, then the `GS_<SECTION>__<KEY>` environment
//! overrides; unknown sections and keys and malformed values are rejected here.

use super::schema::{lookup, Kind, KEYS, NESTED_TABLES};
use super::values::Raw;
use super::{ConfigError, Origin};
use std::collections::BTreeMap;
use std::path::Path;

/// Prefix of the environment overrides.
const ENV_PREFIX: &str = "GS_";

/// Reads an environment string as the key's kind.
fn env_value(kind: Kind, text: &str) -> Result<toml::Value, String> {
    match kind {
        Kind::Str => Ok(toml::Value::String(text.to_string())),
        Kind::Int => text
            .trim()
            .parse::<i64>()
            .map(toml::Value::Integer)
            .map_err(|_| format!("expected an integer, found `{text}`")),
        Kind::Bool => match text.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(toml::Value::Boolean(true)),
            "false" | "0" | "no" | "off" => Ok(toml::Value::Boolean(false)),
            _ => Err(format!("expected true or false, found `{text}`")),
        },
        Kind::IntList => {
            // Both `[1,2]` and `1,2` are accepted; `[]` or an empty string is no ids.
            let inner = text.trim();
            let inner = inner
                .strip_prefix('[')
                .and_then(|s| s.strip_suffix(']'))
                .unwrap_or(inner);
            let mut out = Vec::new();
            for part in inner.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                let n = part.parse::<i64>().map_err(|_| {
                    format!("expected a list of user ids like `[1,2]` or `1,2`, found `{text}`")
                })?;
                out.push(toml::Value::Integer(n));
            }
            Ok(toml::Value::Array(out))
        }
        Kind::StrList => {
            let inner = text.trim();
            let inner = inner
                .strip_prefix('[')
                .and_then(|s| s.strip_suffix(']'))
                .unwrap_or(inner);
            Ok(toml::Value::Array(
                inner
                    .split(',')
                    .map(|p| p.trim().trim_matches('"'))
                    .filter(|p| !p.is_empty())
                    .map(|p| toml::Value::String(p.to_string()))
                    .collect(),
            ))
        }
        Kind::StrMap => {
            let mut out = toml::Table::new();
            for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                let (k, v) = part.split_once('=').ok_or_else(|| {
                    format!("expected `key=value` pairs separated by commas, found `{part}`")
                })?;
                out.insert(
                    k.trim().trim_matches('"').to_string(),
                    toml::Value::String(v.trim().trim_matches('"').to_string()),
                );
            }
            Ok(toml::Value::Table(out))
        }
    }
}

/// Collects the file's keys, rejecting unknown ones.
pub(super) fn read_file(path: &Path, raw: &mut Raw) -> Result<(), ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| ConfigError::Syntax {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
    let origin = Origin::File(path.to_path_buf());
    for (section, value) in table {
        let toml::Value::Table(keys) = value else {
            if !NESTED_TABLES.contains(&section.as_str()) {
                lookup(&section, "", &origin)?;
            }
            return Err(ConfigError::BadValue {
                key: section.clone(),
                origin,
                reason: format!("expected a section `[{section}]`, found a plain value"),
            });
        };
        if NESTED_TABLES.contains(&section.as_str()) {
            for (sub, value) in keys {
                let name = format!("{section}.{sub}");
                let toml::Value::Table(keys) = value else {
                    if !KEYS.iter().any(|(s, _)| *s == name) {
                        lookup(&name, "", &origin)?;
                    }
                    return Err(ConfigError::BadValue {
                        key: name.clone(),
                        origin,
                        reason: format!("expected a section `[{name}]`, found a plain value"),
                    });
                };
                read_section(&name, keys, &origin, raw)?;
            }
        } else {
            read_section(&section, keys, &origin, raw)?;
        }
    }
    Ok(())
}

/// Collects one section's keys, rejecting unknown ones.
fn read_section(
    section: &str,
    keys: toml::Table,
    origin: &Origin,
    raw: &mut Raw,
) -> Result<(), ConfigError> {
    for (key, value) in keys {
        lookup(section, &key, origin)?;
        raw.insert((section.to_string(), key), (value, origin.clone()));
    }
    Ok(())
}

/// The section an environment variable names: `OAUTH_GITHUB` is `[oauth.github]`.
fn env_section(upper: &str) -> String {
    let lower = upper.to_ascii_lowercase();
    KEYS.iter()
        .map(|(s, _)| *s)
        .find(|s| s.replace('.', "_") == lower)
        .map_or(lower, str::to_string)
}

/// Collects the `GS_*` overrides, rejecting unknown keys and malformed values.
pub(super) fn read_env(env: &BTreeMap<String, String>, raw: &mut Raw) -> Result<(), ConfigError> {
    for (name, text) in env {
        let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        let Some((section, key)) = rest.split_once("__") else {
            return Err(ConfigError::BadEnvName(name.clone()));
        };
        let (section, key) = (env_section(section), key.to_ascii_lowercase());
        let origin = Origin::Env(name.clone());
        let kind = lookup(&section, &key, &origin)?;
        let value = env_value(kind, text).map_err(|reason| ConfigError::BadValue {
            key: format!("{section}.{key}"),
            origin: origin.clone(),
            reason,
        })?;
        raw.insert((section, key), (value, origin));
    }
    Ok(())
}
