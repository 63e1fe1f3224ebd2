//! approval-api: the HTTPS endpoint (a Lambda function URL) behind the links.
//!
//! * `GET  …/approvals/{id}`: a confirmation page; it changes nothing.
//! * `POST …/approvals/{id}` (form `decision=approve|reject`): decides, once.
//! * `POST …/slack/interactions`: Slack's buttons, signature verified.

use std::sync::Arc;

use ecs_canary_aws::{ApprovalRecord, AwsError, DecideOutcome};
use ecs_canary_core::{
    confirmation_page, form_decision, form_field, is_slack_response_url, iso8601, message_page,
    slack_response_update, verify_slack_request, ApprovalId, ApprovalStatus, Approver, Decision,
    ErrorName, HistoryEvent, LinkState, SlackAction, SLACK_RESPONSE_URL_PREFIX,
};
use lambda_http::{Body, Request, Response};
use serde_json::{json, Value};

use crate::evidence::{check_analysis, page_evidence};
use crate::finish::stable_first;
use crate::{init_logging, Context};

/// How long the Slack message update may take (Slack waits 3 s in all).
const RESPONSE_URL_LIMIT: std::time::Duration = std::time::Duration::from_millis(1500);

fn html(status: u16, page: String) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "text/html; charset=utf-8")
        .header("cache-control", "no-store")
        .header("x-frame-options", "DENY")
        .header("referrer-policy", "no-referrer")
        .body(Body::from(page))
        .unwrap_or_default()
}

fn json_response(status: u16, body: Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap_or_default()
}

fn body_bytes(request: &Request) -> &[u8] {
    match request.body() {
        Body::Empty => &[],
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => &[],
    }
}

fn header<'a>(request: &'a Request, name: &str) -> Option<&'a str> {
    request.headers().get(name).and_then(|v| v.to_str().ok())
}

fn unknown() -> DecisionOutcome {
    DecisionOutcome {
        status: 404,
        title: "Unknown approval".into(),
        message: "This link does not belong to any deployment.".into(),
    }
}

/// The page of a link that can no longer decide (or is deciding right now).
fn closed(record: &ApprovalRecord, state: LinkState) -> DecisionOutcome {
    let facts = &record.facts;
    let (title, message) = match state {
        LinkState::BeingDecided => (
            "A decision is being recorded",
            format!(
                "{} chose for step {} of {} of {} at {}; it is being passed on to the deployment right now. Open the link again in a moment to see the outcome.",
                record.decided_by.as_deref().unwrap_or_default(),
                facts.step,
                facts.steps,
                facts.service,
                record.decided_at.as_deref().unwrap_or_default()
            ),
        ),
        LinkState::Expired => (
            "This approval has expired",
            format!(
                "Step {} of {} for {} is no longer waiting for a decision: the deployment ended (its approval timed out, it was stopped, or a guarding alarm fired) and its traffic went back to the stable colour. The approval channels say how.",
                facts.step, facts.steps, facts.service
            ),
        ),
        LinkState::Decided | LinkState::Open => (
            "Already decided",
            format!(
                "Step {} of {} for {} was {} by {} at {}. Nothing was changed.",
                facts.step,
                facts.steps,
                facts.service,
                record.status.as_str().to_lowercase(),
                record.decided_by.as_deref().unwrap_or_default(),
                record.decided_at.as_deref().unwrap_or_default()
            ),
        ),
    };
    DecisionOutcome {
        status: state.http_status(),
        title: title.into(),
        message,
    }
}

/// Settles a decision once Step Functions has answered: `decided` when it
/// took it, `Expired` when the step is gone, `Pending` (decide again) on any
/// other failure. A record that cannot be settled is logged: the decision
/// itself stands.
pub(crate) async fn settle_decision(
    context: &Context,
    record: &ApprovalRecord,
    decided: ApprovalStatus,
    (by, channel): (&str, &str),
    callback: &Result<(), AwsError>,
) {
    let settled = match callback {
        Ok(()) => decided,
        Err(AwsError::TaskNotWaiting(_)) => ApprovalStatus::Expired,
        Err(_) => ApprovalStatus::Pending,
    };
    if let Err(error) = context.ports.approvals.settle(&record.key, settled).await {
        tracing::error!(%error, status = settled.as_str(), "could not settle the decision's record");
    }
    if let (Ok(()), Some(deployment)) = (callback, &record.deployment) {
        context
            .record(HistoryEvent::decided(
                deployment,
                context.now_millis(),
                &decided.as_str().to_lowercase(),
                by,
                channel,
                record.facts.evidence.as_deref(),
            ))
            .await;
    }
}

/// The result of a decision, for a page, a Slack message or the command
/// line: an HTTP status (200 decided, 403 refused by the policy, 404
/// unknown, 409 decided already, 410 expired, 503 not passed on).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionOutcome {
    pub status: u16,
    pub title: String,
    pub message: String,
}

/// The approval policy that applies to a request: the deployment's own over
/// the functions' defaults; `Err` with the reason when the approver may not
/// make this decision (a malformed default refuses everyone: fail closed).
fn policy_allows(
    context: &Context,
    record: &ApprovalRecord,
    approver: &Approver,
    decision: Decision,
) -> Result<(), String> {
    let defaults = context.settings.default_policy()?;
    let deployment = record.deployment.as_ref();
    let policy = deployment
        .and_then(|d| d.request.approval_policy.as_ref())
        .map_or_else(|| defaults.clone(), |own| own.over(&defaults));
    let initiator = deployment.and_then(|d| d.request.started_by.as_deref());
    policy
        .check(approver, decision == Decision::Approve, initiator)
        .map_err(|refusal| refusal.to_string())
}

async fn decide(
    context: &Context,
    id: &ApprovalId,
    decision: Decision,
    approver: &Approver,
) -> Result<DecisionOutcome, AwsError> {
    match context.ports.approvals.get(&id.key()).await? {
        Some(found) => decide_request(context, found, decision, approver).await,
        None => Ok(unknown()),
    }
}

/// Decides a stored approval request as `approver`, through every check a
/// click goes through: the link still open, the approval policy, the
/// decision taken once (`PENDING → DECIDING`), the automatic analysis on an
/// approval, traffic back on stable first on a rejection, then Step
/// Functions, then the record settled and the history written. The link and
/// the command line both decide here.
pub(crate) async fn decide_request(
    context: &Context,
    found: ApprovalRecord,
    decision: Decision,
    approver: &Approver,
) -> Result<DecisionOutcome, AwsError> {
    let key = found.key.clone();
    let now = context.now();
    let by = approver.identity.as_str();
    // Who may decide, before anything changes: a refused approver changes nothing.
    match found.status.link_state(found.expires_at, now) {
        state @ (LinkState::Decided | LinkState::Expired) => return Ok(closed(&found, state)),
        LinkState::Open | LinkState::BeingDecided => {}
    }
    if let Err(why) = policy_allows(context, &found, approver, decision) {
        tracing::warn!(service = %found.facts.service, step = found.facts.step, channel = approver.channel.as_str(), %why, "a decision was refused by the approval policy");
        if let Some(deployment) = &found.deployment {
            context
                .record(HistoryEvent::decision_refused(
                    deployment,
                    context.now_millis(),
                    by,
                    approver.channel.as_str(),
                    &why,
                ))
                .await;
        }
        return Ok(DecisionOutcome {
            status: 403,
            title: "Not allowed".into(),
            message: format!(
                "{why}. Nothing was changed: step {} of {} for {} still waits for a decision.",
                found.facts.step, found.facts.steps, found.facts.service
            ),
        });
    }
    let channel = approver.channel.as_str();
    let at = iso8601(now);
    let outcome = context
        .ports
        .approvals
        .decide(&key, decision, by, &at, now)
        .await?;
    let record = match outcome {
        DecideOutcome::Decided(record) => record,
        DecideOutcome::AlreadyDecided(record) => {
            let state = record.status.link_state(record.expires_at, now);
            return Ok(closed(&record, state));
        }
        DecideOutcome::Expired(record) => return Ok(closed(&record, LinkState::Expired)),
        DecideOutcome::Unknown => return Ok(unknown()),
    };
    let facts = &record.facts;
    // The automatic analysis has the last word on an approval: a step whose
    // numbers are over its limit is rejected by itself, traffic first.
    let analysis = match (decision, &record.deployment) {
        (Decision::Approve, Some(deployment)) => check_analysis(context, deployment).await.err(),
        _ => None,
    };
    if let (Some(failed), Some(deployment)) = (&analysis, &record.deployment) {
        let cause = format!("approved by {by} at {at}, then {failed}");
        stable_first(context, deployment, failed.error_type(), &cause).await;
        let callback = context
            .ports
            .callbacks
            .fail(&record.task_token, failed.error_type(), &cause)
            .await;
        tracing::warn!(service = %facts.service, step = facts.step, %by, passed_on = callback.is_ok(), "the automatic analysis rejected an approved step");
        settle_decision(
            context,
            &record,
            ApprovalStatus::Rejected,
            (
                &format!("the automatic analysis (approved by {by})"),
                "analysis",
            ),
            &callback,
        )
        .await;
        return Ok(match callback {
            Ok(()) => DecisionOutcome {
                status: 200,
                title: "Rejected by the automatic analysis".into(),
                message: format!("{failed}. {} Thank you.", facts.on_reject()),
            },
            Err(_) => DecisionOutcome {
                status: 503,
                title: "Your decision was not recorded".into(),
                message: format!(
                    "The automatic analysis rejects this step ({failed}), but it could not be passed on just now. Open the link again in a moment."
                ),
            },
        });
    }
    let callback = match decision {
        Decision::Approve => {
            let output = json!({"decision": "approve", "by": by, "at": at, "step": facts.step});
            context
                .ports
                .callbacks
                .succeed(&record.task_token, &output.to_string())
                .await
        }
        Decision::Reject => {
            let cause = format!(
                "rejected by {by} at {at} (step {} of {})",
                facts.step, facts.steps
            );
            // Traffic back on stable first; the state machine's rollback follows.
            if let Some(deployment) = &record.deployment {
                stable_first(context, deployment, "Rejected", &cause).await;
            }
            context
                .ports
                .callbacks
                .fail(&record.task_token, "Rejected", &cause)
                .await
        }
    };
    tracing::info!(service = %facts.service, step = facts.step, decision = decision.as_str(), %by, passed_on = callback.is_ok(), "decision");
    // Two-phase: the decision is only final once Step Functions has it.
    settle_decision(
        context,
        &record,
        ApprovalStatus::decided(decision),
        (by, channel),
        &callback,
    )
    .await;
    match callback {
        Ok(()) => Ok(DecisionOutcome {
            status: 200,
            title: match decision {
                Decision::Approve => "Approved".into(),
                Decision::Reject => "Rejected".into(),
            },
            message: match decision {
                Decision::Approve => format!("{} {}", facts.on_approve(), "Thank you."),
                Decision::Reject => format!("{} {}", facts.on_reject(), "Thank you."),
            },
        }),
        Err(AwsError::TaskNotWaiting(_)) => Ok(DecisionOutcome {
            status: 410,
            title: "This approval has expired".into(),
            message: format!(
                "Step {} of {} for {} is no longer waiting for a decision.",
                facts.step, facts.steps, facts.service
            ),
        }),
        Err(other) => {
            tracing::error!(error = %other, "the decision could not be passed on; the step waits again");
            Ok(DecisionOutcome {
                status: 503,
                title: "Your decision was not recorded".into(),
                message: format!(
                    "It could not be passed on to the deployment just now ({}). Nothing has changed: step {} of {} for {} is still waiting. Open the link again and choose once more.",
                    other.error_type(),
                    facts.step,
                    facts.steps,
                    facts.service
                ),
            })
        }
    }
}

async fn show(context: &Context, id: &ApprovalId) -> Result<Response<Body>, AwsError> {
    let Some(record) = context.ports.approvals.get(&id.key()).await? else {
        return Ok(html(
            404,
            message_page(
                "Unknown approval",
                "This link does not belong to any deployment.",
            ),
        ));
    };
    let state = record.status.link_state(record.expires_at, context.now());
    if state != LinkState::Open {
        let outcome = closed(&record, state);
        return Ok(html(
            outcome.status,
            message_page(&outcome.title, &outcome.message),
        ));
    }
    // The form posts back to this very URL.
    let evidence = match &record.deployment {
        Some(deployment) => Some(page_evidence(context, deployment).await),
        None => None,
    };
    Ok(html(
        200,
        confirmation_page(
            &record.facts,
            "",
            Some(&iso8601(record.expires_at)),
            evidence.as_ref(),
        ),
    ))
}

async fn slack(context: &Context, request: &Request) -> Result<Response<Body>, AwsError> {
    let unauthorised = |reason: &str| json_response(401, json!({"error": reason}));
    let Some(secret) = context.slack_signing_secret().await? else {
        return Ok(unauthorised("Slack is not configured"));
    };
    let body = body_bytes(request);
    if let Err(error) = verify_slack_request(
        &secret,
        header(request, "x-slack-request-timestamp"),
        header(request, "x-slack-signature"),
        body,
        context.now(),
    ) {
        tracing::warn!(%error, "refused a Slack request");
        return Ok(unauthorised(&error.to_string()));
    }
    let payload: Value = form_field(&String::from_utf8_lossy(body), "payload")
        .and_then(|p| serde_json::from_str(&p).ok())
        .unwrap_or(Value::Null);
    let value = payload
        .pointer("/actions/0/value")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let Some(SlackAction { decision, id }) = SlackAction::parse(value) else {
        return Ok(json_response(
            400,
            json!({"error": "not an ecs-canary action"}),
        ));
    };
    let user = payload
        .pointer("/user/username")
        .or_else(|| payload.pointer("/user/name"))
        .and_then(Value::as_str);
    let user_id = payload
        .pointer("/user/id")
        .and_then(Value::as_str)
        .unwrap_or("unknown");
    let team = payload
        .pointer("/team/id")
        .or_else(|| payload.pointer("/user/team_id"))
        .and_then(Value::as_str);
    let approver = Approver::slack(user_id, user, team);
    let outcome = decide(context, &id, decision, &approver).await?;
    let text = format!("*{}* — {}", outcome.title, outcome.message);
    // Slack wants an answer within 3 s: the message update gets at most
    // RESPONSE_URL_LIMIT, and goes only to Slack's own response URLs.
    match payload.get("response_url").and_then(Value::as_str) {
        Some(url) if is_slack_response_url(url) => {
            let update = slack_response_update(matches!(outcome.status, 403 | 503), &text);
            if let Err(error) = context
                .webhooks
                .post_json_within(url, &update, RESPONSE_URL_LIMIT)
                .await
            {
                tracing::warn!(%error, "could not update the Slack message");
            }
        }
        Some(_) => tracing::warn!(
            "ignored a response_url that is not Slack's ({SLACK_RESPONSE_URL_PREFIX}…)"
        ),
        None => {}
    }
    Ok(json_response(
        200,
        json!({"status": outcome.status, "text": text}),
    ))
}

/// What a request to the approval endpoint asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Route {
    /// `POST …/slack/interactions`.
    SlackInteraction,
    /// `GET`/`HEAD …/approvals/{id}`: the confirmation page.
    Show(ApprovalId),
    /// `POST …/approvals/{id}`: a decision from the page.
    Decide(ApprovalId),
    /// `…/approvals/<not an id>`.
    UnknownApproval,
    /// A path that exists, with a method it does not take.
    MethodNotAllowed {
        slack: bool,
    },
    NotFound,
}

impl Route {
    /// The route of a request, from its method and path alone (the function
    /// URL may put a prefix before `/approvals` or `/slack`).
    fn parse(method: &str, path: &str) -> Route {
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        if segments.ends_with(&["slack", "interactions"]) {
            return match method {
                "POST" => Route::SlackInteraction,
                _ => Route::MethodNotAllowed { slack: true },
            };
        }
        let Some(position) = segments.iter().rposition(|s| *s == "approvals") else {
            return Route::NotFound;
        };
        let id = segments
            .get(position + 1)
            .and_then(|id| ApprovalId::parse(id));
        match (id, method) {
            (None, _) => Route::UnknownApproval,
            (Some(id), "GET" | "HEAD") => Route::Show(id),
            (Some(id), "POST") => Route::Decide(id),
            (Some(_), _) => Route::MethodNotAllowed { slack: false },
        }
    }
}

/// Routes one request of the approval endpoint.
pub async fn approval_api(
    context: Arc<Context>,
    request: Request,
) -> Result<Response<Body>, lambda_http::Error> {
    let route = Route::parse(request.method().as_str(), request.uri().path());
    let result = match route {
        Route::SlackInteraction => slack(&context, &request).await,
        Route::MethodNotAllowed { slack: true } => {
            Ok(json_response(405, json!({"error": "POST only"})))
        }
        Route::Show(id) => show(&context, &id).await,
        Route::Decide(id) => match form_decision(&String::from_utf8_lossy(body_bytes(&request))) {
            Some(decision) => decide(&context, &id, decision, &Approver::email_link())
                .await
                .map(|o| html(o.status, message_page(&o.title, &o.message))),
            None => Ok(html(
                400,
                message_page("No decision", "Choose Approve or Reject on the page."),
            )),
        },
        Route::UnknownApproval => Ok(html(
            404,
            message_page(
                "Unknown approval",
                "This link does not belong to any deployment.",
            ),
        )),
        Route::MethodNotAllowed { slack: false } => Ok(html(
            405,
            message_page("Not allowed", "Open the link, then choose on the page."),
        )),
        Route::NotFound => Ok(html(404, message_page("Not found", "Nothing here."))),
    };
    Ok(result.unwrap_or_else(|error| {
        tracing::error!(%error, "approval-api failed");
        html(
            503,
            message_page("Try again", "The decision could not be completed just now; open the link again to see where it stands."),
        )
    }))
}

/// Runs approval-api as a Lambda function behind a function URL.
pub async fn run_http() -> Result<(), lambda_http::Error> {
    init_logging();
    let context = Arc::new(Context::from_env().await?);
    lambda_http::run(lambda_http::service_fn(move |request: Request| {
        let context = Arc::clone(&context);
        async move { approval_api(context, request).await }
    }))
    .await
}

#[cfg(test)]
mod tests {
    use super::Route;
    use ecs_canary_core::ApprovalId;

    #[test]
    fn routes_come_from_the_method_and_the_path() {
        let id = ApprovalId::from_random([9; 16]);
        let link = format!("/lambda-url/approval-api/approvals/{id}");
        assert_eq!(Route::parse("GET", &link), Route::Show(id.clone()));
        assert_eq!(
            Route::parse("HEAD", &format!("/approvals/{id}/")),
            Route::Show(id.clone())
        );
        assert_eq!(Route::parse("POST", &link), Route::Decide(id.clone()));
        assert_eq!(
            Route::parse("PUT", &link),
            Route::MethodNotAllowed { slack: false }
        );
        assert_eq!(
            Route::parse("GET", "/approvals/../../etc"),
            Route::UnknownApproval
        );
        assert_eq!(Route::parse("GET", "/approvals/"), Route::UnknownApproval);
        assert_eq!(
            Route::parse("POST", "/x/slack/interactions/"),
            Route::SlackInteraction
        );
        assert_eq!(
            Route::parse("GET", "/slack/interactions"),
            Route::MethodNotAllowed { slack: true }
        );
        assert_eq!(Route::parse("GET", "/"), Route::NotFound);
        assert_eq!(Route::parse("GET", "/slack"), Route::NotFound);
    }
}
