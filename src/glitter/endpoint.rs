//! Glitter addresses: parsing `tcp://host:port` and `ipc://path`, preparing socket files.
//! Errors name the address and say what to write instead.

#[cfg(unix)]
use std::path::PathBuf;

use super::{GlitterError, Result};

/// A parsed glitter address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Addr {
    /// `tcp://host:port`; `*` as host means every interface.
    Tcp { host: String, port: u16 },
    /// `ipc://path`, relative to the working directory unless absolute.
    #[cfg(unix)]
    Ipc(PathBuf),
}

fn bad(addr: &str, reason: impl Into<String>) -> GlitterError {
    GlitterError::Address {
        addr: addr.to_owned(),
        reason: reason.into(),
    }
}

/// Parses a glitter address.
pub(crate) fn parse(addr: &str) -> Result<Addr> {
    if let Some(rest) = addr.strip_prefix("tcp://") {
        let (host, port) = rest
            .rsplit_once(':')
            .ok_or_else(|| bad(addr, "expected tcp://HOST:PORT, e.g. tcp://127.0.0.1:5601"))?;
        let port: u16 = port
            .parse()
            .map_err(|_| bad(addr, "the port must be a number 0–65535"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(bad(
                addr,
                "the host is empty; use 127.0.0.1, a name, or * to bind all",
            ));
        }
        let host = if host == "*" { "0.0.0.0" } else { host };
        return Ok(Addr::Tcp {
            host: host.to_owned(),
            port,
        });
    }
    if let Some(path) = addr.strip_prefix("ipc://") {
        return parse_ipc(addr, path);
    }
    if addr.starts_with("inproc://") {
        return Err(bad(
            addr,
            "inproc:// is not supported by this transport; use ipc://PATH",
        ));
    }
    Err(bad(addr, "expected ipc://PATH or tcp://HOST:PORT"))
}

#[cfg(unix)]
fn parse_ipc(addr: &str, path: &str) -> Result<Addr> {
    if path.is_empty() || path == "*" {
        return Err(bad(
            addr,
            "ipc:// needs a file path, e.g. ipc://data/action.sock",
        ));
    }
    // sockaddr_un holds 108 bytes including the terminator; longer paths fail obscurely.
    if path.len() > 100 {
        return Err(bad(
            addr,
            "the ipc path is too long for a Unix socket (max 100 bytes)",
        ));
    }
    Ok(Addr::Ipc(PathBuf::from(path)))
}

#[cfg(not(unix))]
fn parse_ipc(addr: &str, _path: &str) -> Result<Addr> {
    Err(bad(
        addr,
        "ipc:// is only available on Unix; use tcp://127.0.0.1:PORT",
    ))
}

/// Makes `path` ready for a listener: creates its parent directories and removes a stale
/// socket file, but refuses to touch a regular file or a socket some process still serves.
#[cfg(unix)]
pub(crate) fn prepare_ipc_bind(path: &std::path::Path) -> Result<()> {
    use std::os::unix::fs::FileTypeExt;

    let io = |context: String| move |source| GlitterError::Io { context, source };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(io(format!("cannot create directory {}", parent.display())))?;
    }
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io(format!("cannot inspect {}", path.display()))(e)),
    };
    if !meta.file_type().is_socket() {
        return Err(GlitterError::Invalid(format!(
            "{} exists and is not a socket; remove it or choose another ipc:// path",
            path.display()
        )));
    }
    if std::os::unix::net::UnixStream::connect(path).is_ok() {
        return Err(GlitterError::Invalid(format!(
            "{} is in use by another process (is a reducer already running?)",
            path.display()
        )));
    }
    std::fs::remove_file(path).map_err(io(format!("cannot remove stale socket {}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glitter_parse_addresses() {
        assert_eq!(
            parse("tcp://127.0.0.1:5601").unwrap(),
            Addr::Tcp {
                host: "127.0.0.1".into(),
                port: 5601
            }
        );
        assert_eq!(
            parse("tcp://[::1]:0").unwrap(),
            Addr::Tcp {
                host: "::1".into(),
                port: 0
            }
        );
        assert_eq!(
            parse("tcp://*:9").unwrap(),
            Addr::Tcp {
                host: "0.0.0.0".into(),
                port: 9
            }
        );
        for bad in [
            "tcp://host",
            "tcp://:1",
            "tcp://h:99999",
            "udp://x:1",
            "inproc://x",
            "x",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        #[cfg(unix)]
        {
            assert_eq!(
                parse("ipc://data/a.sock").unwrap(),
                Addr::Ipc("data/a.sock".into())
            );
            assert!(parse("ipc://*").is_err());
            assert!(parse("ipc://").is_err());
        }
    }

    #[cfg(unix)]
    #[test]
    fn glitter_prepare_ipc_bind() {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("a/b/c.sock");
        prepare_ipc_bind(&sock).unwrap();
        assert!(sock.parent().unwrap().is_dir());

        // A stale socket (nobody listening) is removed.
        drop(std::os::unix::net::UnixListener::bind(&sock).unwrap());
        assert!(sock.exists());
        prepare_ipc_bind(&sock).unwrap();
        assert!(!sock.exists());

        // A live one is not.
        let _live = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        assert!(prepare_ipc_bind(&sock).is_err());

        // Nor a regular file.
        let file = dir.path().join("f");
        std::fs::write(&file, b"keep").unwrap();
        assert!(prepare_ipc_bind(&file).is_err());
        assert!(file.exists());
    }
}
