//! A stand-in for Slack on loopback.

use std::io::{BufReader, Write};

use crate::http::read_http_request;

/// A stand-in for Slack's incoming webhook (and response URLs) on loopback:
/// it keeps every JSON message posted to it, or answers 500 while failing.
#[derive(Debug, Clone)]
pub struct FakeSlack {
    port: u16,
    messages: std::sync::Arc<std::sync::Mutex<Vec<serde_json::Value>>>,
    failing: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// Messages containing any of these texts fail (Slack down for them).
    failing_for: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl FakeSlack {
    pub fn start() -> FakeSlack {
        let listener = crate::bind_loopback();
        let port = listener.local_addr().expect("addr").port();
        let messages = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let failing = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let failing_for = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
        let kept = std::sync::Arc::clone(&messages);
        let down = std::sync::Arc::clone(&failing);
        let down_for = std::sync::Arc::clone(&failing_for);
        std::thread::spawn(move || {
            for stream in listener.incoming().map_while(Result::ok) {
                let kept = std::sync::Arc::clone(&kept);
                let down = std::sync::Arc::clone(&down);
                let down_for = std::sync::Arc::clone(&down_for);
                std::thread::spawn(move || {
                    let mut writer = match stream.try_clone() {
                        Ok(w) => w,
                        Err(_) => return,
                    };
                    let mut reader = BufReader::new(stream);
                    while let Some((_, body)) = read_http_request(&mut reader) {
                        let text = String::from_utf8_lossy(&body);
                        let down_for_this = down_for
                            .lock()
                            .expect("lock")
                            .iter()
                            .any(|t| text.contains(t.as_str()));
                        if down.load(std::sync::atomic::Ordering::SeqCst) || down_for_this {
                            let _ = writer.write_all(
                                b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n\r\ndown",
                            );
                            continue;
                        }
                        if let Ok(value) = serde_json::from_slice(&body) {
                            kept.lock().expect("lock").push(value);
                        }
                        let _ = writer.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
                    }
                });
            }
        });
        FakeSlack {
            port,
            messages,
            failing,
            failing_for,
        }
    }

    /// Slack is down for messages that contain `text` (a service's name, say).
    pub fn fail_messages_containing(&self, text: &str) {
        self.failing_for
            .lock()
            .expect("lock")
            .push(text.to_string());
    }

    /// Slack is down (HTTP 500 to everything) until set back.
    pub fn set_failing(&self, failing: bool) {
        self.failing
            .store(failing, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn webhook_url(&self) -> String {
        format!("http://127.0.0.1:{}/services/T000/B000/XXXX", self.port)
    }

    pub fn messages(&self) -> Vec<serde_json::Value> {
        self.messages.lock().expect("lock").clone()
    }
}
