//! The whole flow on the emulator: the state machine `infra/` deployed,
//! executions, approval emails (SNS → an SQS queue the test reads) and the
//! approval endpoint served by `cargo lambda watch`.

use std::time::{Duration, Instant};

use aws_sdk_sfn::types::{ExecutionStatus, HistoryEvent};
use serde_json::Value;

use crate::{http_request_with, Emulator, ACCOUNT, REGION};

/// Everything an end-to-end flow needs on one emulator.
pub struct Flow {
    pub sfn: aws_sdk_sfn::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub state_machine: String,
    pub email_queue: String,
    /// Emails read from the inbox but not yet asked for.
    unread: std::sync::Mutex<std::collections::VecDeque<(String, String)>>,
}

impl Flow {
    /// The state machine `infra/` deployed, and an SQS queue subscribed to
    /// its approval topic (the "inbox" the tests read emails from).
    pub async fn create(emulator: &Emulator) -> Flow {
        let config = emulator.sdk_config().await;
        let sns = aws_sdk_sns::Client::new(&config);
        let sqs = aws_sdk_sqs::Client::new(&config);
        let sfn = aws_sdk_sfn::Client::new(&config);
        let queue = sqs
            .create_queue()
            .queue_name("approval-inbox")
            .send()
            .await
            .expect("create queue");
        let queue_url = queue.queue_url().unwrap_or_default().to_string();
        let queue_arn = format!("arn:aws:sqs:{REGION}:{ACCOUNT}:approval-inbox");
        sns.subscribe()
            .topic_arn(emulator.infra_output("ApprovalTopicArn"))
            .protocol("sqs")
            .endpoint(queue_arn)
            .send()
            .await
            .expect("subscribe the inbox");
        Flow {
            sfn,
            sqs,
            state_machine: emulator.infra_output("StateMachineArn"),
            email_queue: queue_url,
            unread: Default::default(),
        }
    }

    pub async fn start(&self, name: &str, input: &Value) -> String {
        self.sfn
            .start_execution()
            .state_machine_arn(&self.state_machine)
            .name(name)
            .input(input.to_string())
            .send()
            .await
            .expect("start execution")
            .execution_arn()
            .to_string()
    }

    pub async fn status(
        &self,
        execution: &str,
    ) -> (ExecutionStatus, Option<String>, Option<String>) {
        let d = self
            .sfn
            .describe_execution()
            .execution_arn(execution)
            .send()
            .await
            .expect("describe execution");
        (
            d.status().clone(),
            d.error().map(str::to_string),
            d.output().map(str::to_string),
        )
    }

    /// Waits until the execution is no longer running; returns (status, error).
    pub async fn finished(
        &self,
        execution: &str,
        timeout: Duration,
    ) -> (ExecutionStatus, Option<String>) {
        let deadline = Instant::now() + timeout;
        loop {
            let (status, error, _) = self.status(execution).await;
            if status != ExecutionStatus::Running {
                return (status, error);
            }
            assert!(
                Instant::now() < deadline,
                "{execution} still running after {timeout:?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The cause an ended execution reports.
    pub async fn cause(&self, execution: &str) -> String {
        self.sfn
            .describe_execution()
            .execution_arn(execution)
            .send()
            .await
            .expect("describe execution")
            .cause()
            .unwrap_or_default()
            .to_string()
    }

    pub async fn history(&self, execution: &str) -> Vec<HistoryEvent> {
        self.sfn
            .get_execution_history()
            .execution_arn(execution)
            .max_results(1000)
            .send()
            .await
            .expect("history")
            .events()
            .to_vec()
    }

    /// The next email asking for an approval; notices that arrive first
    /// stay in the inbox for [`Flow::next_email`].
    pub async fn next_approval_email(&self, timeout: Duration) -> Option<(String, String)> {
        self.next_email_where(timeout, |subject| subject.starts_with("Approve step"))
            .await
    }

    /// The next email whose subject satisfies `wanted`; others stay unread.
    pub async fn next_email_where(
        &self,
        timeout: Duration,
        wanted: impl Fn(&str) -> bool,
    ) -> Option<(String, String)> {
        let deadline = Instant::now() + timeout;
        let mut skipped = Vec::new();
        let found = loop {
            let position = {
                let unread = self.unread.lock().expect("unread");
                unread.iter().position(|(subject, _)| wanted(subject))
            };
            if let Some(position) = position {
                break self.unread.lock().expect("unread").remove(position);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.receive(left).await {
                Some(email) if wanted(&email.0) => break Some(email),
                Some(other) => skipped.push(other),
                None => break None,
            }
        };
        self.unread.lock().expect("unread").extend(skipped);
        found
    }

    /// The next email (subject, body), waiting up to `timeout`.
    pub async fn next_email(&self, timeout: Duration) -> Option<(String, String)> {
        if let Some(email) = self.unread.lock().expect("unread").pop_front() {
            return Some(email);
        }
        self.receive(timeout).await
    }

    async fn receive(&self, timeout: Duration) -> Option<(String, String)> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            let received = self
                .sqs
                .receive_message()
                .queue_url(&self.email_queue)
                .max_number_of_messages(1)
                .wait_time_seconds(1)
                .send()
                .await
                .expect("receive");
            if let Some(message) = received.messages().first() {
                if let Some(handle) = message.receipt_handle() {
                    let _ = self
                        .sqs
                        .delete_message()
                        .queue_url(&self.email_queue)
                        .receipt_handle(handle)
                        .send()
                        .await;
                }
                let envelope: Value =
                    serde_json::from_str(message.body().unwrap_or("{}")).unwrap_or(Value::Null);
                return Some((
                    envelope["Subject"].as_str().unwrap_or_default().to_string(),
                    envelope["Message"].as_str().unwrap_or_default().to_string(),
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        None
    }
}

/// The service an email is about: approvals say "Approve step n/m of
/// <service>? …", notices start with "<service>: …".
pub fn service_of(subject: &str) -> Option<String> {
    match subject.strip_prefix("Approve step ") {
        Some(rest) => rest
            .split_once(" of ")
            .and_then(|(_, rest)| rest.split_once('?'))
            .map(|(service, _)| service.to_string()),
        None => subject
            .split_once(':')
            .map(|(service, _)| service.to_string()),
    }
}

/// Emails sorted by service, for many deployments at once: one task reads
/// the inbox and hands each email to the receiver of its service.
pub type Mailboxes =
    std::collections::BTreeMap<String, tokio::sync::mpsc::UnboundedReceiver<(String, String)>>;

/// Starts sorting the inbox of `flow` for `services`; abort the handle to stop.
pub fn sort_mail(
    flow: std::sync::Arc<Flow>,
    services: &[String],
) -> (tokio::task::JoinHandle<()>, Mailboxes) {
    let mut senders = std::collections::BTreeMap::new();
    let mut receivers = Mailboxes::new();
    for service in services {
        let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
        senders.insert(service.clone(), sender);
        receivers.insert(service.clone(), receiver);
    }
    let postman = tokio::spawn(async move {
        loop {
            let Some((subject, body)) = flow.next_email(Duration::from_secs(5)).await else {
                continue;
            };
            if let Some(mailbox) = service_of(&subject).and_then(|s| senders.get(&s)) {
                let _ = mailbox.send((subject, body));
            }
        }
    });
    (postman, receivers)
}

/// An emulator with the example application created and the flow ready.
pub async fn example_flow() -> (Emulator, ecs_canary_aws::AwsClients, Flow) {
    example_flow_with(crate::EmulatorOptions {
        functions: true,
        ..crate::EmulatorOptions::default()
    })
    .await
}

/// [`example_flow`] on an emulator started with `options` (functions on).
pub async fn example_flow_with(
    options: crate::EmulatorOptions,
) -> (Emulator, ecs_canary_aws::AwsClients, Flow) {
    let emulator = Emulator::start_with(crate::EmulatorOptions {
        functions: true,
        ..options
    })
    .await;
    let clients = emulator.clients().await;
    crate::example::create_example_app(&clients)
        .await
        .expect("create the example stacks");
    let flow = Flow::create(&emulator).await;
    (emulator, clients, flow)
}

/// An execution input for the example application.
pub fn example_input(version: &str, steps: Value, approval_timeout_seconds: u64) -> Value {
    use crate::example::{APP_STACK, CLUSTER, SERVICE};
    serde_json::json!({
        "cluster": CLUSTER,
        "service": SERVICE,
        "stack": APP_STACK,
        "environment": {"APPVERSION": version},
        "steps": steps,
        "approvalTimeoutSeconds": approval_timeout_seconds
    })
}

/// The approval link in an email body.
pub fn link_in(body: &str) -> String {
    body.split_whitespace()
        .find(|word| word.starts_with("http") && word.contains("/approvals/"))
        .unwrap_or_else(|| panic!("no approval link in: {body}"))
        .to_string()
}

/// Port and path of a loopback URL.
pub fn port_and_path(url: &str) -> (u16, String) {
    let rest = url.trim_start_matches("http://");
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let port = host
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("a port in the link");
    (port, format!("/{path}"))
}

/// What a browser does with a link: GET it.
pub async fn open(url: &str) -> (u16, String) {
    let (port, path) = port_and_path(url);
    let (status, _, body) = http_request_with(port, "GET", &path, &[], b"").await;
    (status, String::from_utf8_lossy(&body).to_string())
}

/// What the page's form does: POST `decision=…` to the same URL.
pub async fn submit(url: &str, decision: &str) -> (u16, String) {
    let (port, path) = port_and_path(url);
    let body = format!("decision={decision}");
    let (status, _, body) = http_request_with(
        port,
        "POST",
        &path,
        &[("Content-Type", "application/x-www-form-urlencoded")],
        body.as_bytes(),
    )
    .await;
    (status, String::from_utf8_lossy(&body).to_string())
}

impl Emulator {
    /// The base URL of approval-api as `cargo lambda watch` serves it.
    pub fn approval_url(&self) -> String {
        format!(
            "http://127.0.0.1:{}/lambda-url/approval-api",
            self.function_port()
        )
    }
}
