//! approval-api: the HTTPS endpoint (a Lambda function URL) behind the links.
//!
//! * `GET  …/approvals/{id}`: a confirmation page; it changes nothing.
//! * `POST …/approvals/{id}` (form `decision=approve|reject|hold`): decides,
//!   once (a hold: the step waits an hour longer, with the same link); a
//!   promotion's link takes `decision=revert` only.
//! * `POST …/slack/interactions`: Slack's buttons, signature verified.

use crate::{PortSet, Ports};
use std::sync::Arc;

use ecs_canary_aws::AwsError;
use ecs_canary_core::{
    confirmation_page, form_decision, form_field, is_slack_response_url, iso8601, message_page,
    revert_page, slack_response_update, verify_slack_request, ApprovalId, Approver, LinkState,
    SlackAction, SLACK_RESPONSE_URL_PREFIX,
};
use serde_json::{json, Value};

use crate::actions::decision::{decide_link, DecisionOutcome};
use crate::actions::evidence::{page_evidence, pause_page_evidence};
use crate::function_url::{UrlRequest, UrlResponse};
use crate::Context;

/// The ports this function holds (its binary links their SDKs only).
pub const PORTS: PortSet = Ports::HISTORY
    | Ports::APPROVALS
    | Ports::CALLBACKS
    | Ports::FUNCTIONS
    | Ports::METRICS
    | Ports::ALARMS
    | Ports::NATIVE
    | Ports::SECRETS
    | Ports::WEBHOOKS
    | Ports::LOCKS
    | Ports::RULES
    | Ports::ECS
    | Ports::STACKS
    | Ports::NOTIFICATIONS;

/// How long the Slack message update may take (Slack waits 3 s in all).
const RESPONSE_URL_LIMIT: std::time::Duration = std::time::Duration::from_millis(1500);

/// What the pages may load: nothing but their own inline styles and the
/// chart's inline SVG; no script, no frame, forms posted only back here.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; \
     img-src data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Every answer: never cached (a page shows one moment of a rollout and
/// carries a link), never sniffed, never framed, no referrer.
fn secured(status: u16, content_type: &str, body: String) -> UrlResponse {
    UrlResponse::new(status, content_type, body)
        .with_header("cache-control", "no-store")
        .with_header("x-content-type-options", "nosniff")
        .with_header("x-frame-options", "DENY")
        .with_header("referrer-policy", "no-referrer")
        .with_header("content-security-policy", CONTENT_SECURITY_POLICY)
}

fn html(status: u16, page: String) -> UrlResponse {
    secured(status, "text/html; charset=utf-8", page)
}

fn json_response(status: u16, body: Value) -> UrlResponse {
    secured(status, "application/json", body.to_string())
}

async fn show(context: &Context, id: &ApprovalId) -> Result<UrlResponse, AwsError> {
    let Some(record) = context.ports.approvals().get(&id.key()).await? else {
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
        let outcome = DecisionOutcome::closed(&record, state);
        return Ok(html(
            outcome.status,
            message_page(&outcome.title, &outcome.message),
        ));
    }
    if record.facts.revert {
        return Ok(html(
            200,
            revert_page(&record.facts, &iso8601(record.expires_at)),
        ));
    }
    // The form posts back to this very URL.
    let evidence = match (&record.deployment, &record.native) {
        (Some(deployment), _) => Some(page_evidence(context, deployment).await),
        (None, Some(pause)) => Some(pause_page_evidence(context, pause).await),
        (None, None) => None,
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

async fn slack(context: &Context, request: &UrlRequest) -> Result<UrlResponse, AwsError> {
    let unauthorised = |reason: &str| json_response(401, json!({"error": reason}));
    let Some(secret) = context.slack_signing_secret().await? else {
        return Ok(unauthorised("Slack is not configured"));
    };
    let body = request.body();
    if let Err(error) = verify_slack_request(
        &secret,
        request.header("x-slack-request-timestamp"),
        request.header("x-slack-signature"),
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
    let outcome = decide_link(context, &id, decision, &approver).await?;
    let text = format!("*{}* — {}", outcome.title, outcome.message);
    // Slack wants an answer within 3 s: the message update gets at most
    // RESPONSE_URL_LIMIT, and goes only to Slack's own response URLs.
    match payload.get("response_url").and_then(Value::as_str) {
        Some(url) if is_slack_response_url(url) => {
            // A hold leaves the message's buttons: the step still waits.
            let still_waiting =
                matches!(outcome.status, 403 | 503) || decision == ecs_canary_core::Decision::Hold;
            let update = slack_response_update(still_waiting, &text);
            if let Err(error) = context
                .ports
                .webhooks()
                .post_json(url, &update, RESPONSE_URL_LIMIT)
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
pub enum Route {
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
    pub fn parse(method: &str, path: &str) -> Route {
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
pub async fn approval_api(context: Arc<Context>, request: UrlRequest) -> UrlResponse {
    let context = context.only(PORTS);
    let route = Route::parse(request.method(), request.path());
    let result = match route {
        Route::SlackInteraction => slack(&context, &request).await,
        Route::MethodNotAllowed { slack: true } => {
            Ok(json_response(405, json!({"error": "POST only"})))
        }
        Route::Show(id) => show(&context, &id).await,
        Route::Decide(id) => match form_decision(&String::from_utf8_lossy(request.body())) {
            Some(decision) => decide_link(&context, &id, decision, &Approver::email_link())
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
    result.unwrap_or_else(|error| {
        // The page names the request, never the AWS error (it may name
        // roles and the account); the log has both.
        let correlation = request.reference();
        tracing::error!(%error, %correlation, "approval-api failed");
        html(
            503,
            message_page(
                "Try again",
                &format!(
                    "The decision could not be completed just now; open the link again to see where it stands. (Reference: {correlation})"
                ),
            ),
        )
    })
}
