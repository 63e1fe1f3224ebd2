//! The error names ecs-canary reports: one definition each.
//!
//! Step Functions' `Retry` and `Catch` match on a Lambda error's `errorType`,
//! and the approval channels and the history show it, so a name is a public
//! contract. Every error type of every crate names its variants with an
//! [`ErrorKind`] (through [`ErrorName`]); the decisions a function sends to
//! Step Functions itself (`Rejected`, `Aborted`) are kinds too. The contract
//! test holds [`ErrorKind::ALL`] against the state machine and the error
//! table of `state-machine/README.md`.

use std::fmt;

macro_rules! error_kinds {
    ($($(#[doc = $doc:literal])+ $name:ident,)+) => {
        /// A stable error name (the Lambda `errorType`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum ErrorKind {
            $($(#[doc = $doc])+ $name,)+
        }

        impl ErrorKind {
            /// Every name, in the order of their definitions.
            pub const ALL: &'static [ErrorKind] = &[$(ErrorKind::$name,)+];

            /// The name as Step Functions, the channels and the history see it.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(ErrorKind::$name => stringify!($name),)+
                }
            }
        }
    };
}

error_kinds! {
    /// The execution input is not a JSON object.
    InvalidInput,
    /// A required input field is missing.
    MissingField,
    /// An input field has the wrong type or value.
    InvalidField,
    /// The input has a field ecs-canary does not know.
    UnknownField,
    /// The input names neither an image nor an environment.
    NothingToDeploy,
    /// `steps` are not strictly increasing percentages in 1–99.
    InvalidSteps,
    /// `approvalTimeoutSeconds` is out of range or outlasts the execution.
    InvalidApprovalTimeout,
    /// An environment variable's name or value is not one ECS takes.
    InvalidEnvironment,
    /// The event is not the shape the function takes.
    InvalidEvent,
    /// The function panicked (a defect): reported by the release build's
    /// panic hook as the invocation's error; the process ends.
    Panic,
    /// The `StableStack` tag is neither Blue nor Green.
    InvalidStableStackTag,
    /// The cluster does not exist.
    ClusterNotFound,
    /// The service does not exist.
    ServiceNotFound,
    /// The stack does not exist.
    StackNotFound,
    /// A logical resource of the stack does not exist.
    StackResourceNotFound,
    /// A listener rule does not exist.
    RuleNotFound,
    /// The stack's template cannot be read.
    TemplateUnreadable,
    /// The template has no task set for a colour.
    TaskSetNotFound,
    /// The template has more than one task set for a colour.
    AmbiguousTaskSet,
    /// A colour's target group is missing (or both share one).
    TargetGroupNotFound,
    /// The template has no weighted rule.
    WeightedRuleNotFound,
    /// The template has more than one weighted rule.
    AmbiguousWeightedRule,
    /// A task definition does not exist (in the template or in ECS).
    TaskDefinitionNotFound,
    /// The template has more than one task definition.
    AmbiguousTaskDefinition,
    /// The container named does not exist.
    ContainerNotFound,
    /// The task definition has several containers and none is named.
    AmbiguousContainer,
    /// A resource of the template is malformed.
    MalformedTemplate,
    /// The live split is not 100/0 towards the stable colour.
    DriftDetected,
    /// The stable task set does not exist (or was replaced).
    StableTaskSetMissing,
    /// Another execution holds the service's lock.
    DeploymentInProgress,
    /// A hold would outlast what the execution can still wait.
    HoldTooLong,
    /// This wait cannot be held (a pause of ECS's own deployment, the
    /// gate before the start).
    NotHoldable,
    /// There is no step to go back to (the gate before the start, 0 %
    /// already, or a pause of ECS's own deployment).
    CannotGoBack,
    /// `approve --to-promotion` under a policy that wants every step
    /// approved on its own (`stepByStep`).
    SkipNotAllowed,
    /// A revert finds no promotion to undo (none, or reverted already).
    NothingToRevert,
    /// The colour a revert would go back to no longer runs the release
    /// that was stable before (another deployment replaced it).
    ReleaseReplaced,
    /// The colour a revert would go back to has its task set scaled in.
    TaskSetScaledIn,
    /// A guarding alarm does not exist.
    AlarmNotFound,
    /// A guarding alarm is in `ALARM`.
    AlarmTriggered,
    /// The automatic analysis found the step's numbers over the limit.
    AnalysisFailed,
    /// An alarm fired and a deployment it guards could not be stopped.
    AbortIncomplete,
    /// The stack update failed or rolled back.
    StackUpdateFailed,
    /// The step is not an index of the plan.
    InvalidStep,
    /// The stack update or the candidate task set is not done yet.
    CandidateNotReady,
    /// No configured approval channel delivered the request.
    NoChannelDelivered,
    /// A required setting is missing.
    NotConfigured,
    /// The HTTPS client for Slack failed.
    SlackWebhookFailed,
    /// The step a decision is for no longer waits.
    TaskNotWaiting,
    /// A Slack request without a valid, fresh signature.
    InvalidSlackSignature,
    /// The approval policy does not allow the channel.
    ChannelNotAllowed,
    /// The approval policy does not list the person.
    NotAnApprover,
    /// A Slack decision from another workspace.
    WrongWorkspace,
    /// Separation of duties: the initiator may not approve.
    InitiatorMayNotApprove,
    /// Separation of duties: an approval that names nobody.
    AnonymousApprover,
    /// The rollback was given routes (rules, target groups) that are not
    /// those of the deployment holding the service's lock.
    RoutesMismatch,
    /// An execution's `approvalPolicy` would let in more than the stack's
    /// policy (more channels or people, separation of duties off).
    PolicyBelowFloor,
    /// The image's repository is not among the policy's `allowedImages`.
    ImageNotAllowed,
    /// Separation of duties, and nobody is named as the deployment's initiator.
    InitiatorUnknown,
    /// The approval policy does not name the caller among the operators
    /// who may start, abort or unlock.
    NotAnOperator,
    /// The ECR trigger's mappings are not valid.
    InvalidTriggerMappings,
    /// The event is not an ECR image push.
    NotAnImagePush,
    /// A person rejected the step (sent to Step Functions).
    Rejected,
    /// An operator aborted the deployment (the execution is stopped with it).
    Aborted,
    /// A rule read back differs from what was set.
    WeightNotApplied,
    /// A rule changed in more than its forward targets.
    RuleNotPreserved,
    /// A person changed the weighted rule during the rollout.
    SplitChangedByHand,
    /// The execution no longer holds its service's lock.
    LockLost,
    /// The rule holds weights the load balancer would refuse.
    InvalidTrafficSplit,
    /// The rule forwards to other target groups than the two colours'.
    UnexpectedForwardTargets,
    /// AWS throttled the call.
    Throttled,
    /// AWS did not answer in time.
    AwsUnreachable,
    /// Any other AWS error.
    AwsServiceError,
    /// An ECS pause hook of a service not enrolled (`ecs-canary:gate`).
    NotEnrolled,
    /// A hook ECS does not show as awaiting action.
    UnknownHook,
    /// A service deployment that is not IN_PROGRESS.
    DeploymentNotInProgress,
    /// A service deployment whose strategy has no steps ecs-canary can read.
    StrategyUnreadable,
    /// The pause hook expires too soon to ask anyone: the gate rolls back.
    HookExpiring,
    /// The pause a gate waited on ended in ECS (the deployment finished,
    /// failed, rolled back or was stopped): its links closed, the gate stopped.
    PauseEnded,
}

impl ErrorKind {
    /// The kind named `name`, if it is one.
    pub fn parse(name: &str) -> Option<ErrorKind> {
        ErrorKind::ALL.iter().copied().find(|k| k.as_str() == name)
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error with a stable name (the Lambda `errorType`).
pub trait ErrorName {
    /// Which error this is.
    fn error_kind(&self) -> ErrorKind;

    /// The name Step Functions sees; never the Rust type path.
    fn error_type(&self) -> &'static str {
        self.error_kind().as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::ErrorKind;

    #[test]
    fn every_name_is_one_word_and_parses_back() {
        let mut seen = std::collections::BTreeSet::new();
        for kind in ErrorKind::ALL {
            let name = kind.as_str();
            assert!(name.chars().all(|c| c.is_ascii_alphabetic()), "{name}");
            assert!(name.starts_with(|c: char| c.is_ascii_uppercase()), "{name}");
            assert_eq!(ErrorKind::parse(name), Some(*kind));
            assert!(seen.insert(name), "{name} twice");
        }
        assert_eq!(ErrorKind::parse("NoSuchError"), None);
        assert_eq!(ErrorKind::Rejected.to_string(), "Rejected");
    }
}
