//! Shared helpers of the dynamic flag tests: the real reducer and one worker (as `gs serve`
//! runs them) on a golden contest extended with challenges whose flags and attachments come
//! from the example generators in `examples/generators/` plus a few test-only ones.
#![allow(dead_code)]

use crate::common::golden_json;
use crate::http_support::{test_config, WISH_VERSION};
use gs::config::Config;
use gs::rows::{ChallengeRow, Dump, Tables};
use gs::store::Store;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

/// The reducer and one worker on a database under `dir`.
pub struct Cluster {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The configuration (attachment directory, database).
    pub config: Arc<Config>,
    http: reqwest::Client,
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<anyhow::Result<()>>>,
    _requests: mpsc::Sender<gs::reducer::ReducerRequest>,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The example generators shipped with the repository.
pub fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/generators")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read_dir") {
        let e = e.expect("entry");
        let target = to.join(e.file_name());
        if e.file_type().expect("type").is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).expect("copy");
        }
    }
}

/// Appends a wrapper to a Python module that logs each call's uid to `calls.log` in its
/// folder, so that tests can count generator runs.
fn count_calls(module: &Path, func: &str) {
    // Both `flag(user, flag)` and `gen(user, chall)` take the user first.
    let wrapper = format!(
        "\n_gs_orig = {func}\ndef {func}(*a):\n    with open('calls.log', 'a') as f:\n        f.write('%s\\n' % a[0]._store.id)\n    return _gs_orig(*a)\n"
    );
    let mut text = std::fs::read_to_string(module).expect("read module");
    text.push_str(&wrapper);
    std::fs::write(module, text).expect("write module");
}

/// Runs of the generator in `folder` (under the attachment directory), per uid.
pub fn calls(attachments: &Path, folder: &str) -> Vec<i64> {
    std::fs::read_to_string(attachments.join(folder).join("calls.log"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

fn challenge(id: i64, key: &str, flags: Value, actions: Value) -> ChallengeRow {
    ChallengeRow {
        id,
        effective_after: 0,
        key: key.into(),
        title: format!("Title of {key}"),
        category: "Misc".into(),
        sorting_index: id,
        desc_template: format!("# {key}"),
        chall_metadata: json!({"author": "t"}),
        actions,
        flags,
    }
}

fn dynamic(folder: &str) -> Value {
    json!([{"name": "", "type": "dynamic", "base_score": 100, "val": folder}])
}

/// Writes the generator folders into `attachments` and returns the tables of the golden
/// `running` contest with these challenges added:
/// - `zipchal`: flag from `zipchal/flag/flag.py`, attachment `chall.zip` from `zipchal/gen`;
/// - `shchal`: flag from the shell script `shchal/flag/flag` (neutral protocol);
/// - `slowchal`: flag from a `flag.py` that sleeps `slow_s` seconds first;
/// - `failchal`: flag from a `flag.py` that fails until `failchal/flag/fixed` exists, and
///   attachment `fail.zip` from the zip generator.
pub fn prepare(attachments: &Path, slow_s: u64) -> Tables {
    let ex = examples();
    copy_dir(&ex.join("zip_flag"), &attachments.join("zipchal"));
    copy_dir(&ex.join("shell_flag"), &attachments.join("shchal"));
    copy_dir(&ex.join("zip_flag/gen"), &attachments.join("failchal/gen"));
    count_calls(&attachments.join("zipchal/flag/flag.py"), "flag");
    count_calls(&attachments.join("zipchal/gen/gen.py"), "gen");
    count_calls(&attachments.join("failchal/gen/gen.py"), "gen");
    let slow = attachments.join("slowchal/flag");
    std::fs::create_dir_all(&slow).expect("mkdir");
    std::fs::write(
        slow.join("flag.py"),
        format!("import time\n\ndef flag(user, flag):\n    time.sleep({slow_s})\n    return 'flag{{slow_%d}}' % user._store.id\n"),
    )
    .expect("write");
    let fail = attachments.join("failchal/flag");
    std::fs::create_dir_all(&fail).expect("mkdir");
    std::fs::write(
        fail.join("flag.py"),
        "import os\n\ndef flag(user, flag):\n    if not os.path.exists('fixed'):\n        raise RuntimeError('the organizer broke this generator')\n    return 'flag{fixed_%d}' % user._store.id\n",
    )
    .expect("write");
    count_calls(&fail.join("flag.py"), "flag");

    let dump: Dump =
        serde_json::from_value(golden_json("running.contest.json")).expect("dump parses");
    let mut tables = dump.tables;
    let zip = json!([{"name": "附件", "effective_after": 0, "type": "dyn_attachment",
                      "filename": "chall.zip", "module_path": "zipchal/gen"}]);
    let fail_zip = json!([{"name": "附件", "effective_after": 0, "type": "dyn_attachment",
                           "filename": "fail.zip", "module_path": "failchal/gen"}]);
    tables.challenge.extend([
        challenge(101, "zipchal", dynamic("zipchal/flag"), zip),
        challenge(102, "shchal", dynamic("shchal/flag"), json!([])),
        challenge(103, "slowchal", dynamic("slowchal/flag"), json!([])),
        challenge(104, "failchal", dynamic("failchal/flag"), fail_zip),
    ]);
    tables
}

/// The player token of golden user `uid`.
pub fn token_of(tables: &Tables, uid: i64) -> String {
    tables
        .user
        .iter()
        .find(|u| u.id == uid)
        .and_then(|u| u.token.clone())
        .expect("user with a token")
}

/// The value `examples/generators/zip_flag/flag/flag.py` makes.
pub fn zip_flag(token: &str) -> String {
    let d = hex::encode(Sha256::digest(format!("zip-salt-{token}")));
    format!("flag{{zip_{}}}", &d[..16])
}

/// The value `examples/generators/shell_flag/flag/flag` makes.
pub fn shell_flag(token: &str) -> String {
    let d = hex::encode(Sha256::digest(format!("sh-salt-{token}")));
    format!("flag{{sh_{}}}", &d[..12])
}

/// The files inside a zip, read with the Python standard library.
pub fn zip_entry(zip: &[u8], name: &str) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("a.zip");
    std::fs::write(&path, zip).expect("write zip");
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import sys, zipfile; print(zipfile.ZipFile(sys.argv[1]).read(sys.argv[2]).decode(), end='')",
        ])
        .arg(&path)
        .arg(name)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

impl Cluster {
    /// Imports `tables` (when given) into the database of `dir`, then starts the reducer and
    /// one worker with the extra settings `env`.
    pub async fn start(dir: &Path, tables: Option<Tables>, env: &[(&str, &str)]) -> Cluster {
        let listen = format!("127.0.0.1:{}", free_port());
        let mut all = vec![("GS_API__LISTEN", listen.as_str())];
        all.extend_from_slice(env);
        let config = Arc::new(test_config(dir, &all));
        if let Some(tables) = tables {
            let store = Store::connect(&config.database.url).await.expect("db");
            store.migrate().await.expect("migrate");
            store.import(&Dump { tables }, false).await.expect("import");
            store.close().await;
        }
        let (stop, stopped) = watch::channel(false);
        let (requests, task_rx) = mpsc::channel(4);
        let mut reducer_stop = stopped.clone();
        let reducer = tokio::spawn(gs::serve::run_reducer(
            config.clone(),
            task_rx,
            async move {
                let _ = reducer_stop.wait_for(|s| *s).await;
            },
        ));
        tokio::time::sleep(Duration::from_millis(200)).await;
        let worker = tokio::spawn(gs::serve::run_worker(config.clone(), 0, stopped));
        let cluster = Cluster {
            base: format!("http://{listen}"),
            config,
            http: reqwest::Client::new(),
            stop,
            tasks: vec![reducer, worker],
            _requests: requests,
        };
        let started = Instant::now();
        loop {
            let (_, v) = cluster.wish("game_info", None, &json!({})).await;
            if v.get("error") == Some(&Value::Null) {
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(20), "not serving");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        cluster
    }

    /// A wish endpoint as the frontend asks it.
    pub async fn wish(&self, endpoint: &str, auth: Option<&str>, body: &Value) -> (u16, Value) {
        let mut req = self
            .http
            .post(format!("{}/service/wish/{endpoint}", self.base))
            .header("X-Wish-Version", WISH_VERSION)
            .json(body);
        if let Some(t) = auth {
            req = req.header("Cookie", format!("auth_token={t}"));
        }
        match req.send().await {
            Ok(res) => {
                let status = res.status().as_u16();
                (status, res.json().await.unwrap_or(Value::Null))
            }
            Err(_) => (0, Value::Null),
        }
    }

    /// Submits a flag; returns the answer's `error_msg` (`None`: correct).
    pub async fn submit(&self, auth: &str, key: &str, flag: &str) -> Option<String> {
        let (status, v) = self
            .wish(
                "submit_flag",
                Some(auth),
                &json!({"challenge_key": key, "flag": flag}),
            )
            .await;
        assert_eq!(status, 200, "{v}");
        match v.get("error") {
            Some(Value::Null) => None,
            _ => Some(v["error_msg"].as_str().unwrap_or("?").to_owned()),
        }
    }

    /// Downloads an attachment as a logged-in player: status and body.
    pub async fn download(&self, auth: &str, key: &str, file: &str) -> (u16, Vec<u8>) {
        let res = self
            .http
            .get(format!("{}/service/attachment/{key}/{file}", self.base))
            .header("Cookie", format!("auth_token={auth}"))
            .send()
            .await
            .expect("request");
        let status = res.status().as_u16();
        (status, res.bytes().await.expect("body").to_vec())
    }

    /// Stops both tasks and waits for them.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            match tokio::time::timeout(Duration::from_secs(10), t).await {
                Ok(Ok(Ok(()))) => {}
                other => panic!("a task did not stop cleanly: {other:?}"),
            }
        }
    }
}
