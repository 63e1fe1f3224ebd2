//! HTTP for loopback tests: the workspace's client (hyper) for requests, and
//! a reader of one request for the stand-in servers the tests run on threads.

use std::io::{BufRead, BufReader, Read};
use std::net::TcpStream;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// Reads one HTTP/1.1 request from a connection: (request line, body).
pub fn read_http_request(reader: &mut BufReader<TcpStream>) -> Option<(String, Vec<u8>)> {
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).ok()? == 0 {
        return None;
    }
    let mut length = 0usize;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).ok()? == 0 {
            return None;
        }
        if header == "\r\n" {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some((request_line, body))
}

/// `text` as a value of an `application/x-www-form-urlencoded` body
/// (every byte but the unreserved ones percent-encoded).
pub fn form_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// An HTTP answer: status, headers (lower-case names), body.
pub type HttpResponse = (u16, Vec<(String, String)>, Vec<u8>);

/// How long a test waits for an answer by default.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// A request with a JSON body to a loopback port.
pub async fn http_request(port: u16, method: &str, path: &str, body: &[u8]) -> HttpResponse {
    http_request_with(
        port,
        method,
        path,
        &[("Content-Type", "application/json")],
        body,
    )
    .await
}

/// A request to a loopback port; panics if nothing answers.
pub async fn http_request_with(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> HttpResponse {
    try_http_request(port, method, path, headers, body, DEFAULT_TIMEOUT)
        .await
        .unwrap_or_else(|e| panic!("{method} {path} on port {port}: {e}"))
}

/// One request on loopback with the HTTP client the functions use (hyper),
/// waiting up to `timeout` for the whole answer.
pub async fn try_http_request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    timeout: Duration,
) -> Result<HttpResponse, String> {
    // A client per request: each test runs its own runtime, and a pooled
    // connection must not outlive the runtime that drives it.
    let client: Client<HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    let mut request = hyper::Request::builder()
        .method(method)
        .uri(format!("http://127.0.0.1:{port}{path}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request
        .body(Full::new(Bytes::copy_from_slice(body)))
        .map_err(|e| e.to_string())?;
    let answer = async {
        let response = client.request(request).await.map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_ascii_lowercase(),
                    v.to_str().unwrap_or_default().to_string(),
                )
            })
            .collect();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes()
            .to_vec();
        Ok((status, headers, body))
    };
    tokio::time::timeout(timeout, answer)
        .await
        .map_err(|_| format!("no answer within {timeout:?}"))?
}
