//! Approvals: opaque link ids, decisions, Slack request signatures, and the
//! words of the email, the Slack message and the confirmation pages.
//!
//! The Step Functions task token never appears here: links carry an
//! [`ApprovalId`] (128 bits derived per step, stored only as its SHA-256,
//! [`ApprovalKey`]) and the token stays in the backend.

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::Sha256;
use thiserror::Error;

use crate::{evidence_html, ErrorKind, ErrorName, PageEvidence, TrafficSplit};

/// Where Slack's response URLs live; nothing else is ever posted to.
pub const SLACK_RESPONSE_URL_PREFIX: &str = "https://hooks.slack.com/";

/// Whether a `response_url` from an interaction may be posted to: only
/// Slack's own (a forged payload must not make the function call elsewhere).
pub fn is_slack_response_url(url: &str) -> bool {
    url.starts_with(SLACK_RESPONSE_URL_PREFIX) && !url.contains(['@', ' ', '\\'])
}

/// What goes back to a Slack message after a click: the outcome in place of
/// the buttons once the step is decided (or gone); while the step still
/// waits (the clicker was refused, or the decision could not be passed on)
/// only the clicker sees the answer, and the buttons stay for everyone else.
pub fn slack_response_update(still_waiting: bool, text: &str) -> Value {
    if still_waiting {
        json!({"response_type": "ephemeral", "replace_original": false, "text": text})
    } else {
        json!({"replace_original": true, "text": text})
    }
}

/// How far a Slack request's timestamp may be from now.
pub const SLACK_MAX_SKEW_SECONDS: u64 = 300;

/// The opaque id in an approval link: 128 bits as 32 hex digits
/// ([`ApprovalId::derive`]d per step; tests make them from fixed bytes).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ApprovalId(String);

impl ApprovalId {
    /// From 16 bytes of a cryptographically secure random source.
    pub fn from_random(bytes: [u8; 16]) -> ApprovalId {
        ApprovalId(bytes.iter().map(|b| format!("{b:02x}")).collect())
    }

    /// Accepts only what [`ApprovalId::from_random`] makes.
    pub fn parse(text: &str) -> Option<ApprovalId> {
        let valid = text.len() == 32
            && text
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        valid.then(|| ApprovalId(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The link of one step of one execution: 128 bits of
    /// HMAC-SHA256(`secret`, execution and step). The same step gets the
    /// same link again (a retried request re-sends it) without the link
    /// being stored anywhere; without the secret it cannot be guessed.
    pub fn derive(secret: &[u8], execution: &str, step: usize) -> ApprovalId {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes a key of any length");
        mac.update(format!("ecs-canary approval link\n{execution}\n{step}").as_bytes());
        let digest = mac.finalize().into_bytes();
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        ApprovalId::from_random(bytes)
    }

    /// What the approvals table knows the link by: its SHA-256, so that
    /// whoever reads the table cannot open or decide the link.
    pub fn key(&self) -> ApprovalKey {
        use sha2::Digest;
        let digest = Sha256::digest(self.0.as_bytes());
        ApprovalKey(digest.iter().map(|b| format!("{b:02x}")).collect())
    }
}

/// The SHA-256 of an [`ApprovalId`] as 64 hex digits: the approvals table's
/// key for a link.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ApprovalKey(String);

impl ApprovalKey {
    /// Accepts only what [`ApprovalId::key`] makes.
    pub fn parse(text: &str) -> Option<ApprovalKey> {
        let valid = text.len() == 64
            && text
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        valid.then(|| ApprovalKey(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ApprovalKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for ApprovalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a person decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    Approve,
    Reject,
    /// The step waits longer: its deadline moves (see [`hold_until`]).
    Hold,
    /// Back to the previous step's split (0 % before the first), to be
    /// decided again there with new links.
    Back,
    /// A promotion undone (the link in a promotion's notice).
    Revert,
}

impl Decision {
    pub fn parse(text: &str) -> Option<Decision> {
        match text {
            "approve" => Some(Decision::Approve),
            "reject" => Some(Decision::Reject),
            "hold" => Some(Decision::Hold),
            "back" => Some(Decision::Back),
            "revert" => Some(Decision::Revert),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Approve => "approve",
            Decision::Reject => "reject",
            Decision::Hold => "hold",
            Decision::Back => "back",
            Decision::Revert => "revert",
        }
    }
}

/// How long the page's and Slack's "Hold 1 h" button holds a step.
pub const HOLD_BUTTON_SECONDS: u64 = 3_600;

/// What a hold keeps free of the execution's year for what comes after the
/// held step (the rest of the rollout, the rollback).
pub const HOLD_RESERVE_SECONDS: u64 = 86_400;

/// Why a step cannot be held.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HoldRefused {
    #[error("a hold must be at least a second, not {seconds} s")]
    TooShort { seconds: u64 },
    #[error("holding until {until} would outlast what the execution can still wait (until {limit}: a Step Functions execution runs a year at most, and a day is kept for the rest of the rollout)")]
    TooLong { until: String, limit: String },
    #[error("{0}")]
    NotHoldable(String),
    #[error("{0}")]
    CannotGoBack(String),
}

impl crate::ErrorName for HoldRefused {
    fn error_kind(&self) -> crate::ErrorKind {
        match self {
            HoldRefused::TooShort { .. } => crate::ErrorKind::InvalidField,
            HoldRefused::TooLong { .. } => crate::ErrorKind::HoldTooLong,
            HoldRefused::NotHoldable(_) => crate::ErrorKind::NotHoldable,
            HoldRefused::CannotGoBack(_) => crate::ErrorKind::CannotGoBack,
        }
    }
}

/// The new deadline of a step that waits until `expires_at`, held for
/// `seconds` more at `now`: `seconds` after the later of the two, within
/// the execution's year (it started at `started_at`) less a day's reserve.
pub fn hold_until(
    expires_at: u64,
    seconds: u64,
    started_at: u64,
    now: u64,
) -> Result<u64, HoldRefused> {
    if seconds == 0 {
        return Err(HoldRefused::TooShort { seconds });
    }
    let until = expires_at.max(now).saturating_add(seconds);
    let limit = started_at + crate::EXECUTION_LIMIT_SECONDS - HOLD_RESERVE_SECONDS;
    if until > limit {
        return Err(HoldRefused::TooLong {
            until: crate::iso8601(until),
            limit: crate::iso8601(limit),
        });
    }
    Ok(until)
}

/// Where an approval request stands. A click is never lost: a decision goes
/// `Pending → Deciding → Approved/Rejected`, and back to `Pending` when it
/// could not be passed on to Step Functions (unless the step is gone:
/// `Expired`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ApprovalStatus {
    Pending,
    Deciding,
    Approved,
    Rejected,
    Expired,
    /// Sent back to the step before (its link decides no more).
    SentBack,
}

/// How long a decision may stay `Deciding` before another click may take it
/// over (the function that was deciding died).
pub const DECIDING_TAKEOVER_SECONDS: u64 = 30;

impl ApprovalStatus {
    pub const ALL: [ApprovalStatus; 6] = [
        ApprovalStatus::Pending,
        ApprovalStatus::Deciding,
        ApprovalStatus::Approved,
        ApprovalStatus::Rejected,
        ApprovalStatus::Expired,
        ApprovalStatus::SentBack,
    ];

    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalStatus::Pending => "PENDING",
            ApprovalStatus::Deciding => "DECIDING",
            ApprovalStatus::Approved => "APPROVED",
            ApprovalStatus::Rejected => "REJECTED",
            ApprovalStatus::Expired => "EXPIRED",
            ApprovalStatus::SentBack => "SENT BACK",
        }
    }

    pub fn parse(text: &str) -> Option<ApprovalStatus> {
        ApprovalStatus::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// The status once `decision` has reached Step Functions.
    pub fn decided(decision: Decision) -> ApprovalStatus {
        match decision {
            Decision::Approve => ApprovalStatus::Approved,
            Decision::Reject => ApprovalStatus::Rejected,
            // A held step waits again (request-approval re-arms its link).
            Decision::Hold => ApprovalStatus::Pending,
            Decision::Back => ApprovalStatus::SentBack,
            Decision::Revert => ApprovalStatus::Approved,
        }
    }

    /// What a link in this status shows at `now`: its HTTP status and
    /// whether it may still decide.
    pub fn link_state(self, expires_at: u64, now: u64) -> LinkState {
        match self {
            ApprovalStatus::Pending if now < expires_at => LinkState::Open,
            ApprovalStatus::Pending | ApprovalStatus::Expired => LinkState::Expired,
            ApprovalStatus::Deciding => LinkState::BeingDecided,
            ApprovalStatus::Approved | ApprovalStatus::Rejected | ApprovalStatus::SentBack => {
                LinkState::Decided
            }
        }
    }
}

/// What opening a link finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    /// The confirmation page (200).
    Open,
    /// A decision is being passed on right now (409).
    BeingDecided,
    /// Decided (409).
    Decided,
    /// No longer waiting for a decision (410).
    Expired,
}

impl LinkState {
    pub fn http_status(self) -> u16 {
        match self {
            LinkState::Open => 200,
            LinkState::BeingDecided | LinkState::Decided => 409,
            LinkState::Expired => 410,
        }
    }
}

/// A Slack button's value: the decision and the approval it decides
/// (`approve:<id>` / `reject:<id>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlackAction {
    pub decision: Decision,
    pub id: ApprovalId,
}

impl SlackAction {
    pub fn encode(&self) -> String {
        format!("{}:{}", self.decision.as_str(), self.id)
    }

    /// Only what [`SlackAction::encode`] makes.
    pub fn parse(value: &str) -> Option<SlackAction> {
        let (decision, id) = value.split_once(':')?;
        Some(SlackAction {
            decision: Decision::parse(decision)?,
            id: ApprovalId::parse(id)?,
        })
    }
}

/// The `decision` field of a form body (`application/x-www-form-urlencoded`).
pub fn form_decision(body: &str) -> Option<Decision> {
    form_field(body, "decision").and_then(|v| Decision::parse(&v))
}

/// One field of a form body, percent-decoded.
pub fn form_field(body: &str, name: &str) -> Option<String> {
    body.split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| percent_decode(value))
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 3 <= bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(byte) => {
                        out.push(byte);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Why a Slack request is not accepted.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SignatureError {
    #[error("the request has no X-Slack-Signature or X-Slack-Request-Timestamp")]
    Missing,
    #[error("the request timestamp is not a number")]
    BadTimestamp,
    #[error("the request was signed more than {SLACK_MAX_SKEW_SECONDS} s from now")]
    Stale,
    #[error("the signature does not match")]
    Mismatch,
}

impl ErrorName for SignatureError {
    fn error_kind(&self) -> ErrorKind {
        ErrorKind::InvalidSlackSignature
    }
}

/// `v0=` + hex HMAC-SHA256 of `v0:{timestamp}:{body}` with the signing secret.
pub fn slack_signature(secret: &str, timestamp: &str, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(b"v0:");
    mac.update(timestamp.as_bytes());
    mac.update(b":");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    format!(
        "v0={}",
        digest
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    )
}

/// Verifies a Slack request as Slack documents it; `now` is seconds since the epoch.
pub fn verify_slack_request(
    secret: &str,
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: u64,
) -> Result<(), SignatureError> {
    let (timestamp, signature) = match (timestamp, signature) {
        (Some(t), Some(s)) => (t, s),
        _ => return Err(SignatureError::Missing),
    };
    let signed_at: u64 = timestamp
        .trim()
        .parse()
        .map_err(|_| SignatureError::BadTimestamp)?;
    if signed_at.abs_diff(now) > SLACK_MAX_SKEW_SECONDS {
        return Err(SignatureError::Stale);
    }
    let expected = slack_signature(secret, timestamp, body);
    // Compare in constant time.
    let (a, b) = (expected.as_bytes(), signature.trim().as_bytes());
    let same = a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0;
    if same {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// The facts a person needs to decide on one step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalFacts {
    pub cluster: String,
    pub service: String,
    /// What is being deployed: the image, or the environment change.
    pub release: String,
    /// What the stable and the new version are called: their colours, or
    /// (ECS's own deployments) their revisions.
    pub stable: String,
    pub candidate: String,
    /// 1-based step number and the number of steps.
    pub step: usize,
    pub steps: usize,
    pub split: TrafficSplit,
    /// The candidate percentage approval moves to; `None`: promotion.
    pub next_percent: Option<u8>,
    /// What the load balancer said when the request was sent (the step
    /// before), or why it could not be read; the page shows live numbers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<String>,
    /// The whole plan: the candidate percentage of every step.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub plan: Vec<u8>,
    /// When and by what the deployment was started ("2026-11-29T17:05:00Z,
    /// an ECR push of repo:2.0 (tag 2.0)").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started: Option<String>,
    /// The step may be held (a step of ecs-canary's own rollout): the page
    /// and Slack offer "Hold 1 h".
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub holdable: bool,
    /// Sent back before the first step: 0 % on the new version, which
    /// still runs (not the gate before the start).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub back_at_zero: bool,
    /// Not a step: the link of a promotion's notice, which reverts it
    /// (`stable` is the colour promoted, `candidate` the one before).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub revert: bool,
}

/// Where a step stands in the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrackState {
    Done,
    Current,
    Next,
}

impl TrackState {
    fn as_str(self) -> &'static str {
        match self {
            TrackState::Done => "done",
            TrackState::Current => "current",
            TrackState::Next => "next",
        }
    }
}

impl ApprovalFacts {
    /// The gate before anything runs (policy `approveBeforeStart`): step 0.
    pub fn is_before_start(&self) -> bool {
        self.step == 0 && !self.back_at_zero
    }

    /// Which gate this is, for people: "step 2 of 3", or the start.
    pub fn step_label(&self) -> String {
        if self.back_at_zero {
            format!(
                "0 % (sent back before step 1 of {}; the new version still runs)",
                self.steps
            )
        } else if self.is_before_start() {
            format!("the start (nothing runs yet; {} steps)", self.steps)
        } else {
            format!("step {} of {}", self.step, self.steps)
        }
    }

    /// The same, short (Slack): "step 2/3", or the start.
    pub fn step_short(&self) -> String {
        if self.back_at_zero {
            format!("0 % (back before step 1/{})", self.steps)
        } else if self.is_before_start() {
            "the start (nothing runs yet)".into()
        } else {
            format!("step {}/{}", self.step, self.steps)
        }
    }

    /// The plan as a track: every step ("10 %"), then "promote", each done,
    /// current (the step waiting for this decision) or next.
    pub fn track(&self) -> Vec<(String, TrackState)> {
        let mut track: Vec<(String, TrackState)> = self
            .plan
            .iter()
            .enumerate()
            .map(|(index, percent)| {
                let state = match (index + 1).cmp(&self.step) {
                    std::cmp::Ordering::Less => TrackState::Done,
                    std::cmp::Ordering::Equal => TrackState::Current,
                    std::cmp::Ordering::Greater => TrackState::Next,
                };
                (format!("{percent} %"), state)
            })
            .collect();
        track.push(("promote".into(), TrackState::Next));
        if self.is_before_start() {
            track.insert(0, ("start".into(), TrackState::Current));
        }
        track
    }

    /// The track in one line: "10 % ✓ → 50 % (now) → promote".
    pub fn track_text(&self) -> String {
        self.track()
            .iter()
            .map(|(label, state)| match state {
                TrackState::Done => format!("{label} ✓"),
                TrackState::Current => format!("{label} (now)"),
                TrackState::Next => label.clone(),
            })
            .collect::<Vec<_>>()
            .join(" → ")
    }

    fn share(&self) -> String {
        format!("{:.0} %", self.split.candidate_share())
    }

    /// What approving does, in words.
    pub fn on_approve(&self) -> String {
        if self.is_before_start() {
            return format!(
                "Approve: the new version ({}) is deployed and, once it runs, gets {} % of traffic.",
                self.candidate,
                self.next_percent.unwrap_or_default()
            );
        }
        match self.next_percent {
            Some(next) => format!("Approve: {next} % of traffic goes to the new version ({}).", self.candidate),
            None => format!(
                "Approve: promote — 100 % of traffic goes to the new version ({}), which becomes stable.",
                self.candidate
            ),
        }
    }

    /// What rejecting does, in words.
    pub fn on_reject(&self) -> String {
        format!(
            "Reject: roll back — 100 % of traffic returns to the stable version ({}).",
            self.stable
        )
    }

    pub fn email_subject(&self) -> String {
        let subject = if self.is_before_start() {
            // The same shape as every step's (mail rules sort on it).
            format!(
                "Approve step 0/{} of {}? (the start: nothing runs yet)",
                self.steps, self.service
            )
        } else {
            format!(
                "Approve step {}/{} of {}? ({} on the new version)",
                self.step,
                self.steps,
                self.service,
                self.share()
            )
        };
        // SNS subjects: at most 100 characters.
        subject.chars().take(100).collect()
    }

    pub fn email_body(&self, link: &str) -> String {
        format!(
            "A canary deployment is waiting for your decision.\n\n\
             Service:   {service} (cluster {cluster})\n\
             Release:   {release}\n\
             Step:      {step}: {track}\n\
             Traffic:   {stable_weight} stable ({stable}) / {candidate_weight} new ({candidate}) — {share} on the new version\n\
             Evidence:  {evidence}\n\
             Started:   {started}\n\n\
             {approve}\n{reject}\n\n\
             Review and decide here (the page asks you to confirm):\n{link}\n",
            service = self.service,
            cluster = self.cluster,
            release = self.release,
            step = self.step_label(),
            stable_weight = self.split.stable_weight(),
            candidate_weight = self.split.candidate_weight(),
            stable = self.stable,
            candidate = self.candidate,
            share = self.share(),
            approve = self.on_approve(),
            reject = self.on_reject(),
            evidence = self.evidence_text(),
            track = self.track_text(),
            started = self.started.as_deref().unwrap_or("unknown"),
        )
    }

    /// The evidence line of the email and the Slack message.
    pub fn evidence_text(&self) -> String {
        self.evidence.clone().unwrap_or_else(|| {
            "no traffic has reached the new version yet; the page shows the numbers as they come in"
                .to_string()
        })
    }

    /// A Slack Block Kit message with Approve and Reject buttons, and the
    /// link when there is one to give (none when links may not decide: a
    /// link is all the authority an email gives).
    /// The email of a step held until `until` by `by`: the same link, the
    /// new deadline first (SNS subjects: 100 characters at most).
    pub fn held_email(&self, link: &str, until: u64, by: &str) -> (String, String) {
        let subject = format!(
            "Held until {}: {}",
            crate::iso8601(until),
            self.email_subject()
        );
        let body = format!(
            "Held:      {} waits until {} (held by {by}); the link below still decides it.\n\n{}",
            self.step_label(),
            crate::iso8601(until),
            self.email_body(link)
        );
        (crate::notice::truncate(subject), body)
    }

    pub fn slack_message(&self, id: &ApprovalId, link: Option<&str>) -> Value {
        let e = slack_escape;
        let text = format!(
            "*{}* {}: {} on the new version ({})",
            e(&self.service),
            e(&self.step_short()),
            self.share(),
            e(&self.release)
        );
        let mut buttons = vec![
            json!({"type": "button", "style": "primary", "action_id": "approve",
             "text": {"type": "plain_text", "text": "Approve"},
             "value": SlackAction { decision: Decision::Approve, id: id.clone() }.encode()}),
            json!({"type": "button", "style": "danger", "action_id": "reject",
             "text": {"type": "plain_text", "text": "Reject"},
             "value": SlackAction { decision: Decision::Reject, id: id.clone() }.encode()}),
        ];
        if self.holdable {
            buttons.push(json!({"type": "button", "action_id": "hold",
                 "text": {"type": "plain_text", "text": "Hold 1 h"},
                 "value": SlackAction { decision: Decision::Hold, id: id.clone() }.encode()}));
        }
        if let Some(link) = link {
            buttons.push(json!({"type": "button", "action_id": "open", "url": link,
                 "text": {"type": "plain_text", "text": "Open"}}));
        }
        json!({
            "text": format!("Approval needed: {} {}", e(&self.service), e(&self.step_short())),
            "blocks": [
                {"type": "section", "text": {"type": "mrkdwn", "text": text}},
                {"type": "section", "fields": [
                    {"type": "mrkdwn", "text": format!("*Cluster*\n{}", e(&self.cluster))},
                    {"type": "mrkdwn", "text": format!("*Split*\n{} stable ({}) / {} new ({})",
                        self.split.stable_weight(), self.stable, self.split.candidate_weight(), self.candidate)},
                ]},
                {"type": "section", "fields": [
                    {"type": "mrkdwn", "text": format!("*Plan*\n{}", e(&self.track_text()))},
                    {"type": "mrkdwn", "text": format!("*Started*\n{}", e(self.started.as_deref().unwrap_or("unknown")))},
                ]},
                {"type": "section", "text": {"type": "mrkdwn", "text": format!("*Evidence*\n{}", e(&self.evidence_text()))}},
                {"type": "context", "elements": [
                    {"type": "mrkdwn", "text": format!("{} {}", self.on_approve(), self.on_reject())}
                ]},
                {"type": "actions", "block_id": "ecs-canary-approval", "elements": buttons}
            ]
        })
    }
}

/// `&`, `<` and `>` escaped as Slack's mrkdwn requires, so that a value
/// (an image name, say) can never become a link or a mention.
pub fn slack_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// `&`, `<`, `>`, `"` and `'` made safe for HTML text and attributes.
pub fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

/// The pages' style: readable on a phone, no external asset.
const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:42rem;margin:1.5rem auto;padding:0 1rem;color:#0f172a;line-height:1.4}\
h1{font-size:1.4rem;margin:.2rem 0 .8rem}h2{font-size:1.1rem;margin:1.2rem 0 .4rem}\
dl{display:grid;grid-template-columns:max-content 1fr;gap:.3rem .8rem}dt{font-weight:600}dd{margin:0;overflow-wrap:anywhere}\
.track{display:flex;flex-wrap:wrap;gap:.3rem;list-style:none;padding:0;margin:.8rem 0}\
.track li{padding:.25rem .6rem;border-radius:1rem;border:1px solid #94a3b8;font-size:.9rem}\
.track .done{background:#e2e8f0;color:#475569}.track .done::before{content:'\\2713  '}\
.track .current{background:#0f172a;color:#fff;font-weight:700}.track .next{color:#475569;border-style:dashed}\
.bar{display:flex;height:2rem;border-radius:.4rem;overflow:hidden;border:1px solid #94a3b8;margin:.4rem 0 1rem}\
.bar span{display:flex;align-items:center;justify-content:center;color:#fff;font-size:.85rem;white-space:nowrap;min-width:5.5rem;padding:0 .3rem}\
.Blue{background:#1d4ed8}.Green{background:#15803d}\
figure{margin:.5rem 0}svg{width:100%;height:auto}#alarms .firing{color:#b91c1c;font-weight:700}\
.choices{display:flex;flex-wrap:wrap;gap:1.5rem;align-items:flex-start;margin-top:1.5rem}\
.choice{flex:1 1 14rem}.choice p{margin:.3rem 0 0;font-size:.9rem;color:#334155}\
button{font-size:1.05rem;padding:.7rem 1.2rem;border-radius:.4rem;cursor:pointer;width:100%}\
#approve{background:#15803d;color:#fff;border:2px solid #15803d;font-weight:700}\
#reject{background:#fff;color:#b91c1c;border:2px solid #b91c1c}";

fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"robots\" content=\"noindex\"><title>{title}</title>\
         <style>{STYLE}</style>\
         </head><body><h1>{title}</h1>\n{body}\n</body></html>\n",
        title = html_escape(title)
    )
}

/// The split as a bar in the two colours.
fn split_bar(facts: &ApprovalFacts) -> String {
    let (stable, new) = (
        100.0 - facts.split.candidate_share(),
        facts.split.candidate_share(),
    );
    format!(
        "<div id=\"split-bar\" class=\"bar\" role=\"img\" aria-label=\"{stable:.0} % on the stable version ({sc}), {new:.0} % on the new version ({cc})\">\
         <span class=\"{sc}\" style=\"flex:{stable:.2} 1 0\">{sc} {stable:.0} %</span>\
         <span class=\"{cc}\" style=\"flex:{new:.2} 1 0\">{cc} {new:.0} %</span></div>",
        sc = facts.stable,
        cc = facts.candidate,
    )
}

/// The plan as a track.
fn track_html(facts: &ApprovalFacts) -> String {
    let items: String = facts
        .track()
        .iter()
        .map(|(label, state)| {
            let current = if *state == TrackState::Current {
                " aria-current=\"step\""
            } else {
                ""
            };
            format!(
                "<li class=\"{}\"{current}>{}</li>",
                state.as_str(),
                html_escape(label)
            )
        })
        .collect();
    format!("<ol id=\"track\" class=\"track\" aria-label=\"the plan\">{items}</ol>")
}

/// The page of a promotion's revert link: what is stable, what it goes
/// back to, and one button that POSTs `decision=revert`.
pub fn revert_page(facts: &ApprovalFacts, valid_until: &str) -> String {
    let e = html_escape;
    let body = format!(
        "<dl>\
         <dt>Service</dt><dd id=\"service\">{service} (cluster {cluster})</dd>\
         <dt>Promoted</dt><dd id=\"release\">{release} on {stable}</dd>\
         <dt>Link valid</dt><dd id=\"valid-until\">until {until}</dd>\
         </dl>\
         <form method=\"post\" action=\"\" class=\"choices\">\
         <div class=\"choice\"><button type=\"submit\" name=\"decision\" value=\"revert\" id=\"revert\">Revert: 100 % back on {previous}</button>\
         <p>All traffic goes back on {previous}, which still runs the release that was stable before, in one change of the rule; {previous} becomes stable again. Refused, with nothing changed, if {previous} no longer runs that release.</p></div>\
         </form>",
        service = e(&facts.service),
        cluster = e(&facts.cluster),
        release = e(&facts.release),
        stable = e(&facts.stable),
        previous = e(&facts.candidate),
        until = e(valid_until),
    );
    page(
        &format!("Revert the promotion of {}?", facts.service),
        &body,
    )
}

/// The confirmation page a link opens: where the rollout is (the plan as a
/// track, the split as a bar), what ships, how long the link is valid, the
/// evidence, and two distinct buttons that POST — Approve, the primary one,
/// and Reject, apart from it and drawn in outline.
pub fn confirmation_page(
    facts: &ApprovalFacts,
    form_action: &str,
    valid_until: Option<&str>,
    evidence: Option<&PageEvidence>,
) -> String {
    let e = html_escape;
    let validity = match valid_until {
        Some(until) => format!(
            "<dt>Link valid</dt><dd id=\"valid-until\">until {} — without a decision by then, the deployment rolls back</dd>",
            e(until)
        ),
        None => String::new(),
    };
    let approve_label = match facts.next_percent {
        Some(next) => format!("Approve: {next} % to the new version"),
        None => "Approve: promote".to_string(),
    };
    let body = format!(
        "{track}{bar}\
         <dl>\
         <dt>Service</dt><dd id=\"service\">{service} (cluster {cluster})</dd>\
         <dt>Release</dt><dd id=\"release\">{release}</dd>\
         <dt>Step</dt><dd id=\"step\">{step}</dd>\
         <dt>Traffic now</dt><dd id=\"split\">{sw} stable ({stable}) / {cw} new ({candidate})</dd>\
         <dt>Started</dt><dd id=\"started\">{started}</dd>{validity}\
         </dl>\
         {evidence}\
         <form method=\"post\" action=\"{action}\" class=\"choices\">\
         <div class=\"choice\"><button type=\"submit\" name=\"decision\" value=\"approve\" id=\"approve\">{approve_label}</button><p>{approve}</p></div>\
         <div class=\"choice\"><button type=\"submit\" name=\"decision\" value=\"reject\" id=\"reject\">Reject and roll back</button><p>{reject}</p></div>\
         {hold}\
         </form>",
        track = track_html(facts),
        bar = split_bar(facts),
        service = e(&facts.service),
        cluster = e(&facts.cluster),
        release = e(&facts.release),
        step = e(&facts.step_label()),
        sw = facts.split.stable_weight(),
        stable = facts.stable,
        cw = facts.split.candidate_weight(),
        candidate = facts.candidate,
        started = e(facts.started.as_deref().unwrap_or("unknown")),
        approve = e(&facts.on_approve()),
        reject = e(&facts.on_reject()),
        approve_label = e(&approve_label),
        action = e(form_action),
        evidence = evidence.map(evidence_html).unwrap_or_default(),
        hold = if facts.holdable {
            "<div class=\"choice\"><button type=\"submit\" name=\"decision\" value=\"hold\" id=\"hold\">Hold 1 h</button><p>Nothing moves; this step waits an hour longer, with this link.</p></div>"
        } else {
            ""
        },
    );
    page(
        &format!("Approve {} for {}?", facts.step_label(), facts.service),
        &body,
    )
}

/// The page after a decision, or for a link that can no longer decide.
pub fn message_page(title: &str, message: &str) -> String {
    page(
        title,
        &format!("<p id=\"message\">{}</p>", html_escape(message)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn facts(next: Option<u8>) -> ApprovalFacts {
        ApprovalFacts {
            cluster: "mattctest".into(),
            service: "myservice".into(),
            release: "APPVERSION=1.0.1".into(),
            stable: "Blue".into(),
            candidate: "Green".into(),
            step: 1,
            steps: 2,
            split: TrafficSplit::candidate_percent(10).unwrap(),
            next_percent: next,
            evidence: None,
            plan: vec![10, 50],
            started: Some("2026-11-29T17:05:00Z, execution deploy-1".into()),
            holdable: true,
            back_at_zero: false,
            revert: false,
        }
    }

    #[test]
    fn approval_statuses_round_trip_and_say_what_a_link_does() {
        for status in ApprovalStatus::ALL {
            assert_eq!(ApprovalStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(ApprovalStatus::parse("pending"), None);
        let (expires, before, after) = (100, 99, 100);
        for (status, now, state, http) in [
            (ApprovalStatus::Pending, before, LinkState::Open, 200),
            (ApprovalStatus::Pending, after, LinkState::Expired, 410),
            (
                ApprovalStatus::Deciding,
                before,
                LinkState::BeingDecided,
                409,
            ),
            (ApprovalStatus::Approved, after, LinkState::Decided, 409),
            (ApprovalStatus::Rejected, before, LinkState::Decided, 409),
            (ApprovalStatus::Expired, before, LinkState::Expired, 410),
        ] {
            assert_eq!(
                status.link_state(expires, now),
                state,
                "{status:?} at {now}"
            );
            assert_eq!(state.http_status(), http);
        }
        assert_eq!(LinkState::Decided.http_status(), 409);
        assert_eq!(LinkState::Open.http_status(), 200);
        assert_eq!(
            ApprovalStatus::decided(Decision::Reject),
            ApprovalStatus::Rejected
        );
    }

    #[test]
    fn slack_actions_encode_and_parse_only_themselves() {
        let id = ApprovalId::from_random([7; 16]);
        for decision in [Decision::Approve, Decision::Reject] {
            let action = SlackAction {
                decision,
                id: id.clone(),
            };
            assert_eq!(SlackAction::parse(&action.encode()), Some(action));
        }
        let message = facts(None)
            .slack_message(&id, Some("https://x/approvals/1"))
            .to_string();
        assert!(message.contains(&format!("approve:{id}")), "{message}");
        assert!(message.contains("https://x/approvals/1"), "{message}");
        // Where links may not decide, the message carries none: the buttons only.
        let without = facts(None).slack_message(&id, None).to_string();
        assert!(
            !without.contains("approvals/") && !without.contains("\"url\""),
            "{without}"
        );
        assert!(without.contains(&format!("reject:{id}")), "{without}");
        for bad in [
            "",
            "approve",
            "approve:",
            "ok:0707",
            "reject:../x",
            &format!("maybe:{id}"),
        ] {
            assert_eq!(SlackAction::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn only_slack_response_urls_are_posted_to() {
        assert!(is_slack_response_url(
            "https://hooks.slack.com/actions/T1/1/abc"
        ));
        for other in [
            "http://hooks.slack.com/actions/T1/1/abc",
            "https://hooks.slack.com.evil.example/x",
            "https://evil.example/?https://hooks.slack.com/",
            "https://hooks.slack.com@evil.example/",
            "http://127.0.0.1:9999/actions",
            "",
        ] {
            assert!(!is_slack_response_url(other), "{other}");
        }
    }

    #[test]
    fn slack_values_cannot_become_links() {
        let mut evil = facts(Some(50));
        evil.release = "<https://evil.example|Approve> & more".into();
        let message = evil.slack_message(
            &ApprovalId::from_random([1; 16]),
            Some("https://x/approvals/1"),
        );
        let text = message.to_string();
        assert!(!text.contains("<https://evil.example"), "{text}");
        assert!(
            text.contains("&lt;https://evil.example|Approve&gt; &amp; more"),
            "{text}"
        );
    }

    #[test]
    fn ids_are_128_bit_hex_and_parse_strictly() {
        let id = ApprovalId::from_random([0xab; 16]);
        assert_eq!(id.as_str().len(), 32);
        assert_eq!(ApprovalId::parse(id.as_str()), Some(id));
        assert_eq!(ApprovalId::parse("ABABABABABABABABABABABABABABABAB"), None);
        assert_eq!(ApprovalId::parse("../../etc/passwd"), None);
        assert_eq!(ApprovalId::parse(""), None);
    }

    #[test]
    fn decisions_come_from_the_form() {
        assert_eq!(form_decision("decision=approve"), Some(Decision::Approve));
        assert_eq!(form_decision("decision=hold"), Some(Decision::Hold));
        assert_eq!(form_decision("x=1&decision=reject"), Some(Decision::Reject));
        assert_eq!(form_decision("decision=maybe"), None);
        assert_eq!(form_decision(""), None);
        assert_eq!(
            form_field("payload=%7B%22a%22%3A+1%7D", "payload").as_deref(),
            Some("{\"a\": 1}")
        );
    }

    #[test]
    fn slack_signatures_follow_slacks_documented_example() {
        // The example from Slack's "Verifying requests from Slack" guide.
        let secret = "8f742231b10e8888abcd99yyyzzz85a5";
        let timestamp = "1531420618";
        let body = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
        let signature = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";
        assert_eq!(slack_signature(secret, timestamp, body), signature);
        let now = 1_531_420_618 + 60;
        assert_eq!(
            verify_slack_request(secret, Some(timestamp), Some(signature), body, now),
            Ok(())
        );
        assert_eq!(
            verify_slack_request("other", Some(timestamp), Some(signature), body, now),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_slack_request(
                secret,
                Some(timestamp),
                Some(signature),
                body,
                1_531_420_618 + 360
            ),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify_slack_request(secret, None, Some(signature), body, now),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify_slack_request(secret, Some("soon"), Some(signature), body, now),
            Err(SignatureError::BadTimestamp)
        );
    }

    #[test]
    fn messages_say_what_each_choice_does() {
        let step = facts(Some(50));
        assert!(step.on_approve().contains("50 %"));
        assert!(step.on_reject().contains("Blue"));
        assert!(facts(None).on_approve().contains("promote"));
        let body = step.email_body("https://example.test/approvals/x");
        assert!(
            body.contains("myservice") && body.contains("1 of 2") && body.contains("90 stable")
        );
        assert!(body.contains("https://example.test/approvals/x"));
        assert!(step.email_subject().len() <= 100);
        let slack = step.slack_message(
            &ApprovalId::from_random([1; 16]),
            Some("https://example.test/a"),
        );
        let blocks = slack["blocks"].as_array().unwrap();
        let actions = &blocks.iter().find(|b| b["type"] == "actions").unwrap()["elements"];
        assert!(slack
            .to_string()
            .contains("*Evidence*\\nno traffic has reached the new version yet"));
        assert_eq!(
            actions[0]["value"],
            "approve:01010101010101010101010101010101"
        );
        assert_eq!(
            actions[1]["value"],
            "reject:01010101010101010101010101010101"
        );
        assert_eq!(actions[2]["value"], "hold:01010101010101010101010101010101");
        assert_eq!(actions[3]["url"], "https://example.test/a");
    }

    #[test]
    fn the_page_shows_the_track_the_bar_the_validity_and_two_distinct_choices() {
        let mut second = facts(None);
        second.step = 2;
        second.split = TrafficSplit::candidate_percent(50).unwrap();
        assert_eq!(
            second.track(),
            [
                ("10 %".to_string(), TrackState::Done),
                ("50 %".to_string(), TrackState::Current),
                ("promote".to_string(), TrackState::Next)
            ]
        );
        assert_eq!(second.track_text(), "10 % ✓ → 50 % (now) → promote");
        let page = confirmation_page(&second, "", Some("2026-11-30T17:05:00Z"), None);
        assert!(page.contains("<ol id=\"track\""), "{page}");
        assert!(page.contains("<li class=\"done\">10 %</li><li class=\"current\" aria-current=\"step\">50 %</li><li class=\"next\">promote</li>"), "{page}");
        assert!(page.contains("<div id=\"split-bar\""));
        assert!(
            page.contains("<span class=\"Blue\" style=\"flex:50.00 1 0\">Blue 50 %</span>"),
            "{page}"
        );
        assert!(page.contains(
            "until 2026-11-30T17:05:00Z — without a decision by then, the deployment rolls back"
        ));
        assert!(
            page.contains("id=\"approve\">Approve: promote</button>"),
            "{page}"
        );
        assert!(page.contains("id=\"reject\">Reject and roll back</button>"));
        assert!(page.contains("2026-11-29T17:05:00Z, execution deploy-1"));
        assert!(
            !page.contains("<script") && !page.contains("http://") && !page.contains("https://")
        );
        // The email and Slack carry the same facts.
        let body = second.email_body("https://example.test/a");
        assert!(
            body.contains("Step:      step 2 of 2: 10 % ✓ → 50 % (now) → promote"),
            "{body}"
        );
        assert!(body.contains("Started:   2026-11-29T17:05:00Z, execution deploy-1"));
        // The gate before the start: nothing runs yet, approving moves to the first step.
        let start = ApprovalFacts {
            step: 0,
            next_percent: Some(10),
            split: TrafficSplit::all_stable(),
            ..second.clone()
        };
        assert_eq!(start.track_text(), "start (now) → 10 % → 50 % → promote");
        assert_eq!(
            start.email_subject(),
            "Approve step 0/2 of myservice? (the start: nothing runs yet)"
        );
        assert!(
            start
                .on_approve()
                .contains("is deployed and, once it runs, gets 10 %"),
            "{}",
            start.on_approve()
        );
        assert!(start
            .email_body("https://example.test/a")
            .contains("Step:      the start (nothing runs yet; 2 steps)"));
        let slack = second
            .slack_message(
                &ApprovalId::from_random([1; 16]),
                Some("https://example.test/a"),
            )
            .to_string();
        assert!(
            slack.contains("*Plan*\\n10 % ✓ → 50 % (now) → promote"),
            "{slack}"
        );
    }

    #[test]
    fn pages_escape_what_they_show() {
        let mut hostile = facts(Some(50));
        hostile.release = "<script>alert(1)</script>".into();
        let page = confirmation_page(&hostile, "/approvals/x", None, None);
        assert!(!page.contains("<script>alert"));
        assert!(page.contains("&lt;script&gt;"));
        assert!(page.contains("method=\"post\""));
        assert!(page.contains("value=\"approve\"") && page.contains("value=\"reject\""));
    }

    proptest! {
        #[test]
        fn a_signature_verifies_only_for_its_own_body(secret in "[a-z0-9]{8,32}", body in proptest::collection::vec(any::<u8>(), 0..200), other in proptest::collection::vec(any::<u8>(), 0..200), now in 1_000_000u64..2_000_000_000) {
            let timestamp = now.to_string();
            let signature = slack_signature(&secret, &timestamp, &body);
            prop_assert_eq!(verify_slack_request(&secret, Some(&timestamp), Some(&signature), &body, now), Ok(()));
            if other != body {
                prop_assert_eq!(verify_slack_request(&secret, Some(&timestamp), Some(&signature), &other, now), Err(SignatureError::Mismatch));
            }
        }

        #[test]
        fn escaped_text_has_no_markup(text in ".*") {
            let escaped = html_escape(&text);
            prop_assert!(!escaped.contains('<') && !escaped.contains('>') && !escaped.contains('"'));
        }
    }

    #[test]
    fn links_are_derived_per_step_and_stored_only_as_their_hash() {
        let exec = "arn:aws:states:us-east-1:1:execution:sm:run-1";
        let one = ApprovalId::derive(b"secret", exec, 0);
        assert_eq!(one, ApprovalId::derive(b"secret", exec, 0));
        assert_ne!(one, ApprovalId::derive(b"secret", exec, 1));
        assert_ne!(one, ApprovalId::derive(b"other", exec, 0));
        assert_eq!(ApprovalId::parse(one.as_str()), Some(one.clone()));
        let key = one.key();
        assert_eq!(ApprovalKey::parse(key.as_str()), Some(key.clone()));
        assert!(!key.as_str().contains(one.as_str()));
        assert_eq!(ApprovalId::parse(key.as_str()), None);
        // SHA-256 of the text of the id.
        assert_eq!(
            ApprovalId::from_random([0; 16]).key().as_str(),
            "84e0c0eafaa95a34c293f278ac52e45ce537bab5e752a00e6959a13ae103b65a"
        );
    }

    #[test]
    fn a_click_that_leaves_the_step_waiting_keeps_the_buttons_for_everyone() {
        let refused = slack_response_update(true, "*Not allowed*");
        assert_eq!(refused["replace_original"], json!(false));
        assert_eq!(refused["response_type"], json!("ephemeral"));
        let decided = slack_response_update(false, "*Approved*");
        assert_eq!(decided["replace_original"], json!(true));
        assert!(decided.get("response_type").is_none());
    }
}

#[cfg(test)]
mod hold_tests {
    use super::*;
    use crate::{ErrorName, EXECUTION_LIMIT_SECONDS};

    const START: u64 = 1_800_000_000;

    #[test]
    fn a_hold_moves_the_deadline_from_the_later_of_it_and_now() {
        // Waiting until START + 600; held an hour at START + 60.
        assert_eq!(
            hold_until(START + 600, 3_600, START, START + 60),
            Ok(START + 4_200)
        );
        // A deadline already past (the link still open at the edge): from now.
        assert_eq!(
            hold_until(START + 600, 3_600, START, START + 700),
            Ok(START + 4_300)
        );
    }

    #[test]
    fn a_hold_stays_within_the_executions_year_and_holds_at_all() {
        let limit = START + EXECUTION_LIMIT_SECONDS - HOLD_RESERVE_SECONDS;
        assert_eq!(
            hold_until(START + 600, limit - START - 600, START, START),
            Ok(limit)
        );
        let too_long = hold_until(START + 600, limit - START - 599, START, START)
            .expect_err("one second too long");
        assert_eq!(too_long.error_type(), "HoldTooLong");
        assert!(
            too_long.to_string().contains("a year at most"),
            "{too_long}"
        );
        let short = hold_until(START + 600, 0, START, START).expect_err("too short");
        assert_eq!(short.error_type(), "InvalidField");
    }

    proptest::proptest! {
        /// A hold never shortens the wait, and never passes the limit.
        #[test]
        fn a_hold_only_ever_extends_within_the_limit(
            expires in 0u64..400 * 86_400,
            seconds in 0u64..400 * 86_400,
            now in 0u64..400 * 86_400,
        ) {
            let limit = START + EXECUTION_LIMIT_SECONDS - HOLD_RESERVE_SECONDS;
            if let Ok(until) = hold_until(START + expires, seconds, START, START + now) {
                proptest::prop_assert!(until >= START + expires && until > START + now);
                proptest::prop_assert!(until <= limit);
            }
        }
    }
}
