//! One in-memory fake of every port (feature `fake`, for tests): a service
//! with its tag, task sets and task definitions, a stack, listener rules, the
//! lock and approvals tables, and Step Functions callbacks — plus the bad
//! days a test asks for: a call that fails with an AWS error, a rule that
//! reads back stale, a task that is gone.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use ecs_canary_core::{
    AlarmReading, AlarmState, ApprovalKey, ApprovalStatus, Colour, ContainerSpec, Decision,
    ForwardTarget, HistoryEvent, HookAction, ReleaseChange, ServiceDeploymentReading, SplitRecord,
    TaskSet, Timeline, TrafficQuery, TrafficStats, WindowEvidence, DECIDING_TAKEOVER_SECONDS,
};

use crate::ports::{
    AlarmStore, ApprovalStore, AwsFuture, ExecutionStarter, FunctionApi, HistoryStore, LockStore,
    MetricStore, NativeDeploymentApi, NotificationApi, RuleStore, SecretStore, ServiceStore,
    StackStore, TaskCallbackApi, WebhookApi, WebhookFuture,
};
use crate::{
    ApprovalRecord, AwsError, DecideOutcome, HeldLock, LiveRule, LiveTaskDefinition, LockGuard,
    StackState, StartOutcome, StepRequest, UpdateOutcome,
};

/// A callback Step Functions received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Callback {
    Succeeded {
        task_token: String,
        output: String,
    },
    Failed {
        task_token: String,
        error: String,
        cause: String,
    },
}

/// Everything the fake holds; tests read and arrange it through [`FakeAws::state`].
#[derive(Debug, Default)]
pub struct FakeState {
    pub rules: BTreeMap<String, Vec<ForwardTarget>>,
    /// How many more reads of a changed rule still return what it was before.
    pub stale_rule_reads: u32,
    stale_rules: BTreeMap<String, Vec<ForwardTarget>>,
    pub tag: Option<String>,
    pub task_sets: BTreeMap<String, TaskSet>,
    pub task_definitions: BTreeMap<String, Vec<ContainerSpec>>,
    pub stack: Option<StackState>,
    pub template: String,
    pub physical_ids: BTreeMap<String, String>,
    pub stack_updates: Vec<String>,
    pub locks: BTreeMap<String, (String, u64)>,
    /// What each lock carries for whoever acts on its deployment's behalf.
    pub guards: BTreeMap<String, LockGuard>,
    /// Locks whose execution was sent into its rollback from outside.
    pub rolling_back: Vec<String>,
    /// Locks kept after a promotion, baking until then.
    pub baking: BTreeMap<String, u64>,
    /// CloudWatch alarms by name: their state.
    pub alarms: BTreeMap<String, AlarmState>,
    /// What each lock records of the traffic its execution moved.
    pub split_records: BTreeMap<String, SplitRecord>,
    pub approvals: BTreeMap<String, ApprovalRecord>,
    steps: BTreeMap<String, StepRequest>,
    pub callbacks: Vec<Callback>,
    /// Executions stopped: (execution, error, cause).
    pub stopped: Vec<(String, String, String)>,
    /// What the load balancer reports for any window (none: no data).
    pub window: Option<(TrafficStats, TrafficStats)>,
    /// Windows read: (since, until).
    pub windows_read: Vec<(u64, u64)>,
    /// Functions invoked directly: (function, payload).
    pub invocations: Vec<(String, serde_json::Value)>,
    /// When each decision in progress started.
    deciding: BTreeMap<String, u64>,
    /// The audit trail, oldest first.
    pub history: Vec<HistoryEvent>,
    /// Task tokens whose task is no longer waiting.
    pub gone_tasks: Vec<String>,
    /// Messages published to SNS: (topic, subject, message).
    pub published: Vec<(String, String, String)>,
    /// Executions started: (state machine, name, input), in order.
    pub started: Vec<(String, String, String)>,
    /// Names of started executions that have ended since.
    pub ended_executions: Vec<String>,
    /// Secrets Manager: secret id → value.
    pub secrets: BTreeMap<String, String>,
    /// Webhook posts that were answered 2xx: (url, body).
    pub webhook_posts: Vec<(String, serde_json::Value)>,
    /// Resource tags by ARN (ECS's own deployments read a service's).
    pub resource_tags: BTreeMap<String, BTreeMap<String, String>>,
    /// ECS service deployments by ARN.
    pub service_deployments: BTreeMap<String, ServiceDeploymentReading>,
    /// ContinueServiceDeployment calls that took: (deployment, hook, action).
    pub hook_answers: Vec<(String, String, HookAction)>,
    /// Armed failures: (operation, error), the first matching one is used once.
    faults: VecDeque<(&'static str, AwsError)>,
    /// Every operation called, in order (`GetItem`, `ModifyRule`, …).
    pub calls: Vec<&'static str>,
}

/// The fake; clone it to keep a handle on the same state.
#[derive(Debug, Clone, Default)]
pub struct FakeAws {
    state: Arc<Mutex<FakeState>>,
}

/// An AWS error as a throttled call reports it.
pub fn throttled(operation: &'static str) -> AwsError {
    AwsError::Throttled {
        operation,
        message: "Rate exceeded".into(),
    }
}

impl FakeAws {
    pub fn new() -> FakeAws {
        FakeAws::default()
    }

    /// The state, to arrange a test or look at its outcome.
    pub fn state(&self) -> MutexGuard<'_, FakeState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The next call of `operation` (the AWS operation, e.g. `"ModifyRule"`,
    /// `"SendTaskSuccess"`, `"PutItem"`; the approvals' per-step item is
    /// `"PutStepItem"`) fails with `error`.
    pub fn fail_next(&self, operation: &'static str, error: AwsError) {
        self.state().faults.push_back((operation, error));
    }

    fn call(&self, operation: &'static str) -> Result<MutexGuard<'_, FakeState>, AwsError> {
        let mut state = self.state();
        state.calls.push(operation);
        if let Some(position) = state.faults.iter().position(|(op, _)| *op == operation) {
            if let Some((_, error)) = state.faults.remove(position) {
                return Err(error);
            }
        }
        Ok(state)
    }
}

fn ready<'a, T: Send + 'a>(result: Result<T, AwsError>) -> AwsFuture<'a, T> {
    Box::pin(std::future::ready(result))
}

impl RuleStore for FakeAws {
    fn rule<'a>(&'a self, rule_arn: &'a str) -> AwsFuture<'a, LiveRule> {
        ready(self.call("DescribeRules").and_then(|mut state| {
            let targets = if state.stale_rule_reads > 0 && state.stale_rules.contains_key(rule_arn)
            {
                state.stale_rule_reads -= 1;
                state.stale_rules.get(rule_arn).cloned()
            } else {
                state.rules.get(rule_arn).cloned()
            };
            targets
                .map(|t| LiveRule::forwarding(rule_arn, &t))
                .ok_or_else(|| AwsError::RuleNotFound(rule_arn.to_string()))
        }))
    }

    fn set_forward_targets<'a>(
        &'a self,
        rule: &'a LiveRule,
        targets: &'a [ForwardTarget],
    ) -> AwsFuture<'a, LiveRule> {
        let result = self.call("ModifyRule").and_then(|mut state| {
            let arn = rule.arn().to_string();
            let before = state
                .rules
                .insert(arn.clone(), targets.to_vec())
                .ok_or_else(|| AwsError::RuleNotFound(arn.clone()))?;
            if state.stale_rule_reads > 0 {
                state.stale_rules.insert(arn, before);
            }
            Ok(())
        });
        Box::pin(async move {
            result?;
            self.rule(rule.arn()).await
        })
    }
}

impl AlarmStore for FakeAws {
    fn read<'a>(&'a self, names: &'a [String]) -> AwsFuture<'a, Vec<AlarmReading>> {
        ready(self.call("DescribeAlarms").map(|state| {
            names
                .iter()
                .filter_map(|name| {
                    state.alarms.get(name).map(|s| AlarmReading {
                        name: name.clone(),
                        state: *s,
                        reason: format!("{name} is {}", s.as_str()),
                    })
                })
                .collect()
        }))
    }
}

impl LockStore for FakeAws {
    fn acquire<'a>(
        &'a self,
        key: &'a str,
        owner: &'a str,
        now: u64,
        expires_at: u64,
        guard: &'a LockGuard,
    ) -> AwsFuture<'a, ()> {
        ready(
            self.call("PutItem")
                .and_then(|mut state| match state.locks.get(key) {
                    Some((holder, expiry)) if holder != owner && *expiry > now => {
                        Err(AwsError::LockHeld {
                            key: key.to_string(),
                            owner: holder.clone(),
                        })
                    }
                    _ => {
                        state
                            .locks
                            .insert(key.to_string(), (owner.to_string(), expires_at));
                        state.guards.insert(key.to_string(), guard.clone());
                        state.rolling_back.retain(|k| k != key);
                        Ok(())
                    }
                }),
        )
    }

    fn release<'a>(&'a self, key: &'a str, owner: &'a str) -> AwsFuture<'a, bool> {
        ready(self.call("DeleteItem").map(|mut state| {
            let held = state.locks.get(key).is_some_and(|(h, _)| h == owner);
            if held {
                state.locks.remove(key);
                state.split_records.remove(key);
                state.guards.remove(key);
                state.rolling_back.retain(|k| k != key);
                state.baking.remove(key);
            }
            held
        }))
    }

    fn held<'a>(&'a self, key: &'a str) -> AwsFuture<'a, Option<HeldLock>> {
        ready(self.call("GetItem").map(|state| state.held(key)))
    }

    fn bake<'a>(&'a self, key: &'a str, owner: &'a str, until: u64) -> AwsFuture<'a, bool> {
        ready(self.call("UpdateItem").map(|mut state| {
            let held = matches!(state.locks.get(key), Some((holder, _)) if holder == owner);
            if held {
                state
                    .locks
                    .insert(key.to_string(), (owner.to_string(), until));
                state.baking.insert(key.to_string(), until);
            }
            held
        }))
    }

    fn extend<'a>(&'a self, key: &'a str, owner: &'a str, expires_at: u64) -> AwsFuture<'a, bool> {
        ready(
            self.call("UpdateItem")
                .map(|mut state| match state.locks.get_mut(key) {
                    Some((holder, expires)) if holder == owner => {
                        *expires = (*expires).max(expires_at);
                        true
                    }
                    _ => false,
                }),
        )
    }

    fn mark_rolling_back<'a>(&'a self, key: &'a str, owner: &'a str) -> AwsFuture<'a, bool> {
        ready(self.call("UpdateItem").map(|mut state| {
            let held = state.locks.get(key).is_some_and(|(h, _)| h == owner);
            if held && !state.rolling_back.iter().any(|k| k == key) {
                state.rolling_back.push(key.to_string());
            }
            held
        }))
    }

    fn guarded_by<'a>(&'a self, alarm: &'a str) -> AwsFuture<'a, Vec<HeldLock>> {
        ready(self.scan_locks().map(|locks| {
            locks
                .into_iter()
                .filter(|lock| lock.guard.alarms.iter().any(|a| a == alarm))
                .collect()
        }))
    }

    fn all(&self) -> AwsFuture<'_, Vec<HeldLock>> {
        ready(self.scan_locks())
    }

    fn record_split<'a>(
        &'a self,
        key: &'a str,
        owner: &'a str,
        record: &'a SplitRecord,
    ) -> AwsFuture<'a, bool> {
        ready(self.call("UpdateItem").map(|mut state| {
            let held = state.locks.get(key).is_some_and(|(h, _)| h == owner);
            if held {
                state.split_records.insert(key.to_string(), *record);
            }
            held
        }))
    }
}

impl ServiceStore for FakeAws {
    fn stable_stack_tag<'a>(&'a self, _: &'a str, _: &'a str) -> AwsFuture<'a, Option<String>> {
        ready(
            self.call("ListTagsForResource")
                .map(|state| state.tag.clone()),
        )
    }

    fn tag_stable<'a>(&'a self, _: &'a str, _: &'a str, colour: Colour) -> AwsFuture<'a, ()> {
        ready(self.call("TagResource").map(|mut state| {
            state.tag = Some(colour.as_str().to_string());
        }))
    }

    fn task_set<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
        id: &'a str,
    ) -> AwsFuture<'a, Option<TaskSet>> {
        ready(self.call("DescribeTaskSets").map(|state| {
            state
                .task_sets
                .values()
                .find(|t| t.id == id || t.arn == id)
                .cloned()
        }))
    }

    fn task_definition<'a>(&'a self, arn: &'a str) -> AwsFuture<'a, LiveTaskDefinition> {
        ready(self.call("DescribeTaskDefinition").and_then(|state| {
            state
                .task_definitions
                .get(arn)
                .map(|c| LiveTaskDefinition::of_containers(arn, c))
                .ok_or_else(|| AwsError::TaskDefinitionNotFound(arn.to_string()))
        }))
    }

    fn register_release<'a>(
        &'a self,
        live: &'a LiveTaskDefinition,
        change: &'a ReleaseChange,
        current: Option<&'a str>,
    ) -> AwsFuture<'a, String> {
        ready(self.call("RegisterTaskDefinition").map(|mut state| {
            let containers = live.released(change);
            if let Some(current) = current {
                if state.task_definitions.get(current) == Some(&containers) {
                    return current.to_string();
                }
            }
            let family = live.arn().rsplit_once(':').map_or(live.arn(), |(f, _)| f);
            let arn = format!("{family}:{}", state.task_definitions.len() + 1);
            state.task_definitions.insert(arn.clone(), containers);
            arn
        }))
    }
}

impl StackStore for FakeAws {
    fn describe<'a>(&'a self, stack: &'a str) -> AwsFuture<'a, StackState> {
        ready(self.call("DescribeStacks").and_then(|state| {
            state
                .stack
                .clone()
                .ok_or_else(|| AwsError::StackNotFound(stack.to_string()))
        }))
    }

    fn template<'a>(&'a self, _: &'a str) -> AwsFuture<'a, String> {
        ready(self.call("GetTemplate").map(|state| state.template.clone()))
    }

    fn physical_ids<'a>(&'a self, _: &'a str) -> AwsFuture<'a, BTreeMap<String, String>> {
        ready(
            self.call("DescribeStackResources")
                .map(|state| state.physical_ids.clone()),
        )
    }

    fn update<'a>(
        &'a self,
        _: &'a str,
        template: &'a str,
        _: Option<&'a str>,
        _: Option<&'a str>,
    ) -> AwsFuture<'a, UpdateOutcome> {
        ready(self.call("UpdateStack").map(|mut state| {
            if state.template == template {
                return UpdateOutcome::NoChange;
            }
            state.template = template.to_string();
            state.stack_updates.push(template.to_string());
            UpdateOutcome::Started
        }))
    }
}

impl ApprovalStore for FakeAws {
    fn put<'a>(&'a self, record: &'a ApprovalRecord) -> AwsFuture<'a, ()> {
        ready(self.call("PutItem").map(|mut state| {
            state
                .approvals
                .insert(record.key.to_string(), record.clone());
        }))
    }

    fn get<'a>(&'a self, key: &'a ApprovalKey) -> AwsFuture<'a, Option<ApprovalRecord>> {
        ready(
            self.call("GetItem")
                .map(|state| state.approvals.get(key.as_str()).cloned()),
        )
    }

    fn claim_step<'a>(
        &'a self,
        execution: &'a str,
        step: usize,
        link: &'a ApprovalKey,
        _expires_at: u64,
    ) -> AwsFuture<'a, StepRequest> {
        ready(self.call("PutStepItem").map(|mut state| {
            let key = format!("{execution}#{step}");
            match state.steps.get(&key) {
                Some(found) if &found.key == link => StepRequest {
                    first: false,
                    ..found.clone()
                },
                _ => {
                    let claimed = StepRequest {
                        key: link.clone(),
                        delivered: Vec::new(),
                        first: true,
                    };
                    state.steps.insert(key, claimed.clone());
                    claimed
                }
            }
        }))
    }

    fn mark_delivered<'a>(
        &'a self,
        execution: &'a str,
        step: usize,
        channel: &'a str,
    ) -> AwsFuture<'a, ()> {
        ready(self.call("UpdateItem").map(|mut state| {
            if let Some(found) = state.steps.get_mut(&format!("{execution}#{step}")) {
                found.delivered.push(channel.to_string());
            }
        }))
    }

    fn renew<'a>(&'a self, record: &'a ApprovalRecord) -> AwsFuture<'a, ()> {
        ready(self.call("PutItem").map(|mut state| {
            state
                .approvals
                .insert(record.key.to_string(), record.clone());
        }))
    }

    fn decide<'a>(
        &'a self,
        id: &'a ApprovalKey,
        _decision: Decision,
        by: &'a str,
        at: &'a str,
        now: u64,
    ) -> AwsFuture<'a, DecideOutcome> {
        ready(self.call("UpdateItem").map(|mut state| {
            let deciding_since = state.deciding_since(id);
            let Some(record) = state.approvals.get_mut(id.as_str()) else {
                return DecideOutcome::Unknown;
            };
            let takes = match record.status {
                ApprovalStatus::Pending => now < record.expires_at,
                ApprovalStatus::Deciding => {
                    deciding_since.is_some_and(|t| t + DECIDING_TAKEOVER_SECONDS < now)
                }
                _ => false,
            };
            let before = record.clone();
            if !takes {
                return match record.status {
                    ApprovalStatus::Pending | ApprovalStatus::Expired => {
                        DecideOutcome::Expired(before)
                    }
                    _ => DecideOutcome::AlreadyDecided(before),
                };
            }
            record.status = ApprovalStatus::Deciding;
            record.decided_by = Some(by.to_string());
            record.decided_at = Some(at.to_string());
            state.deciding.insert(id.to_string(), now);
            DecideOutcome::Decided(before)
        }))
    }

    fn settle<'a>(&'a self, id: &'a ApprovalKey, status: ApprovalStatus) -> AwsFuture<'a, ()> {
        ready(self.call("UpdateItem").map(|mut state| {
            state.deciding.remove(id.as_str());
            if let Some(record) = state.approvals.get_mut(id.as_str()) {
                if record.status == ApprovalStatus::Deciding {
                    record.status = status;
                    if status == ApprovalStatus::Pending {
                        record.decided_by = None;
                        record.decided_at = None;
                    }
                }
            }
        }))
    }

    fn expire_pending<'a>(&'a self, execution: &'a str, steps: usize) -> AwsFuture<'a, usize> {
        ready(self.call("UpdateItem").map(|mut state| {
            let links: Vec<String> = (0..=steps)
                .filter_map(|step| state.steps.get(&format!("{execution}#{step}")))
                .map(|claimed| claimed.key.to_string())
                .collect();
            let mut closed = 0;
            for link in links {
                if let Some(record) = state.approvals.get_mut(&link) {
                    if record.status == ApprovalStatus::Pending {
                        record.status = ApprovalStatus::Expired;
                        closed += 1;
                    }
                }
            }
            closed
        }))
    }

    fn pending<'a>(
        &'a self,
        execution: &'a str,
        steps: usize,
    ) -> AwsFuture<'a, Option<ApprovalRecord>> {
        ready(self.call("GetItem").map(|state| {
            (0..=steps)
                .rev()
                .filter_map(|step| state.steps.get(&format!("{execution}#{step}")))
                .filter_map(|claimed| state.approvals.get(claimed.key.as_str()))
                .find(|record| record.status == ApprovalStatus::Pending)
                .cloned()
        }))
    }
}

impl FakeState {
    fn held(&self, key: &str) -> Option<HeldLock> {
        self.locks.get(key).map(|(owner, expires_at)| HeldLock {
            key: key.to_string(),
            owner: owner.clone(),
            expires_at: *expires_at,
            split: self.split_records.get(key).copied(),
            guard: self.guards.get(key).cloned().unwrap_or_default(),
            rolling_back: self.rolling_back.iter().any(|k| k == key),
            bake_until: self.baking.get(key).copied(),
        })
    }

    fn deciding_since(&self, id: &ApprovalKey) -> Option<u64> {
        self.deciding.get(id.as_str()).copied()
    }
}

impl FakeAws {
    /// Every lock as held (one Scan of the lock table).
    fn scan_locks(&self) -> Result<Vec<HeldLock>, AwsError> {
        self.call("Scan").map(|state| {
            state
                .locks
                .keys()
                .filter_map(|key| state.held(key))
                .collect()
        })
    }
}

impl TaskCallbackApi for FakeAws {
    fn succeed<'a>(&'a self, task_token: &'a str, output: &'a str) -> AwsFuture<'a, ()> {
        ready(self.call("SendTaskSuccess").and_then(|mut state| {
            if state.gone_tasks.iter().any(|t| t == task_token) {
                return Err(AwsError::TaskNotWaiting("Task Timed Out".into()));
            }
            state.callbacks.push(Callback::Succeeded {
                task_token: task_token.to_string(),
                output: output.to_string(),
            });
            Ok(())
        }))
    }

    fn fail<'a>(
        &'a self,
        task_token: &'a str,
        error: &'a str,
        cause: &'a str,
    ) -> AwsFuture<'a, ()> {
        ready(self.call("SendTaskFailure").and_then(|mut state| {
            if state.gone_tasks.iter().any(|t| t == task_token) {
                return Err(AwsError::TaskNotWaiting("Task Timed Out".into()));
            }
            state.callbacks.push(Callback::Failed {
                task_token: task_token.to_string(),
                error: error.to_string(),
                cause: cause.to_string(),
            });
            Ok(())
        }))
    }

    fn stop<'a>(&'a self, execution: &'a str, error: &'a str, cause: &'a str) -> AwsFuture<'a, ()> {
        ready(self.stop_execution(execution, error, cause))
    }
}

impl FakeAws {
    fn stop_execution(&self, execution: &str, error: &str, cause: &str) -> Result<(), AwsError> {
        let mut state = self.call("StopExecution")?;
        state
            .stopped
            .push((execution.to_string(), error.to_string(), cause.to_string()));
        Ok(())
    }
}

impl FunctionApi for FakeAws {
    /// Records the invocation; answers `null` (arm a failure with
    /// `fail_next("Invoke", …)`).
    fn invoke<'a>(
        &'a self,
        function: &'a str,
        payload: &'a serde_json::Value,
    ) -> AwsFuture<'a, serde_json::Value> {
        ready(self.call("Invoke").map(|mut state| {
            state
                .invocations
                .push((function.to_string(), payload.clone()));
            serde_json::Value::Null
        }))
    }
}

impl NotificationApi for FakeAws {
    /// Records the message (arm a failure with `fail_next("Publish", …)`).
    fn publish<'a>(
        &'a self,
        topic: &'a str,
        subject: &'a str,
        message: &'a str,
    ) -> AwsFuture<'a, String> {
        ready(self.call("Publish").map(|mut state| {
            state
                .published
                .push((topic.into(), subject.into(), message.into()));
            format!("message-{}", state.published.len())
        }))
    }
}

impl ExecutionStarter for FakeAws {
    /// As Step Functions: a name used before with the same input, while that
    /// execution runs, answers the running one; otherwise a name used
    /// before is `AlreadyExists` (arm a failure with `fail_next("StartExecution", …)`).
    fn start<'a>(
        &'a self,
        state_machine: &'a str,
        name: &'a str,
        input: &'a str,
    ) -> AwsFuture<'a, StartOutcome> {
        ready(self.call("StartExecution").map(|mut state| {
            let arn = format!("{state_machine}:{name}").replace(":stateMachine:", ":execution:");
            match state.started.iter().find(|(_, n, _)| n == name) {
                Some((_, _, first))
                    if first == input && !state.ended_executions.iter().any(|e| e == name) =>
                {
                    StartOutcome::Started(arn)
                }
                Some(_) => StartOutcome::AlreadyExists,
                None => {
                    state
                        .started
                        .push((state_machine.into(), name.into(), input.into()));
                    StartOutcome::Started(arn)
                }
            }
        }))
    }
}

impl NativeDeploymentApi for FakeAws {
    fn tags<'a>(&'a self, arn: &'a str) -> AwsFuture<'a, BTreeMap<String, String>> {
        ready(
            self.call("ListTagsForResource")
                .map(|state| state.resource_tags.get(arn).cloned().unwrap_or_default()),
        )
    }
    fn service_deployment<'a>(
        &'a self,
        arn: &'a str,
    ) -> AwsFuture<'a, Option<ServiceDeploymentReading>> {
        ready(
            self.call("DescribeServiceDeployments")
                .map(|state| state.service_deployments.get(arn).cloned()),
        )
    }
    /// As ECS: only a hook awaiting action takes an answer (it then no
    /// longer awaits it).
    fn answer_hook<'a>(
        &'a self,
        service_deployment: &'a str,
        hook_id: &'a str,
        action: HookAction,
    ) -> AwsFuture<'a, ()> {
        ready(
            self.call("ContinueServiceDeployment")
                .and_then(|mut state| {
                    let hook = state
                        .service_deployments
                        .get_mut(service_deployment)
                        .filter(|d| d.status == "IN_PROGRESS")
                        .and_then(|d| {
                            d.hooks
                                .iter_mut()
                                .find(|h| h.hook_id == hook_id && h.status == "AWAITING_ACTION")
                        })
                        .ok_or_else(|| {
                            AwsError::TaskNotWaiting(format!("{service_deployment} hook {hook_id}"))
                        })?;
                    hook.status = match action {
                        HookAction::Continue => "SUCCEEDED".into(),
                        HookAction::Rollback => "FAILED".into(),
                    };
                    state.hook_answers.push((
                        service_deployment.to_string(),
                        hook_id.to_string(),
                        action,
                    ));
                    Ok(())
                }),
        )
    }
}

impl SecretStore for FakeAws {
    /// The secret's value; an unknown one is AWS's `ResourceNotFoundException`.
    fn value<'a>(&'a self, secret_id: &'a str) -> AwsFuture<'a, String> {
        ready(self.call("GetSecretValue").and_then(|state| {
            state
                .secrets
                .get(secret_id)
                .cloned()
                .ok_or_else(|| AwsError::Service {
                    operation: "secretsmanager:GetSecretValue",
                    code: "ResourceNotFoundException".into(),
                    message: format!(
                        "Secrets Manager can't find the specified secret: {secret_id}"
                    ),
                })
        }))
    }
}

impl WebhookApi for FakeAws {
    /// Records the post (arm a failure with `fail_next("PostWebhook", …)`:
    /// the post fails with that error's text).
    fn post_json<'a>(
        &'a self,
        url: &'a str,
        body: &'a serde_json::Value,
        _limit: std::time::Duration,
    ) -> WebhookFuture<'a> {
        let result = self
            .call("PostWebhook")
            .map(|mut state| state.webhook_posts.push((url.into(), body.clone())))
            .map_err(|e| e.to_string());
        Box::pin(std::future::ready(result))
    }
}

impl HistoryStore for FakeAws {
    fn record<'a>(&'a self, event: &'a HistoryEvent) -> AwsFuture<'a, ()> {
        ready(self.call("PutHistoryItem").map(|mut state| {
            // Written once, never overwritten (a conditional write).
            let key = event.sort_key();
            let taken = state
                .history
                .iter()
                .any(|e| e.sort_key() == key && e.service == event.service);
            if !taken {
                state.history.push(event.clone());
            }
        }))
    }
    fn list<'a>(&'a self, service: &'a str, limit: usize) -> AwsFuture<'a, Vec<HistoryEvent>> {
        ready(self.call("QueryHistory").map(|state| {
            let mut events: Vec<HistoryEvent> = state
                .history
                .iter()
                .filter(|e| e.service == service)
                .cloned()
                .collect();
            events.sort_by_key(|e| std::cmp::Reverse(e.sort_key()));
            events.truncate(limit);
            events
        }))
    }
    fn services(&self) -> AwsFuture<'_, Vec<String>> {
        ready(self.call("ScanHistory").map(|state| {
            let services: std::collections::BTreeSet<String> =
                state.history.iter().map(|e| e.service.clone()).collect();
            services.into_iter().collect()
        }))
    }
}

impl MetricStore for FakeAws {
    /// Every window reports `window` (candidate, stable), or no traffic.
    fn window<'a>(&'a self, query: &'a TrafficQuery) -> AwsFuture<'a, WindowEvidence> {
        ready(self.call("GetMetricData").map(|mut state| {
            state.windows_read.push((query.since, query.until));
            let (candidate, stable) = state.window.unwrap_or_default();
            WindowEvidence {
                since: query.since,
                until: query.until,
                candidate,
                stable,
            }
        }))
    }

    fn timeline<'a>(&'a self, _: &'a TrafficQuery) -> AwsFuture<'a, Timeline> {
        ready(self.call("GetMetricData").map(|_| Timeline::default()))
    }
}
