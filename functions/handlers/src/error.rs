use ecs_canary_aws::AwsError;
use ecs_canary_core::{
    AlarmError, AnalysisError, Colour, ColourError, ErrorName, InputError, ResolveError,
    SplitError, TemplateError, TrafficSplit, TriggerError,
};
use lambda_runtime::Diagnostic;
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
    fn error_type(&self) -> &'static str {
        match self {
            FunctionError::Input(e) => e.error_type(),
            FunctionError::Colour(e) => e.error_type(),
            FunctionError::Template(e) => e.error_type(),
            FunctionError::Split(e) => e.error_type(),
            FunctionError::Resolve(e) => e.error_type(),
            FunctionError::Alarm(e) => e.error_type(),
            FunctionError::Analysis(e) => e.error_type(),
            FunctionError::Aws(e) => e.error_type(),
            FunctionError::Trigger(e) => e.error_type(),
            FunctionError::InvalidEvent(_) => "InvalidEvent",
            FunctionError::InvalidStep { .. } => "InvalidStep",
            FunctionError::WeightNotApplied { .. } | FunctionError::TesterRuleNotApplied { .. } => {
                "WeightNotApplied"
            }
            FunctionError::SplitChangedByHand { .. } => "SplitChangedByHand",
            FunctionError::LockLost { .. } => "LockLost",
            FunctionError::StackUpdateFailed { .. } => "StackUpdateFailed",
            FunctionError::CandidateNotReady { .. } => "CandidateNotReady",
            FunctionError::Webhook(_) => "SlackWebhookFailed",
            FunctionError::NoChannelDelivered(_) => "NoChannelDelivered",
            FunctionError::NotConfigured(_) => "NotConfigured",
            FunctionError::AbortIncomplete(_) => "AbortIncomplete",
        }
    }
}

impl From<FunctionError> for Diagnostic {
    fn from(error: FunctionError) -> Diagnostic {
        Diagnostic {
            error_type: error.error_type().to_string(),
            error_message: error.to_string(),
        }
    }
}
