//! Separate `gs` processes for the process and fault tests: a temporary directory with a
//! configuration on free ports, children killed when dropped, and HTTP helpers.
#![allow(dead_code)]

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub const GS: &str = env!("CARGO_BIN_EXE_gs");
pub const WISH_VERSION: &str = "2025.v1";

pub use crate::common::{free_port, Proc};

pub struct Cluster {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    pub api_port: u16,
    pub admin_port: u16,
    /// The database every process of the cluster uses.
    pub database_url: String,
}

impl Cluster {
    pub fn new() -> Cluster {
        Cluster::with_database(None)
    }

    /// A cluster on `database_url` (default: SQLite in the temporary directory).
    pub fn with_database(database_url: Option<&str>) -> Cluster {
        let dir = tempfile::tempdir().expect("temp dir");
        let d = dir.path().display().to_string();
        let paths = crate::common::paths_toml(&d);
        let api_port = free_port();
        // Workers listen on api port + index: make sure those are free too.
        let api_port = (0..50)
            .map(|_| free_port())
            .find(|&p| {
                p < 60_000
                    && (1..3).all(|i| std::net::TcpListener::bind(("127.0.0.1", p + i)).is_ok())
            })
            .unwrap_or(api_port);
        let config = dir.path().join("gs.toml");
        let admin_port = free_port();
        let url = database_url
            .map(str::to_owned)
            .unwrap_or_else(|| format!("sqlite://{d}/gs.db"));
        let text = format!(
            r#"
[database]
url = "{url}"
{paths}[glitter]
action_addr = "tcp://127.0.0.1:{}"
event_addr = "tcp://127.0.0.1:{}"
token = "a-test-token-shared-by-the-processes"
[api]
listen = "127.0.0.1:{api_port}"
workers = 1
[admin]
listen = "127.0.0.1:{admin_port}"
uids = [1]
destructive_uids = [1]
"#,
            free_port(),
            free_port(),
        );
        std::fs::write(&config, text).expect("write config");
        Cluster {
            dir,
            config,
            api_port,
            admin_port,
            database_url: url,
        }
    }

    pub fn gs(&self, args: &[&str], log: &str) -> Command {
        let file = std::fs::File::create(self.dir.path().join(log)).expect("log file");
        let mut cmd = Command::new(GS);
        cmd.args(args)
            .arg("--config")
            .arg(&self.config)
            .current_dir(self.dir.path())
            .env("RUST_LOG", "info")
            .stdout(
                file.try_clone()
                    .map(Stdio::from)
                    .unwrap_or_else(|_| Stdio::null()),
            )
            .stderr(file);
        cmd
    }

    pub fn import(&self, dump: &Path) {
        let status = self
            .gs(&["db", "import", &dump.display().to_string()], "import.log")
            .status()
            .expect("run gs db import");
        assert!(status.success(), "gs db import failed");
    }

    pub fn spawn(&self, args: &[&str], log: &str) -> Proc {
        Proc(self.gs(args, log).spawn().expect("spawn gs"))
    }

    pub fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default()
    }
}

pub async fn wish(
    client: &reqwest::Client,
    port: u16,
    endpoint: &str,
    auth: Option<&str>,
    body: Value,
) -> Value {
    let mut req = client
        .post(format!("http://127.0.0.1:{port}/service/wish/{endpoint}"))
        .header("X-Wish-Version", WISH_VERSION)
        .json(&body);
    if let Some(token) = auth {
        req = req.header("Cookie", format!("auth_token={token}"));
    }
    match req.send().await {
        Ok(resp) => resp.json().await.unwrap_or(Value::Null),
        Err(_) => Value::Null,
    }
}

/// Waits until a worker serves game data, or panics after `limit`.
pub async fn wait_serving(client: &reqwest::Client, port: u16, limit: Duration) -> Duration {
    let start = Instant::now();
    loop {
        let answer = wish(client, port, "game_info", None, json!({})).await;
        if answer["error"].is_null() && answer["cur_tick"].is_i64() {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < limit,
            "worker on port {port} not serving after {limit:?}: {answer}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

pub fn user_token(uid: i64) -> String {
    format!("{uid}_authtoken{uid:0>40}")
}
