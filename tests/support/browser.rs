//! Headless Chromium driven through ChromeDriver's WebDriver HTTP API, for
//! tests that do what a person does in a browser. `make browser-deps`
//! installs Debian's `chromium` and `chromium-driver`.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::{free_port, http_request};

/// The WebDriver id key of an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

fn find(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    names
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
        .find(|candidate| candidate.exists())
}

/// One browser session, closed (and its driver stopped) when dropped.
pub struct Browser {
    driver: Child,
    port: u16,
    session: String,
    profile: PathBuf,
}

impl Browser {
    pub async fn start() -> Browser {
        let driver_path =
            find(&["chromedriver"]).expect("chromedriver is missing: run `make browser-deps`");
        let chromium = find(&["chromium", "chromium-browser"])
            .expect("chromium is missing: run `make browser-deps`");
        let port = free_port();
        let driver = Command::new(driver_path)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let deadline = Instant::now() + Duration::from_secs(20);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = std::env::temp_dir().join(format!("ecs-canary-chromium-{port}"));
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    format!("--user-data-dir={}", profile.display())
                ]
            }
        }}});
        let mut browser = Browser {
            driver,
            port,
            session: String::new(),
            profile,
        };
        let created = browser.call("POST", "/session", &capabilities).await;
        browser.session = created["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {created}"))
            .to_string();
        browser
    }

    async fn call(&self, method: &str, path: &str, body: &Value) -> Value {
        let payload = if body.is_null() {
            Vec::new()
        } else {
            serde_json::to_vec(body).expect("json")
        };
        let (status, _, reply) = http_request(self.port, method, path, &payload).await;
        let value: Value = serde_json::from_slice(&reply).unwrap_or(Value::Null);
        assert!(
            status < 400,
            "WebDriver {method} {path}: HTTP {status}: {value}"
        );
        value["value"].clone()
    }

    fn session_path(&self, rest: &str) -> String {
        format!("/session/{}{rest}", self.session)
    }

    pub async fn open(&self, url: &str) {
        self.call("POST", &self.session_path("/url"), &json!({"url": url}))
            .await;
    }

    /// Clicks the element a CSS selector finds.
    pub async fn click(&self, selector: &str) {
        let element = self
            .call(
                "POST",
                &self.session_path("/element"),
                &json!({"using": "css selector", "value": selector}),
            )
            .await;
        let id = element[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element {selector}: {element}"));
        self.call(
            "POST",
            &self.session_path(&format!("/element/{id}/click")),
            &json!({}),
        )
        .await;
    }

    /// The page's HTML once it contains `text` (or whatever it is after `timeout`).
    pub async fn wait_for_source(&self, text: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let page = self.source().await;
            if page.contains(text) || Instant::now() >= deadline {
                return page;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The current page's HTML.
    pub async fn source(&self) -> String {
        self.call("GET", &self.session_path("/source"), &Value::Null)
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Ends the WebDriver session (Chromium quits), then the driver.
    pub async fn close(mut self) {
        if !self.session.is_empty() {
            let _ = http_request(self.port, "DELETE", &self.session_path(""), b"").await;
            self.session.clear();
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}
