//! Every way a step can fail, each with its stable `errorType`.

use ecs_canary_aws::AwsError;
use ecs_canary_core::{
    AlarmError, AnalysisError, Colour, ColourError, ErrorKind, ErrorName, ImageNotAllowed,
    InitiatorUnknown, InputError, NativeRefusal, NotAnOperator, PolicyBelowFloor, PolicyRefusal,
    ResolveError, RevertRefused, SplitError, TemplateError, TrafficSplit, TriggerError,
};
use thiserror::Error;

/// Every way a function can fail, each with its stable `errorType`.
#[derive(Debug, Error)]
pub enum FunctionError {
    #[error(transparent)]
    Input(#[from] InputError),
    #[error(transparent)]
    Colour(#[from] ColourError),
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error(transparent)]
    Split(#[from] SplitError),
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    #[error(transparent)]
    Alarm(#[from] AlarmError),
    #[error(transparent)]
    Analysis(#[from] AnalysisError),
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error(transparent)]
    Trigger(#[from] TriggerError),
    #[error(transparent)]
    PolicyBelowFloor(#[from] PolicyBelowFloor),
    #[error(transparent)]
    ImageNotAllowed(#[from] ImageNotAllowed),
    #[error(transparent)]
    InitiatorUnknown(#[from] InitiatorUnknown),
    #[error(transparent)]
    NotAnOperator(#[from] NotAnOperator),
    #[error(transparent)]
    NativeRefusal(#[from] NativeRefusal),
    #[error(transparent)]
    Revert(#[from] RevertRefused),
    #[error(transparent)]
    PolicyRefusal(#[from] PolicyRefusal),
    #[error("the event is not what this function takes: {0}")]
    InvalidEvent(String),
    #[error("step {step} does not exist: the plan has {steps} steps")]
    InvalidStep { step: usize, steps: usize },
    #[error("set {expected} on the rule, but it reads back {actual}")]
    WeightNotApplied {
        expected: TrafficSplit,
        actual: TrafficSplit,
    },
    #[error("the rule was changed by hand: this deployment last set {last_set}, the rule now says {live}; the rule is left as it is")]
    SplitChangedByHand {
        last_set: TrafficSplit,
        live: TrafficSplit,
    },
    #[error("the deployment no longer holds the lock of {key} (held by {holder}): someone released it or another deployment took it; the rule is left as it is")]
    LockLost { key: String, holder: String },
    #[error("the routes given for {key} are not those of the deployment holding its lock (stack {stack}): nothing was changed")]
    RoutesMismatch { key: String, stack: String },
    #[error("tester rule {rule} does not read back as forwarding to {colour}")]
    TesterRuleNotApplied { rule: String, colour: Colour },
    #[error(
        "the candidate is not ready yet (stack {stack_status}, task set {candidate_stability:?})"
    )]
    CandidateNotReady {
        stack_status: String,
        candidate_stability: String,
    },
    #[error("no approval channel delivered the request: {0}")]
    NoChannelDelivered(String),
    #[error("posting to Slack failed: {0}")]
    Webhook(String),
    #[error("{0} is not configured")]
    NotConfigured(&'static str),
    #[error("{0}")]
    Misconfigured(String),
    #[error("an alarm fired but these deployments could not be stopped: {0}")]
    AbortIncomplete(String),
    #[error("stack {stack} is {status}: {reason}")]
    StackUpdateFailed {
        stack: String,
        status: String,
        reason: String,
    },
}

impl ErrorName for FunctionError {
    fn error_kind(&self) -> ErrorKind {
        match self {
            FunctionError::Input(e) => e.error_kind(),
            FunctionError::Colour(e) => e.error_kind(),
            FunctionError::Template(e) => e.error_kind(),
            FunctionError::Split(e) => e.error_kind(),
            FunctionError::Resolve(e) => e.error_kind(),
            FunctionError::Alarm(e) => e.error_kind(),
            FunctionError::Analysis(e) => e.error_kind(),
            FunctionError::Aws(e) => e.error_kind(),
            FunctionError::Trigger(e) => e.error_kind(),
            FunctionError::PolicyBelowFloor(e) => e.error_kind(),
            FunctionError::ImageNotAllowed(e) => e.error_kind(),
            FunctionError::InitiatorUnknown(e) => e.error_kind(),
            FunctionError::NotAnOperator(e) => e.error_kind(),
            FunctionError::NativeRefusal(e) => e.error_kind(),
            FunctionError::Revert(e) => e.error_kind(),
            FunctionError::PolicyRefusal(e) => e.error_kind(),
            FunctionError::InvalidEvent(_) => ErrorKind::InvalidEvent,
            FunctionError::InvalidStep { .. } => ErrorKind::InvalidStep,
            FunctionError::WeightNotApplied { .. } | FunctionError::TesterRuleNotApplied { .. } => {
                ErrorKind::WeightNotApplied
            }
            FunctionError::SplitChangedByHand { .. } => ErrorKind::SplitChangedByHand,
            FunctionError::LockLost { .. } => ErrorKind::LockLost,
            FunctionError::RoutesMismatch { .. } => ErrorKind::RoutesMismatch,
            FunctionError::StackUpdateFailed { .. } => ErrorKind::StackUpdateFailed,
            FunctionError::CandidateNotReady { .. } => ErrorKind::CandidateNotReady,
            FunctionError::Webhook(_) => ErrorKind::SlackWebhookFailed,
            FunctionError::NoChannelDelivered(_) => ErrorKind::NoChannelDelivered,
            FunctionError::NotConfigured(_) | FunctionError::Misconfigured(_) => {
                ErrorKind::NotConfigured
            }
            FunctionError::AbortIncomplete(_) => ErrorKind::AbortIncomplete,
        }
    }
}
