//! The narrow capabilities the handlers use, one trait each, so that a
//! handler runs against AWS (the adapters of this crate) or against the
//! in-memory [`fake`](crate::fake) in a test that takes milliseconds.
//!
//! Futures are boxed so that the handlers' context can hold each capability
//! as `Arc<dyn …>` without a generic parameter on every handler.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;

use ecs_canary_core::{
    AlarmReading, ApprovalKey, ApprovalStatus, Colour, Decision, ForwardTarget, HistoryEvent,
    HookAction, ReleaseChange, ServiceDeploymentReading, SplitRecord, TaskSet, Timeline,
    TrafficQuery, WindowEvidence,
};

use crate::{
    Alarms, ApprovalRecord, Approvals, AwsError, DecideOutcome, DeploymentLocks, EcsServices,
    FunctionInvoker, HeldLock, History, ListenerRules, LiveRule, LiveTaskDefinition, LockGuard,
    Metrics, Notifications, Secrets, StackState, Stacks, StartOutcome, StateMachines, StepRequest,
    TaskCallbacks, UpdateOutcome,
};

/// The future of one call to AWS.
pub type AwsFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, AwsError>> + Send + 'a>>;

/// Listener rules: read one whole, change its forward targets only.
pub trait RuleStore: Send + Sync {
    fn rule<'a>(&'a self, rule_arn: &'a str) -> AwsFuture<'a, LiveRule>;
    fn set_forward_targets<'a>(
        &'a self,
        rule: &'a LiveRule,
        targets: &'a [ForwardTarget],
    ) -> AwsFuture<'a, LiveRule>;
}

/// CloudWatch alarms, read by name.
pub trait AlarmStore: Send + Sync {
    /// The alarms among `names` that exist, with their states.
    fn read<'a>(&'a self, names: &'a [String]) -> AwsFuture<'a, Vec<AlarmReading>>;
}

/// The load balancer's numbers for a deployment's target groups.
pub trait MetricStore: Send + Sync {
    fn window<'a>(&'a self, query: &'a TrafficQuery) -> AwsFuture<'a, WindowEvidence>;
    fn timeline<'a>(&'a self, query: &'a TrafficQuery) -> AwsFuture<'a, Timeline>;
}

impl MetricStore for Metrics {
    fn window<'a>(&'a self, query: &'a TrafficQuery) -> AwsFuture<'a, WindowEvidence> {
        Box::pin(Metrics::window(self, query))
    }
    fn timeline<'a>(&'a self, query: &'a TrafficQuery) -> AwsFuture<'a, Timeline> {
        Box::pin(Metrics::timeline(self, query))
    }
}

/// The audit trail.
pub trait HistoryStore: Send + Sync {
    fn record<'a>(&'a self, event: &'a HistoryEvent) -> AwsFuture<'a, ()>;
    /// A service's events, newest first.
    fn list<'a>(&'a self, service: &'a str, limit: usize) -> AwsFuture<'a, Vec<HistoryEvent>>;
    /// Every service with a history.
    fn services(&self) -> AwsFuture<'_, Vec<String>>;
}

impl HistoryStore for History {
    fn record<'a>(&'a self, event: &'a HistoryEvent) -> AwsFuture<'a, ()> {
        Box::pin(History::record(self, event))
    }
    fn list<'a>(&'a self, service: &'a str, limit: usize) -> AwsFuture<'a, Vec<HistoryEvent>> {
        Box::pin(History::list(self, service, limit))
    }
    fn services(&self) -> AwsFuture<'_, Vec<String>> {
        Box::pin(History::services(self))
    }
}

/// The per-service deployment lock.
pub trait LockStore: Send + Sync {
    fn acquire<'a>(
        &'a self,
        key: &'a str,
        owner: &'a str,
        now: u64,
        expires_at: u64,
        guard: &'a LockGuard,
    ) -> AwsFuture<'a, ()>;
    /// Records that `owner`'s execution was sent into its rollback from
    /// outside; `false` when `owner` does not hold the lock.
    fn mark_rolling_back<'a>(&'a self, key: &'a str, owner: &'a str) -> AwsFuture<'a, bool>;
    /// Every lock guarded by the alarm `alarm` (expired or not).
    fn guarded_by<'a>(&'a self, alarm: &'a str) -> AwsFuture<'a, Vec<HeldLock>>;
    /// Every lock (expired or not): the services being deployed.
    fn all(&self) -> AwsFuture<'_, Vec<HeldLock>>;
    fn release<'a>(&'a self, key: &'a str, owner: &'a str) -> AwsFuture<'a, bool>;
    /// Keeps `owner`'s lock after its promotion, baking until `until` (it
    /// expires then too); `false` when `owner` does not hold it.
    fn bake<'a>(&'a self, key: &'a str, owner: &'a str, until: u64) -> AwsFuture<'a, bool>;
    /// Moves `owner`'s lock's expiry to at least `expires_at`; `false` when
    /// `owner` does not hold it (nothing is written).
    fn extend<'a>(&'a self, key: &'a str, owner: &'a str, expires_at: u64) -> AwsFuture<'a, bool>;
    /// The lock as it is held, if anyone holds it.
    fn held<'a>(&'a self, key: &'a str) -> AwsFuture<'a, Option<HeldLock>>;
    /// Records the traffic `owner` is about to move; `false` when `owner`
    /// does not hold the lock (nothing is written).
    fn record_split<'a>(
        &'a self,
        key: &'a str,
        owner: &'a str,
        record: &'a SplitRecord,
    ) -> AwsFuture<'a, bool>;
    /// Who holds the lock, if anyone.
    fn holder<'a>(&'a self, key: &'a str) -> AwsFuture<'a, Option<String>> {
        Box::pin(async move { Ok(self.held(key).await?.map(|lock| lock.owner)) })
    }
}

/// ECS's own deployments: what a paused one shows, and the answer to it.
pub trait NativeDeploymentApi: Send + Sync {
    /// A resource's tags (a service's, by its ARN).
    fn tags<'a>(&'a self, arn: &'a str) -> AwsFuture<'a, BTreeMap<String, String>>;
    /// A service deployment with its revisions' images; `None` if unknown.
    fn service_deployment<'a>(
        &'a self,
        arn: &'a str,
    ) -> AwsFuture<'a, Option<ServiceDeploymentReading>>;
    /// ContinueServiceDeployment; `TaskNotWaiting` when the hook no longer waits.
    fn answer_hook<'a>(
        &'a self,
        service_deployment: &'a str,
        hook_id: &'a str,
        action: HookAction,
    ) -> AwsFuture<'a, ()>;
}

impl NativeDeploymentApi for EcsServices {
    fn tags<'a>(&'a self, arn: &'a str) -> AwsFuture<'a, BTreeMap<String, String>> {
        Box::pin(EcsServices::tags(self, arn))
    }
    fn service_deployment<'a>(
        &'a self,
        arn: &'a str,
    ) -> AwsFuture<'a, Option<ServiceDeploymentReading>> {
        Box::pin(EcsServices::service_deployment(self, arn))
    }
    fn answer_hook<'a>(
        &'a self,
        service_deployment: &'a str,
        hook_id: &'a str,
        action: HookAction,
    ) -> AwsFuture<'a, ()> {
        Box::pin(EcsServices::answer_hook(
            self,
            service_deployment,
            hook_id,
            action,
        ))
    }
}

/// ECS services, their task sets and task definitions.
pub trait ServiceStore: Send + Sync {
    fn stable_stack_tag<'a>(
        &'a self,
        cluster: &'a str,
        service: &'a str,
    ) -> AwsFuture<'a, Option<String>>;
    fn tag_stable<'a>(
        &'a self,
        cluster: &'a str,
        service: &'a str,
        colour: Colour,
    ) -> AwsFuture<'a, ()>;
    fn task_set<'a>(
        &'a self,
        cluster: &'a str,
        service: &'a str,
        id: &'a str,
    ) -> AwsFuture<'a, Option<TaskSet>>;
    fn task_definition<'a>(&'a self, arn: &'a str) -> AwsFuture<'a, LiveTaskDefinition>;
    fn register_release<'a>(
        &'a self,
        live: &'a LiveTaskDefinition,
        change: &'a ReleaseChange,
        current: Option<&'a str>,
    ) -> AwsFuture<'a, String>;
}

/// CloudFormation stacks.
pub trait StackStore: Send + Sync {
    fn describe<'a>(&'a self, stack: &'a str) -> AwsFuture<'a, StackState>;
    fn template<'a>(&'a self, stack: &'a str) -> AwsFuture<'a, String>;
    fn physical_ids<'a>(&'a self, stack: &'a str) -> AwsFuture<'a, BTreeMap<String, String>>;
    fn update<'a>(
        &'a self,
        stack: &'a str,
        template: &'a str,
        role_arn: Option<&'a str>,
        token: Option<&'a str>,
    ) -> AwsFuture<'a, UpdateOutcome>;
}

/// Stored approval requests.
pub trait ApprovalStore: Send + Sync {
    fn put<'a>(&'a self, record: &'a ApprovalRecord) -> AwsFuture<'a, ()>;
    fn get<'a>(&'a self, key: &'a ApprovalKey) -> AwsFuture<'a, Option<ApprovalRecord>>;
    fn claim_step<'a>(
        &'a self,
        execution: &'a str,
        step: usize,
        link: &'a ApprovalKey,
        expires_at: u64,
    ) -> AwsFuture<'a, StepRequest>;
    fn mark_delivered<'a>(
        &'a self,
        execution: &'a str,
        step: usize,
        channel: &'a str,
    ) -> AwsFuture<'a, ()>;
    fn renew<'a>(&'a self, record: &'a ApprovalRecord) -> AwsFuture<'a, ()>;
    fn decide<'a>(
        &'a self,
        key: &'a ApprovalKey,
        decision: Decision,
        by: &'a str,
        at: &'a str,
        now: u64,
    ) -> AwsFuture<'a, DecideOutcome>;
    fn settle<'a>(&'a self, key: &'a ApprovalKey, status: ApprovalStatus) -> AwsFuture<'a, ()>;
    /// Closes the execution's pending links (steps `0..steps`); how many.
    fn expire_pending<'a>(&'a self, execution: &'a str, steps: usize) -> AwsFuture<'a, usize>;
    /// The execution's approval waiting for a decision now, if any.
    fn pending<'a>(
        &'a self,
        execution: &'a str,
        steps: usize,
    ) -> AwsFuture<'a, Option<ApprovalRecord>>;
}

/// Step Functions: callbacks for a waiting task, and stopping an execution.
pub trait TaskCallbackApi: Send + Sync {
    fn succeed<'a>(&'a self, task_token: &'a str, output: &'a str) -> AwsFuture<'a, ()>;
    fn fail<'a>(&'a self, task_token: &'a str, error: &'a str, cause: &'a str)
        -> AwsFuture<'a, ()>;
    /// Ends `execution` as `ABORTED` with `error`; one that has ended
    /// already is `TaskNotWaiting`.
    fn stop<'a>(&'a self, execution: &'a str, error: &'a str, cause: &'a str) -> AwsFuture<'a, ()>;
}

/// ecs-canary's other functions, invoked directly.
pub trait FunctionApi: Send + Sync {
    /// Invokes `function` with `payload`, waiting for its answer.
    fn invoke<'a>(
        &'a self,
        function: &'a str,
        payload: &'a serde_json::Value,
    ) -> AwsFuture<'a, serde_json::Value>;
}

/// The approval email: a message published to an SNS topic.
pub trait NotificationApi: Send + Sync {
    /// Publishes `message` with `subject` to `topic`; the message's id.
    fn publish<'a>(
        &'a self,
        topic: &'a str,
        subject: &'a str,
        message: &'a str,
    ) -> AwsFuture<'a, String>;
}

impl NotificationApi for Notifications {
    fn publish<'a>(
        &'a self,
        topic: &'a str,
        subject: &'a str,
        message: &'a str,
    ) -> AwsFuture<'a, String> {
        Box::pin(Notifications::publish(self, topic, subject, message))
    }
}

/// Starting a deployment: an execution of the state machine.
pub trait ExecutionStarter: Send + Sync {
    /// Starts `state_machine` as `name` with `input`; a name used before
    /// with another input (or by an execution that ended) is `AlreadyExists`.
    fn start<'a>(
        &'a self,
        state_machine: &'a str,
        name: &'a str,
        input: &'a str,
    ) -> AwsFuture<'a, StartOutcome>;
}

impl ExecutionStarter for StateMachines {
    fn start<'a>(
        &'a self,
        state_machine: &'a str,
        name: &'a str,
        input: &'a str,
    ) -> AwsFuture<'a, StartOutcome> {
        Box::pin(StateMachines::start(self, state_machine, name, input))
    }
}

/// Secrets: Slack's webhook and signing secret, the link key.
pub trait SecretStore: Send + Sync {
    /// The secret's string value.
    fn value<'a>(&'a self, secret_id: &'a str) -> AwsFuture<'a, String>;
}

impl SecretStore for Secrets {
    fn value<'a>(&'a self, secret_id: &'a str) -> AwsFuture<'a, String> {
        Box::pin(Secrets::value(self, secret_id))
    }
}

/// The future of one webhook post: why it failed, as people are shown it.
pub type WebhookFuture<'a> = Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>>;

/// HTTPS posts of JSON (Slack's incoming webhook and response URLs).
pub trait WebhookApi: Send + Sync {
    /// Posts `body` to `url`, giving up after `limit` (the request and its
    /// answer); anything but a 2xx answer is a failure.
    fn post_json<'a>(
        &'a self,
        url: &'a str,
        body: &'a serde_json::Value,
        limit: std::time::Duration,
    ) -> WebhookFuture<'a>;
}

impl FunctionApi for FunctionInvoker {
    fn invoke<'a>(
        &'a self,
        function: &'a str,
        payload: &'a serde_json::Value,
    ) -> AwsFuture<'a, serde_json::Value> {
        Box::pin(FunctionInvoker::invoke(self, function, payload))
    }
}

impl RuleStore for ListenerRules {
    fn rule<'a>(&'a self, rule_arn: &'a str) -> AwsFuture<'a, LiveRule> {
        Box::pin(ListenerRules::rule(self, rule_arn))
    }
    fn set_forward_targets<'a>(
        &'a self,
        rule: &'a LiveRule,
        targets: &'a [ForwardTarget],
    ) -> AwsFuture<'a, LiveRule> {
        Box::pin(ListenerRules::set_forward_targets(self, rule, targets))
    }
}

impl AlarmStore for Alarms {
    fn read<'a>(&'a self, names: &'a [String]) -> AwsFuture<'a, Vec<AlarmReading>> {
        Box::pin(Alarms::read(self, names))
    }
}

impl LockStore for DeploymentLocks {
    fn acquire<'a>(
        &'a self,
        key: &'a str,
        owner: &'a str,
        now: u64,
        expires_at: u64,
        guard: &'a LockGuard,
    ) -> AwsFuture<'a, ()> {
        Box::pin(DeploymentLocks::acquire(
            self, key, owner, now, expires_at, guard,
        ))
    }
    fn guarded_by<'a>(&'a self, alarm: &'a str) -> AwsFuture<'a, Vec<HeldLock>> {
        Box::pin(DeploymentLocks::guarded_by(self, alarm))
    }
    fn all(&self) -> AwsFuture<'_, Vec<HeldLock>> {
        Box::pin(DeploymentLocks::all(self))
    }
    fn mark_rolling_back<'a>(&'a self, key: &'a str, owner: &'a str) -> AwsFuture<'a, bool> {
        Box::pin(DeploymentLocks::mark_rolling_back(self, key, owner))
    }
    fn release<'a>(&'a self, key: &'a str, owner: &'a str) -> AwsFuture<'a, bool> {
        Box::pin(DeploymentLocks::release(self, key, owner))
    }
    fn extend<'a>(&'a self, key: &'a str, owner: &'a str, expires_at: u64) -> AwsFuture<'a, bool> {
        Box::pin(DeploymentLocks::extend(self, key, owner, expires_at))
    }
    fn bake<'a>(&'a self, key: &'a str, owner: &'a str, until: u64) -> AwsFuture<'a, bool> {
        Box::pin(DeploymentLocks::bake(self, key, owner, until))
    }
    fn held<'a>(&'a self, key: &'a str) -> AwsFuture<'a, Option<HeldLock>> {
        Box::pin(DeploymentLocks::held(self, key))
    }
    fn record_split<'a>(
        &'a self,
        key: &'a str,
        owner: &'a str,
        record: &'a SplitRecord,
    ) -> AwsFuture<'a, bool> {
        Box::pin(DeploymentLocks::record_split(self, key, owner, record))
    }
}

impl ServiceStore for EcsServices {
    fn stable_stack_tag<'a>(
        &'a self,
        cluster: &'a str,
        service: &'a str,
    ) -> AwsFuture<'a, Option<String>> {
        Box::pin(EcsServices::stable_stack_tag(self, cluster, service))
    }
    fn tag_stable<'a>(
        &'a self,
        cluster: &'a str,
        service: &'a str,
        colour: Colour,
    ) -> AwsFuture<'a, ()> {
        Box::pin(EcsServices::tag_stable(self, cluster, service, colour))
    }
    fn task_set<'a>(
        &'a self,
        cluster: &'a str,
        service: &'a str,
        id: &'a str,
    ) -> AwsFuture<'a, Option<TaskSet>> {
        Box::pin(EcsServices::task_set(self, cluster, service, id))
    }
    fn task_definition<'a>(&'a self, arn: &'a str) -> AwsFuture<'a, LiveTaskDefinition> {
        Box::pin(EcsServices::task_definition(self, arn))
    }
    fn register_release<'a>(
        &'a self,
        live: &'a LiveTaskDefinition,
        change: &'a ReleaseChange,
        current: Option<&'a str>,
    ) -> AwsFuture<'a, String> {
        Box::pin(EcsServices::register_release(self, live, change, current))
    }
}

impl StackStore for Stacks {
    fn describe<'a>(&'a self, stack: &'a str) -> AwsFuture<'a, StackState> {
        Box::pin(Stacks::describe(self, stack))
    }
    fn template<'a>(&'a self, stack: &'a str) -> AwsFuture<'a, String> {
        Box::pin(Stacks::template(self, stack))
    }
    fn physical_ids<'a>(&'a self, stack: &'a str) -> AwsFuture<'a, BTreeMap<String, String>> {
        Box::pin(Stacks::physical_ids(self, stack))
    }
    fn update<'a>(
        &'a self,
        stack: &'a str,
        template: &'a str,
        role_arn: Option<&'a str>,
        token: Option<&'a str>,
    ) -> AwsFuture<'a, UpdateOutcome> {
        Box::pin(Stacks::update(self, stack, template, role_arn, token))
    }
}

impl ApprovalStore for Approvals {
    fn put<'a>(&'a self, record: &'a ApprovalRecord) -> AwsFuture<'a, ()> {
        Box::pin(Approvals::put(self, record))
    }
    fn get<'a>(&'a self, key: &'a ApprovalKey) -> AwsFuture<'a, Option<ApprovalRecord>> {
        Box::pin(Approvals::get(self, key))
    }
    fn claim_step<'a>(
        &'a self,
        execution: &'a str,
        step: usize,
        link: &'a ApprovalKey,
        expires_at: u64,
    ) -> AwsFuture<'a, StepRequest> {
        Box::pin(Approvals::claim_step(
            self, execution, step, link, expires_at,
        ))
    }
    fn mark_delivered<'a>(
        &'a self,
        execution: &'a str,
        step: usize,
        channel: &'a str,
    ) -> AwsFuture<'a, ()> {
        Box::pin(Approvals::mark_delivered(self, execution, step, channel))
    }
    fn renew<'a>(&'a self, record: &'a ApprovalRecord) -> AwsFuture<'a, ()> {
        Box::pin(Approvals::renew(self, record))
    }
    fn decide<'a>(
        &'a self,
        key: &'a ApprovalKey,
        decision: Decision,
        by: &'a str,
        at: &'a str,
        now: u64,
    ) -> AwsFuture<'a, DecideOutcome> {
        Box::pin(Approvals::decide(self, key, decision, by, at, now))
    }
    fn settle<'a>(&'a self, key: &'a ApprovalKey, status: ApprovalStatus) -> AwsFuture<'a, ()> {
        Box::pin(Approvals::settle(self, key, status))
    }
    fn expire_pending<'a>(&'a self, execution: &'a str, steps: usize) -> AwsFuture<'a, usize> {
        Box::pin(Approvals::expire_pending(self, execution, steps))
    }
    fn pending<'a>(
        &'a self,
        execution: &'a str,
        steps: usize,
    ) -> AwsFuture<'a, Option<ApprovalRecord>> {
        Box::pin(Approvals::pending(self, execution, steps))
    }
}

impl TaskCallbackApi for TaskCallbacks {
    fn succeed<'a>(&'a self, task_token: &'a str, output: &'a str) -> AwsFuture<'a, ()> {
        Box::pin(TaskCallbacks::succeed(self, task_token, output))
    }
    fn fail<'a>(
        &'a self,
        task_token: &'a str,
        error: &'a str,
        cause: &'a str,
    ) -> AwsFuture<'a, ()> {
        Box::pin(TaskCallbacks::fail(self, task_token, error, cause))
    }
    fn stop<'a>(&'a self, execution: &'a str, error: &'a str, cause: &'a str) -> AwsFuture<'a, ()> {
        Box::pin(TaskCallbacks::stop(self, execution, error, cause))
    }
}
