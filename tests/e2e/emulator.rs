//! The emulator fixture itself: it starts, routes Lambda invocations to the
//! configured endpoint (turning function errors into AWS's shape), runs state
//! machines for real, and stops when dropped.

use std::io::{BufReader, Write};

use std::time::Duration;

use aws_sdk_sfn::types::ExecutionStatus;
use ecs_canary_e2e::{bind_loopback, read_http_request, Emulator, EmulatorOptions};

/// A stand-in Lambda Invoke API on loopback: `echo` returns its payload,
/// `fail` fails the way `cargo lambda watch` reports a handler error.
fn fake_lambda_endpoint() -> String {
    let listener = bind_loopback();
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let Some((request_line, body)) = read_http_request(&mut reader) else {
                continue;
            };
            let (status, reply) = if request_line.contains("/functions/echo/") {
                ("200 OK", body)
            } else if request_line.contains("/functions/fail/") {
                (
                    "500 Internal Server Error",
                    br#"{"errorType":"DriftDetected","errorMessage":"live split is 70/30"}"#
                        .to_vec(),
                )
            } else {
                ("404 Not Found", b"{}".to_vec())
            };
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                reply.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&reply);
        }
    });
    format!("http://127.0.0.1:{port}")
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[tokio::test]
async fn starts_answers_and_stops_when_dropped() {
    let emulator = Emulator::start().await;
    let port = emulator.port();
    let config = emulator.sdk_config().await;
    let clusters = aws_sdk_ecs::Client::new(&config)
        .list_clusters()
        .send()
        .await
        .expect("the emulator answers ECS");
    assert!(clusters.cluster_arns().is_empty());
    drop(emulator);
    assert!(
        !Emulator::is_listening(port),
        "port {port} still open after drop"
    );
}

/// Every emulator of a test process is forked from one loaded launcher (the
/// zygote): what one test creates, another never sees.
#[tokio::test]
async fn emulators_of_one_process_share_nothing() {
    let (first, second) = tokio::join!(Emulator::start(), Emulator::start());
    let ecs = |config| aws_sdk_ecs::Client::new(&config);
    let first_ecs = ecs(first.sdk_config().await);
    let second_ecs = ecs(second.sdk_config().await);
    first_ecs
        .create_cluster()
        .cluster_name("only-in-the-first")
        .send()
        .await
        .expect("create a cluster");
    let listed = second_ecs
        .list_clusters()
        .send()
        .await
        .expect("the second emulator answers");
    assert!(
        listed.cluster_arns().is_empty(),
        "the second emulator sees the first one's cluster: {:?}",
        listed.cluster_arns()
    );
    let (first_port, second_port) = (first.port(), second.port());
    drop(first);
    assert!(!Emulator::is_listening(first_port));
    assert!(
        Emulator::is_listening(second_port),
        "stopping one emulator stopped another"
    );
    let listed = first_ecs.list_clusters().send().await;
    assert!(listed.is_err(), "the stopped emulator still answers");
    assert!(second_ecs.list_clusters().send().await.is_ok());
}

#[tokio::test]
async fn lambda_invocations_go_to_the_configured_endpoint() {
    let emulator = Emulator::start_with(EmulatorOptions {
        lambda_endpoint: Some(fake_lambda_endpoint()),
        ..EmulatorOptions::default()
    })
    .await;
    let (status, headers, body) = emulator
        .http(
            "POST",
            "/2015-03-31/functions/echo/invocations",
            br#"{"a":1}"#,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(body, br#"{"a":1}"#);
    assert_eq!(header(&headers, "x-amz-function-error"), None);

    // A function error comes back as 200 with X-Amz-Function-Error, body intact.
    let arn = "arn:aws:lambda:us-east-1:123456789012:function:fail";
    let (status, headers, body) = emulator
        .http(
            "POST",
            &format!("/2015-03-31/functions/{arn}/invocations"),
            b"{}",
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "x-amz-function-error"), Some("Unhandled"));
    let error: serde_json::Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(error["errorType"], "DriftDetected");

    let (status, _, _) = emulator
        .http("POST", "/2015-03-31/functions/unknown/invocations", b"{}")
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn state_machines_execute_and_catch_function_errors_by_name() {
    let emulator = Emulator::start_with(EmulatorOptions {
        lambda_endpoint: Some(fake_lambda_endpoint()),
        ..EmulatorOptions::default()
    })
    .await;
    let sfn = aws_sdk_sfn::Client::new(&emulator.sdk_config().await);
    let function = |name: &str| format!("arn:aws:lambda:us-east-1:123456789012:function:{name}");
    let definition = serde_json::json!({
        "StartAt": "Echo",
        "States": {
            "Echo": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": function("echo"), "Payload.$": "$"},
                "ResultSelector": {"echoed.$": "$.Payload"},
                "Next": "Fail"
            },
            "Fail": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": function("fail"), "Payload.$": "$"},
                "Catch": [{"ErrorEquals": ["DriftDetected"], "ResultPath": "$.error", "Next": "Caught"}],
                "End": true
            },
            "Caught": {"Type": "Pass", "End": true}
        }
    });
    let machine = sfn
        .create_state_machine()
        .name("probe")
        .definition(definition.to_string())
        .role_arn("arn:aws:iam::123456789012:role/probe")
        .send()
        .await
        .expect("create state machine");
    let execution = sfn
        .start_execution()
        .state_machine_arn(machine.state_machine_arn())
        .name("probe-1")
        .input(r#"{"step": 1}"#)
        .send()
        .await
        .expect("start execution");

    let mut described = None;
    for _ in 0..100 {
        let d = sfn
            .describe_execution()
            .execution_arn(execution.execution_arn())
            .send()
            .await
            .expect("describe execution");
        if d.status() != &ExecutionStatus::Running {
            described = Some(d);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let described = described.expect("the execution finished");
    assert_eq!(described.status(), &ExecutionStatus::Succeeded);
    let output: serde_json::Value =
        serde_json::from_str(described.output().unwrap_or("null")).expect("output");
    assert_eq!(output["echoed"]["step"], 1);
    assert_eq!(output["error"]["Error"], "DriftDetected");
}

#[tokio::test]
async fn an_aws_call_that_is_not_answered_in_time_is_unreachable_not_a_hung_function() {
    use ecs_canary_aws::{AwsClients, SdkTimeouts};
    use ecs_canary_core::ErrorName;

    let emulator = Emulator::start().await;
    let config = emulator.sdk_config().await;
    ecs_canary_e2e::create_lock_table(&config).await;
    // As a function whose AWS calls are bounded at 2 s (1 s per attempt).
    let bounded = config
        .to_builder()
        .timeout_config(SdkTimeouts::from_value(Some("2")).config())
        .build();
    let locks = AwsClients::new(&bounded).locks(ecs_canary_e2e::LOCK_TABLE);
    assert_eq!(locks.holder("c/s").await.expect("answered"), None);

    emulator.arm_delay("dynamodb", "GetItem", 5.0, 3).await;
    let started = std::time::Instant::now();
    let error = locks
        .holder("c/s")
        .await
        .expect_err("AWS does not answer in time");
    assert_eq!(error.error_type(), "AwsUnreachable", "{error}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "the call outlived its bound: {:?}",
        started.elapsed()
    );
}
