//! A panic reported as the invocation's error, in the release build.
//!
//! The release functions are built with `panic = "abort"` (no unwinding
//! code or tables: 0.9–1.9 MB less in each binary), so the Lambda
//! runtime can no longer catch a handler's panic and report it. A panic hook
//! does it instead, before the process ends: it posts the panic's message to
//! the Runtime API as the error of the invocation in progress (`errorType`
//! `Panic`), as a caught panic was reported, and Lambda answers the caller
//! with it. The next invocation starts a fresh process. In a build that
//! unwinds (the tests, `cargo lambda watch`) the runtime catches the panic
//! itself and the hook reports nothing, so that no invocation gets two
//! answers.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Mutex;
use std::time::Duration;

/// The `errorType` of a panic.
pub const PANIC_ERROR_TYPE: &str = ecs_canary_core::ErrorKind::Panic.as_str();

/// How long the report may take: the process is ending either way.
const REPORT_TIMEOUT: Duration = Duration::from_secs(2);

/// The request id of the invocation in progress (Lambda hands a process one
/// at a time).
static INVOCATION: Mutex<Option<String>> = Mutex::new(None);

/// Marks the start (`Some(request id)`) or the end (`None`) of an invocation.
pub(crate) fn set_invocation(request_id: Option<&str>) {
    if let Ok(mut current) = INVOCATION.lock() {
        *current = request_id.map(str::to_owned);
    }
}

fn invocation() -> Option<String> {
    INVOCATION.lock().ok().and_then(|current| current.clone())
}

/// Installs the hook, in a build that aborts on panic (and only there).
pub(crate) fn install() {
    if !cfg!(panic = "abort") {
        return;
    }
    let print = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        print(info);
        let message = panic_message(info.payload());
        tracing::error!(%message, "the function panicked");
        let (Ok(api), Some(request_id)) = (std::env::var("AWS_LAMBDA_RUNTIME_API"), invocation())
        else {
            return;
        };
        if let Err(error) = report_error(
            &api,
            &request_id,
            PANIC_ERROR_TYPE,
            &message,
            REPORT_TIMEOUT,
        ) {
            tracing::error!(%error, "could not report the panic to the Lambda runtime");
        }
    }));
}

/// The message a panic is reported with.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    match (
        payload.downcast_ref::<&str>(),
        payload.downcast_ref::<String>(),
    ) {
        (Some(message), _) => format!("Lambda panicked: {message}"),
        (_, Some(message)) => format!("Lambda panicked: {message}"),
        _ => "Lambda panicked".to_string(),
    }
}

/// Posts `error_type` and `message` as the error of invocation `request_id`
/// to the Runtime API at `api` (`host:port`, plain HTTP), blocking: a panic
/// hook runs outside any runtime. Answers the HTTP status.
pub fn report_error(
    api: &str,
    request_id: &str,
    error_type: &str,
    message: &str,
    timeout: Duration,
) -> std::io::Result<u16> {
    let invalid = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidInput, what);
    if request_id.is_empty()
        || !request_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Err(invalid("not a request id"));
    }
    let address = api
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| invalid("no address for the Runtime API"))?;
    let body = serde_json::json!({ "errorType": error_type, "errorMessage": message }).to_string();
    let request = format!(
        "POST /2018-06-01/runtime/invocation/{request_id}/error HTTP/1.1\r\n\
         Host: {api}\r\n\
         Content-Type: application/json\r\n\
         Lambda-Runtime-Function-Error-Type: {error_type}\r\n\
         Content-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream = TcpStream::connect_timeout(&address, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    stream.write_all(request.as_bytes())?;
    // The status line is all it reads.
    let mut answer = Vec::new();
    let mut chunk = [0u8; 256];
    while !answer.windows(2).any(|end| end == b"\r\n") {
        match stream.read(&mut chunk)? {
            0 => break,
            read => answer.extend_from_slice(&chunk[..read]),
        }
    }
    String::from_utf8_lossy(&answer)
        .split_whitespace()
        .nth(1)
        .and_then(|status| status.parse().ok())
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidData, "not an HTTP answer"))
}
