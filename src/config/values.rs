//! The values collected from the sources, each with its origin, and typed access to them
//! with defaults and errors that name the key and where its value came from.

use super::{ConfigError, Origin};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

/// A value with its origin, before typing.
pub(super) type Raw = BTreeMap<(String, String), (toml::Value, Origin)>;

/// Typed access to the collected values, each falling back to its default.
pub(super) struct Values {
    pub(super) raw: Raw,
}

impl Values {
    pub(super) fn bad(&self, section: &str, key: &str, reason: String) -> ConfigError {
        let origin = self
            .raw
            .get(&(section.to_string(), key.to_string()))
            .map_or(Origin::Default, |(_, o)| o.clone());
        ConfigError::BadValue {
            key: format!("{section}.{key}"),
            origin,
            reason,
        }
    }

    pub(super) fn get(&self, section: &str, key: &str) -> Option<&toml::Value> {
        self.raw
            .get(&(section.to_string(), key.to_string()))
            .map(|(v, _)| v)
    }

    pub(super) fn opt_str(&self, section: &str, key: &str) -> Result<Option<String>, ConfigError> {
        match self.get(section, key) {
            None => Ok(None),
            Some(toml::Value::String(s)) => Ok(Some(s.clone())),
            Some(v) => Err(self.bad(
                section,
                key,
                format!("expected a string, found {}", v.type_str()),
            )),
        }
    }

    pub(super) fn string(
        &self,
        section: &str,
        key: &str,
        default: &str,
    ) -> Result<String, ConfigError> {
        let s = self
            .opt_str(section, key)?
            .unwrap_or_else(|| default.to_string());
        if s.trim().is_empty() {
            return Err(self.bad(section, key, "must not be empty".into()));
        }
        Ok(s)
    }

    pub(super) fn path(
        &self,
        section: &str,
        key: &str,
        default: &str,
    ) -> Result<PathBuf, ConfigError> {
        self.string(section, key, default).map(PathBuf::from)
    }

    pub(super) fn boolean(
        &self,
        section: &str,
        key: &str,
        default: bool,
    ) -> Result<bool, ConfigError> {
        match self.get(section, key) {
            None => Ok(default),
            Some(toml::Value::Boolean(b)) => Ok(*b),
            Some(v) => Err(self.bad(
                section,
                key,
                format!("expected true or false, found {}", v.type_str()),
            )),
        }
    }

    pub(super) fn int(&self, section: &str, key: &str, default: i64) -> Result<i64, ConfigError> {
        match self.get(section, key) {
            None => Ok(default),
            Some(toml::Value::Integer(i)) => Ok(*i),
            Some(v) => Err(self.bad(
                section,
                key,
                format!("expected an integer, found {}", v.type_str()),
            )),
        }
    }

    pub(super) fn ids(
        &self,
        section: &str,
        key: &str,
        default: &[i64],
    ) -> Result<Vec<i64>, ConfigError> {
        let Some(value) = self.get(section, key) else {
            return Ok(default.to_vec());
        };
        let expected = "expected a list of user ids like [1, 2]";
        let toml::Value::Array(items) = value else {
            return Err(self.bad(
                section,
                key,
                format!("{expected}, found {}", value.type_str()),
            ));
        };
        items
            .iter()
            .map(|v| match v {
                toml::Value::Integer(i) if *i > 0 => Ok(*i),
                other => Err(self.bad(
                    section,
                    key,
                    format!("{expected}, found `{other}` in the list"),
                )),
            })
            .collect()
    }

    pub(super) fn addr(
        &self,
        section: &str,
        key: &str,
        default: &str,
    ) -> Result<SocketAddr, ConfigError> {
        let s = self.string(section, key, default)?;
        s.parse().map_err(|_| {
            self.bad(
                section,
                key,
                format!("expected an IP address and port like 127.0.0.1:8010, found `{s}`"),
            )
        })
    }

    pub(super) fn endpoint(
        &self,
        section: &str,
        key: &str,
        default: &str,
    ) -> Result<String, ConfigError> {
        let s = self.string(section, key, default)?;
        if ["ipc://", "tcp://", "inproc://"]
            .iter()
            .any(|p| s.starts_with(p))
        {
            Ok(s)
        } else {
            Err(self.bad(
                section,
                key,
                format!("expected a ZeroMQ endpoint like ipc://data/action.sock or tcp://127.0.0.1:5601, found `{s}`"),
            ))
        }
    }
}
