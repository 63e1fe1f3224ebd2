//! The deployment model of ecs-canary, free of AWS types, clocks and the
//! environment: which colour is stable, how traffic is split at each step,
//! what a deployment request must contain, and how a stack's template is
//! rewritten for a new candidate.
//!
//! Every error has a stable name ([`ErrorName::error_type`]): the Lambda
//! functions report it as `errorType`, and the state machine's `Retry` and
//! `Catch` match on it.

mod alarm;
mod approval;
mod chart;
mod colour;
mod deployment;
mod diff;
mod errors;
mod evidence;
mod history;
mod input;
mod native;
mod native_settings;
mod notice;
mod plan;
mod policy;
mod reconcile;
mod release;
mod revert;
mod secrets;
mod sequential;
mod split;
mod stack_status;
mod task_set;
mod template;
mod time;
mod trigger;

pub use alarm::{check_alarms, AlarmAbort, AlarmChange, AlarmError, AlarmReading, AlarmState};
pub use approval::{
    confirmation_page, form_decision, form_field, hold_until, html_escape, is_slack_response_url,
    message_page, revert_page, slack_escape, slack_response_update, slack_signature,
    verify_slack_request, ApprovalFacts, ApprovalId, ApprovalKey, ApprovalStatus, Decision,
    HoldRefused, LinkState, SignatureError, SlackAction, TrackState, DECIDING_TAKEOVER_SECONDS,
    HOLD_BUTTON_SECONDS, HOLD_RESERVE_SECONDS, SLACK_MAX_SKEW_SECONDS, SLACK_RESPONSE_URL_PREFIX,
};
pub use chart::{evidence_chart, evidence_html, ChartMark, PageEvidence};
pub use colour::{Colour, ColourError, Colours, STABLE_STACK_TAG};
pub use deployment::{
    lock_expiry, lock_key, may_move_traffic, require_all_stable, rollback_restores_split,
    Deployment, ResolveError, Routing, SplitChange, LOCK_LOST, SPLIT_CHANGED_BY_HAND,
};
pub use diff::{line_diff, unified_diff, DiffLine};
pub use errors::{ErrorKind, ErrorName};
pub use evidence::{
    load_balancer_dimension, target_group_dimension, AnalysisError, AnalysisLimits, MinuteStats,
    PercentagePoints, Timeline, TrafficQuery, TrafficStats, WindowEvidence, ALB_NAMESPACE,
    DEFAULT_MIN_REQUESTS, ELB_5XX_METRIC, REQUESTS_METRIC, RESPONSE_TIME_METRIC, TARGET_5XX_METRIC,
};
pub use history::{
    execution_arn, execution_name, input_digest, request_of, Gate, HistoryEvent, HistoryKind, WATCH,
};
pub use input::{
    max_approval_timeout, DeploymentRequest, InputError, DEFAULT_APPROVAL_TIMEOUT_SECONDS,
    EXECUTION_LIMIT_SECONDS, EXECUTION_MARGIN_SECONDS,
};
pub use native::{
    enrolled, enrolment_plan, hook_minutes_for, native_plan, EnrolmentError, EnrolmentPlan,
    EnrolmentReading, HookAction, HookReading, NativePause, NativeRefusal, NativeRoutes,
    ProductionRoutes, RevisionReading, ServiceDeploymentReading, GATE_TAG, HOOK_MARGIN_SECONDS,
    MIN_ASK_SECONDS,
};
pub use native_settings::{
    NativeSettings, SettingInvalid, ALARMS_TAG, APPROVAL_TIMEOUT_TAG, CHANNELS_TAG,
    CLI_PRINCIPALS_TAG, MAX_ERROR_RATE_INCREASE_TAG, MIN_REQUESTS_TAG, SLACK_USERS_TAG,
    SLO_TARGET_TAG,
};
pub use notice::{Notice, ReconcileReport};
pub use plan::{StepPlan, StepPlanError, DEFAULT_STEPS};
pub use policy::{
    image_repository, ApprovalPolicy, Approver, Channel, ImageNotAllowed, InitiatorUnknown,
    NotAnOperator, Person, PolicyBelowFloor, PolicyError, PolicyRefusal, SkipNotAllowed,
    EMAIL_LINK,
};
pub use reconcile::{
    reconcile_retry_delay, ExecutionEnding, Reconcile, SplitRecord, RECONCILE_ATTEMPTS,
};
pub use release::{CandidateRelease, ContainerSpec, ReleaseChange, VariableChange};
pub use revert::{
    check_revert, last_promotion, RevertReading, RevertRefused, RevertTarget, REVERT_TO,
};
pub use secrets::{hides_values, SecretNames, DEFAULT_SECRET_NAMES, HIDDEN_VALUE};
pub use sequential::{
    judge, rate_interval, BurnRates, ErrorComparison, Recommendation, Verdict,
    ADVICE_TOLERANCE_POINTS, CONFIDENCE_PERCENT,
};
pub use split::{ForwardTarget, SplitError, TrafficSplit, MAX_WEIGHT};
pub use stack_status::StackProgress;
pub use task_set::{TaskSet, STEADY_STATE};
pub use template::{
    PatchedTemplate, StackLayout, Template, TemplateError, METADATA_KEY, TASK_SET_OUTPUT_SUFFIX,
    TESTER_ROLE,
};
pub use time::{ago, iso8601, parse_duration, parse_iso8601};
pub use trigger::{
    glob_matches, parse_mappings, service_floor, ImagePush, TriggerError, TriggerMapping,
};
