//! Shared helpers of the integration tests: the golden files and the comparison rules of
//! shared/golden/README.md.
#![allow(dead_code)]

use serde_json::Value;
use std::path::PathBuf;

/// A child process killed when the test ends, whatever happens.
pub struct Proc(pub std::process::Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A TCP port free right now on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// `gs ARGS --config CONFIG` run in `dir`, its output going to `dir/LOG`.
pub fn gs_command(
    gs: &str,
    dir: &std::path::Path,
    config: &std::path::Path,
    args: &[&str],
    log: &str,
) -> std::process::Command {
    let file = std::fs::File::create(dir.join(log)).expect("log file");
    let mut cmd = std::process::Command::new(gs);
    cmd.args(args)
        .arg("--config")
        .arg(config)
        .current_dir(dir)
        .env("RUST_LOG", "info")
        .stdout(
            file.try_clone()
                .map(std::process::Stdio::from)
                .unwrap_or_else(|_| std::process::Stdio::null()),
        )
        .stderr(file);
    cmd
}

/// A small tmpfs mounted for one test (a disk that can be filled) and unmounted when
/// dropped; `None` where mounting is refused (it needs root).
pub struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    /// Mounts a tmpfs of `size` (as `mount -o size=`, e.g. `16m`).
    pub fn mount(size: &str) -> Option<SmallDisk> {
        let dir = tempfile::tempdir().ok()?;
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(SmallDisk { dir })
    }

    /// The mount point.
    pub fn path(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// Fills the disk with a file until writing fails; returns the file (delete it to
    /// free the space).
    pub fn fill(&self) -> PathBuf {
        use std::io::Write;
        let path = self.path().join("filler");
        let mut f = std::fs::File::create(&path).expect("filler");
        let block = vec![0u8; 64 * 1024];
        while f.write_all(&block).is_ok() {}
        let small = vec![0u8; 512];
        while f.write_all(&small).is_ok() {}
        let _ = f.flush();
        path
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.dir.path())
            .status();
    }
}

/// Directory of the reference implementation's recorded answers.
pub fn golden_dir() -> PathBuf {
    gs::testing::golden_dir()
}

/// Reads a golden JSON file.
pub fn golden_json(name: &str) -> Value {
    let path = golden_dir().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The contests recorded in shared/golden.
pub const CONTESTS: &[&str] = &["running", "ended"];

/// Text of an HTML fragment: tags stripped, entities unescaped, white space collapsed.
pub fn html_text(html: &str) -> String {
    let mut text = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            _ if !in_tag => text.push(c),
            _ => {}
        }
    }
    let text = unescape(&text);
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(pos) = rest.find('&') {
        out.push_str(&rest[..pos]);
        rest = &rest[pos..];
        let Some(end) = rest.find(';').filter(|&e| e <= 10) else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let entity = &rest[1..end];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            "nbsp" => Some('\u{a0}'),
            _ if entity.starts_with("#x") || entity.starts_with("#X") => {
                u32::from_str_radix(&entity[2..], 16)
                    .ok()
                    .and_then(char::from_u32)
            }
            _ if entity.starts_with('#') => entity[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Keys whose values are ignored in `after_live` answers (wall-clock times of the run).
pub const LIVE_TIME_KEYS: &[&str] = &[
    "last_succ_submission_ts",
    "timestamp",
    "timestamp_s",
    "history",
];

/// Normalizes an answer for comparison: drops `diag_ts`, reduces `desc`/`content` to text,
/// ignores `error_msg` of RATE_LIMIT answers, and with `live_times` also the run's times.
pub fn normalize(answer: &Value, live_times: bool) -> Value {
    let mut v = answer.clone();
    if v.get("error").and_then(Value::as_str) == Some("RATE_LIMIT") {
        if let Some(o) = v.as_object_mut() {
            o.remove("error_msg");
        }
    }
    walk(&mut v, live_times, None);
    v
}

fn walk(v: &mut Value, live_times: bool, parent_key: Option<&str>) {
    match v {
        Value::Object(map) => {
            map.remove("diag_ts");
            if live_times {
                for k in LIVE_TIME_KEYS {
                    map.remove(*k);
                }
            }
            for (k, child) in map.iter_mut() {
                if (k == "desc" || k == "content") && child.is_string() {
                    *child = Value::String(html_text(child.as_str().unwrap_or("")));
                } else {
                    walk(child, live_times, Some(k));
                }
            }
        }
        Value::Array(items) => {
            if live_times && parent_key == Some("flag_status_value") {
                return;
            }
            for item in items.iter_mut() {
                walk(item, live_times, None);
            }
        }
        _ => {}
    }
    // `flag_status` values are `[timestamp_s, gained_score]`: drop the time in live answers.
    if live_times {
        if let Value::Object(map) = v {
            if let Some(Value::Object(fs)) = map.get_mut("flag_status") {
                for val in fs.values_mut() {
                    if let Value::Array(pair) = val {
                        if let Some(first) = pair.first_mut() {
                            *first = Value::Null;
                        }
                    }
                }
            }
        }
    }
}

/// A short description of the first difference between two JSON values.
pub fn first_difference(expected: &Value, actual: &Value, path: &str) -> Option<String> {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (k, ev) in e {
                match a.get(k) {
                    None => return Some(format!("{path}.{k}: missing (expected {ev})")),
                    Some(av) => {
                        if let Some(d) = first_difference(ev, av, &format!("{path}.{k}")) {
                            return Some(d);
                        }
                    }
                }
            }
            a.keys()
                .find(|k| !e.contains_key(*k))
                .map(|k| format!("{path}.{k}: unexpected key"))
        }
        (Value::Array(e), Value::Array(a)) => {
            for (i, (ev, av)) in e.iter().zip(a).enumerate() {
                if let Some(d) = first_difference(ev, av, &format!("{path}[{i}]")) {
                    return Some(d);
                }
            }
            (e.len() != a.len())
                .then(|| format!("{path}: length {} expected, got {}", e.len(), a.len()))
        }
        _ if expected == actual => None,
        _ => Some(format!("{path}: expected {expected}, got {actual}")),
    }
}

/// The `[paths]` section of a test configuration: every directory under `dir`.
pub fn paths_toml(dir: &dyn std::fmt::Display) -> String {
    let d = dir;
    format!(
        "[paths]\ndata = \"{d}/data\"\ntemplates = \"{d}/templates\"\n\
         attachments = \"{d}/attachments\"\nwriteups = \"{d}/writeups\"\n\
         media = \"{d}/media\"\nanticheat_log = \"{d}/anticheat\"\n"
    )
}
