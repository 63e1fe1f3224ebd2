//! What the functions exchange with Lambda itself: a function URL's event
//! and answer, and a panic reported as the invocation's error.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;

use ecs_canary_core::ErrorName;
use ecs_canary_handlers::function_url::{UrlRequest, UrlResponse};
use ecs_canary_handlers::panic_report::{panic_message, report_error, PANIC_ERROR_TYPE};
use serde_json::json;

/// A function URL event as Lambda sends it (payload format 2.0), trimmed.
fn event(body: &str, base64: bool) -> serde_json::Value {
    json!({
        "version": "2.0", "routeKey": "$default", "rawPath": "/approvals/x", "rawQueryString": "a=1",
        "headers": {"content-type": "application/x-www-form-urlencoded", "X-Slack-Signature": "v0=ab"},
        "requestContext": {"accountId": "123456789012", "requestId": "gw-1",
            "authorizer": {"iam": {"userArn": "arn:aws:iam::123456789012:user/alice"}},
            "http": {"method": "POST", "path": "/approvals/x", "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1", "userAgent": "t"}},
        "body": body, "isBase64Encoded": base64
    })
}

#[test]
fn a_function_url_event_is_read_as_its_request() {
    let request = UrlRequest::from_event(event("decision=approve", false), "req-1")
        .expect("a function URL event");
    assert_eq!(request.method(), "POST");
    assert_eq!(request.path(), "/approvals/x");
    assert_eq!(request.body(), b"decision=approve");
    assert_eq!(request.header("X-Slack-Signature"), Some("v0=ab"));
    assert_eq!(request.header("x-slack-signature"), Some("v0=ab"));
    assert_eq!(
        request.caller(),
        Some("arn:aws:iam::123456789012:user/alice")
    );
    // The Lambda invocation's id, not the URL's own request id.
    assert_eq!(request.request_id(), "req-1");
    // A base64 body (a content type the URL does not take as text).
    let encoded = UrlRequest::from_event(event("ZGVjaXNpb249cmVqZWN0", true), "req-2")
        .expect("a function URL event");
    assert_eq!(encoded.body(), b"decision=reject");
    // No authorizer (a URL without AWS_IAM): no caller.
    let mut anonymous = event("", false);
    anonymous["requestContext"]
        .as_object_mut()
        .expect("an object")
        .remove("authorizer");
    let anonymous = UrlRequest::from_event(anonymous, "req-3").expect("an event");
    assert_eq!(anonymous.caller(), None);
    assert!(anonymous.body().is_empty());
}

#[test]
fn an_event_that_is_not_a_function_url_request_fails_as_invalid_event() {
    for bad in [
        json!({"cluster": "c", "service": "s"}),
        json!("GET /approvals"),
        event("not base64!", true),
    ] {
        let error = UrlRequest::from_event(bad.clone(), "req").expect_err("not a request");
        assert_eq!(error.error_type(), "InvalidEvent", "{bad}");
    }
}

#[test]
fn an_answer_is_sent_as_the_function_url_payload() {
    let answer = UrlResponse::new(403, "application/json", r#"{"error":"x"}"#.into())
        .with_header("Cache-Control", "no-store");
    assert_eq!(answer.header("cache-control"), Some("no-store"));
    assert_eq!(
        serde_json::to_value(&answer).expect("JSON"),
        json!({
            "statusCode": 403,
            "headers": {"content-type": "application/json", "cache-control": "no-store"},
            "multiValueHeaders": {},
            "body": r#"{"error":"x"}"#,
            "isBase64Encoded": false,
            "cookies": []
        })
    );
}

#[test]
fn a_panic_is_reported_as_the_invocations_error() {
    let runtime_api = TcpListener::bind("127.0.0.1:0").expect("a port");
    let address = runtime_api.local_addr().expect("an address").to_string();
    let server = std::thread::spawn(move || {
        let (mut connection, _) = runtime_api.accept().expect("the report");
        let mut received = Vec::new();
        let mut chunk = [0u8; 1024];
        while !String::from_utf8_lossy(&received).contains("\"errorMessage\"") {
            let read = connection.read(&mut chunk).expect("reads");
            if read == 0 {
                break;
            }
            received.extend_from_slice(&chunk[..read]);
        }
        connection
            .write_all(b"HTTP/1.1 202 Accepted\r\nContent-Length: 16\r\n\r\n{\"status\":\"OK\"}\n")
            .expect("answers");
        String::from_utf8_lossy(&received).to_string()
    });
    let message = panic_message(&"the rule has no forward action");
    let status = report_error(
        &address,
        "8476a536-e9f4-11e8-9739-2dfe598c3fcd",
        PANIC_ERROR_TYPE,
        &message,
        Duration::from_secs(5),
    )
    .expect("reported");
    assert_eq!(status, 202);
    let received = server.join().expect("the server");
    assert!(
        received.starts_with(
            "POST /2018-06-01/runtime/invocation/8476a536-e9f4-11e8-9739-2dfe598c3fcd/error HTTP/1.1\r\n"
        ),
        "{received}"
    );
    assert!(
        received.contains("Lambda-Runtime-Function-Error-Type: Panic\r\n"),
        "{received}"
    );
    let body = received.split("\r\n\r\n").nth(1).unwrap_or_default();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(body).expect("JSON"),
        json!({"errorType": "Panic", "errorMessage": "Lambda panicked: the rule has no forward action"})
    );
}

#[test]
fn a_panic_report_names_no_other_path_than_the_invocations() {
    // An id that would change the path is refused before anything is sent.
    for id in ["", "../init/error", "a b", "id?x=1"] {
        let error = report_error(
            "127.0.0.1:9",
            id,
            PANIC_ERROR_TYPE,
            "m",
            Duration::from_secs(1),
        )
        .expect_err("refused");
        assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput, "{id}");
    }
    assert_eq!(
        panic_message(&String::from("boom")),
        "Lambda panicked: boom"
    );
    assert_eq!(panic_message(&42_u8), "Lambda panicked");
}
