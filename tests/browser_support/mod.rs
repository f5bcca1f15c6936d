//! Headless Chromium (Debian's package) driven over the DevTools protocol, shared by the
//! browser tests: start the browser, open pages (each in its own cookie jar if asked),
//! evaluate script, navigate, wait for conditions, take screenshots.
#![allow(dead_code)]

use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio_tungstenite::tungstenite::Message;

/// Where Debian installs Chromium.
pub const CHROMIUM: &str = "/usr/bin/chromium";

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A running headless Chromium.
pub struct Browser {
    child: tokio::process::Child,
    _profile: tempfile::TempDir,
    /// The DevTools HTTP port.
    pub port: String,
    browser: Page,
}

impl Browser {
    /// Starts Chromium, or `None` (with a message) when it is not installed. With
    /// `CI_REQUIRE_BROWSER=1` (set by `.ci/run`) a missing Chromium fails the test instead,
    /// so that CI never passes without having run the browser.
    pub async fn start() -> Option<Browser> {
        if !std::path::Path::new(CHROMIUM).exists() {
            let required = std::env::var("CI_REQUIRE_BROWSER").is_ok_and(|v| v == "1");
            assert!(
                !required,
                "{CHROMIUM} is not installed but CI_REQUIRE_BROWSER=1 requires the browser \
                 test to run (apt-get install -y chromium chromium-driver)"
            );
            eprintln!(
                "SKIPPED: {CHROMIUM} is not installed (apt-get install -y chromium); \
                 CI_REQUIRE_BROWSER=1 makes this a failure"
            );
            return None;
        }
        let profile = tempfile::tempdir().expect("profile dir");
        let mut child = tokio::process::Command::new(CHROMIUM)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
                "--hide-scrollbars",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("chromium starts");
        let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
        let browser_ws = tokio::time::timeout(Duration::from_secs(30), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(at) = line.find("ws://") {
                    return line[at..].trim().to_string();
                }
            }
            panic!("chromium exited without a DevTools address");
        })
        .await
        .expect("chromium's DevTools address in time");
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let port = browser_ws
            .trim_start_matches("ws://")
            .split(['/', ':'])
            .nth(1)
            .expect("port")
            .to_string();
        let browser = Page::connect(&browser_ws).await;
        Some(Browser {
            child,
            _profile: profile,
            port,
            browser,
        })
    }

    /// The page Chromium opened at start (the default cookie jar).
    pub async fn first_page(&self) -> Page {
        let targets: Value = reqwest::get(format!("http://127.0.0.1:{}/json/list", self.port))
            .await
            .expect("targets")
            .json()
            .await
            .expect("json");
        let page_ws = targets
            .as_array()
            .and_then(|l| l.iter().find(|t| t["type"] == "page"))
            .and_then(|t| t["webSocketDebuggerUrl"].as_str())
            .expect("a page target")
            .to_string();
        let mut page = Page::connect(&page_ws).await;
        page.call("Page.enable", json!({})).await;
        page.call("Network.enable", json!({})).await;
        page
    }

    /// A new page in a browser context of its own (own cookies, like a private window).
    pub async fn isolated_page(&mut self) -> Page {
        let ctx = self
            .browser
            .call("Target.createBrowserContext", json!({}))
            .await;
        let target = self
            .browser
            .call(
                "Target.createTarget",
                json!({"url": "about:blank", "browserContextId": ctx["browserContextId"]}),
            )
            .await;
        let id = target["targetId"].as_str().expect("target id");
        let mut page =
            Page::connect(&format!("ws://127.0.0.1:{}/devtools/page/{id}", self.port)).await;
        page.call("Page.enable", json!({})).await;
        page.call("Network.enable", json!({})).await;
        page
    }

    /// Stops the browser.
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// One DevTools session (a page, or the browser itself).
pub struct Page {
    ws: Ws,
    next_id: u64,
}

impl Page {
    async fn connect(url: &str) -> Page {
        let (ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("cdp connect");
        Page { ws, next_id: 0 }
    }

    /// Calls a DevTools method and returns its result (panics on a protocol error).
    pub async fn call(&mut self, method: &str, params: Value) -> Value {
        match self.try_call(method, params).await {
            Ok(v) => v,
            Err(e) => panic!("{method}: {e}"),
        }
    }

    /// Calls a DevTools method; a protocol error (e.g. the page navigated meanwhile) is
    /// returned.
    pub async fn try_call(&mut self, method: &str, params: Value) -> Result<Value, Value> {
        self.next_id += 1;
        let id = self.next_id;
        let msg = json!({"id": id, "method": method, "params": params});
        self.ws
            .send(Message::Text(msg.to_string().into()))
            .await
            .expect("cdp send");
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(60), self.ws.next())
                .await
                .expect("cdp answer in time")
                .expect("cdp open")
                .expect("cdp frame");
            if let Message::Text(t) = frame {
                let v: Value = serde_json::from_str(&t).expect("cdp json");
                if v["id"] == id {
                    return match v.get("error") {
                        Some(e) => Err(e.clone()),
                        None => Ok(v["result"].clone()),
                    };
                }
            }
        }
    }

    /// Evaluates `js` (awaiting a promise) and returns its value.
    pub async fn eval(&mut self, js: &str) -> Value {
        let r = self
            .call(
                "Runtime.evaluate",
                json!({"expression": js, "returnByValue": true, "awaitPromise": true}),
            )
            .await;
        assert!(r.get("exceptionDetails").is_none(), "{js}: {r}");
        r["result"]["value"].clone()
    }

    /// Evaluates `js` and returns it as a string ("" if it is not one).
    pub async fn text(&mut self, js: &str) -> String {
        self.eval(js).await.as_str().unwrap_or_default().to_string()
    }

    /// Navigates to `url` and waits until it has loaded.
    pub async fn goto(&mut self, url: &str) {
        self.call("Page.navigate", json!({"url": url})).await;
        self.wait_for(&format!(
            "location.href === {} && document.readyState === 'complete'",
            json!(url)
        ))
        .await;
    }

    /// Waits up to 15 s until `js` is true (a page navigating meanwhile counts as false).
    pub async fn wait_for(&mut self, js: &str) {
        let started = Instant::now();
        loop {
            let r = self
                .try_call(
                    "Runtime.evaluate",
                    json!({"expression": js, "returnByValue": true, "awaitPromise": true}),
                )
                .await;
            if r.is_ok_and(|r| r["result"]["value"] == json!(true)) {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "never true: {js}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// A PNG of the whole page.
    pub async fn screenshot(&mut self) -> Vec<u8> {
        use base64::Engine as _;
        let shot = self
            .call(
                "Page.captureScreenshot",
                json!({"format": "png", "captureBeyondViewport": true}),
            )
            .await;
        base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().unwrap_or_default())
            .expect("png")
    }
}
