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

    /// The WebDriver id of the element a CSS selector finds.
    async fn element(&self, selector: &str) -> String {
        let element = self
            .call(
                "POST",
                &self.session_path("/element"),
                &json!({"using": "css selector", "value": selector}),
            )
            .await;
        element[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element {selector}: {element}"))
            .to_string()
    }

    /// The rendered size (width, height in CSS pixels) of the element a CSS
    /// selector finds.
    pub async fn size(&self, selector: &str) -> (f64, f64) {
        let id = self.element(selector).await;
        let rect = self
            .call(
                "GET",
                &self.session_path(&format!("/element/{id}/rect")),
                &Value::Null,
            )
            .await;
        (
            rect["width"].as_f64().unwrap_or_default(),
            rect["height"].as_f64().unwrap_or_default(),
        )
    }

    /// Resizes the window (CSS pixels), e.g. to a phone's.
    pub async fn resize(&self, width: u32, height: u32) {
        self.call(
            "POST",
            &self.session_path("/window/rect"),
            &json!({"width": width, "height": height}),
        )
        .await;
    }

    /// The page's width and the viewport's: a page readable on a phone does
    /// not scroll sideways. (The test reads them; the page has no script.)
    pub async fn widths(&self) -> (f64, f64) {
        let widths = self
            .call(
                "POST",
                &self.session_path("/execute/sync"),
                &json!({"script": "return [document.documentElement.scrollWidth, document.documentElement.clientWidth];", "args": []}),
            )
            .await;
        (
            widths[0].as_f64().unwrap_or_default(),
            widths[1].as_f64().unwrap_or_default(),
        )
    }

    /// A PNG of the viewport.
    pub async fn screenshot(&self) -> Vec<u8> {
        let encoded = self
            .call("GET", &self.session_path("/screenshot"), &Value::Null)
            .await;
        base64_decode(encoded.as_str().unwrap_or_default())
    }

    /// Clicks the element a CSS selector finds.
    pub async fn click(&self, selector: &str) {
        let id = self.element(selector).await;
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

/// Standard base64 (what WebDriver sends screenshots as).
fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let sextets: Vec<u8> = text.bytes().filter_map(value).collect();
    sextets
        .chunks(4)
        .flat_map(|chunk| {
            let bits = chunk
                .iter()
                .enumerate()
                .fold(0u32, |acc, (i, s)| acc | (u32::from(*s) << (18 - 6 * i)));
            let bytes = [(bits >> 16) as u8, (bits >> 8) as u8, bits as u8];
            bytes.into_iter().take(chunk.len().saturating_sub(1))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_decodes() {
        assert_eq!(super::base64_decode("aGVsbG8="), b"hello");
        assert_eq!(super::base64_decode("aGVsbG8h"), b"hello!");
        assert_eq!(super::base64_decode("iVBORw0KGgo="), b"\x89PNG\r\n\x1a\n");
    }
}
