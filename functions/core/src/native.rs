//! Gates on ECS's own rollouts: a service with `deploymentController: ECS`,
//! a linear, canary or blue/green strategy and a pause hook before each production
//! traffic shift stops at every step until someone calls
//! `ContinueServiceDeployment`. ecs-canary asks a person at each of those
//! pauses, as it does between the steps of its own rollouts, and answers ECS
//! for them: an approval continues, anything else rolls back.
//!
//! Here: what a pause is (read from DescribeServiceDeployments), whether
//! ecs-canary may gate it (named refusals otherwise), which step it is, how
//! long a person may take, and the words people see.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::notice::truncate;
use crate::{
    lock_key, ApprovalFacts, ErrorKind, ErrorName, NativeSettings, Notice, SettingInvalid,
    TrafficQuery, TrafficSplit,
};

/// The service tag that enrols a service with ECS's own deployments (value `true`).
pub const GATE_TAG: &str = "ecs-canary:gate";

/// The longest ecs-canary keeps a pause for itself before the hook's own
/// `expiresAt`: it decides first, never ECS's timeout action.
pub const HOOK_MARGIN_SECONDS: u64 = 60;

/// The least ecs-canary keeps before the hook's own `expiresAt`: time for
/// its answer to reach ECS (the timer, a function's start, the call).
pub const HOOK_MIN_MARGIN_SECONDS: u64 = 10;

/// The shortest time worth asking a person for.
pub const MIN_ASK_SECONDS: u64 = 5;

/// Whether a service's tags enrol it.
pub fn enrolled(tags: &BTreeMap<String, String>) -> bool {
    tags.get(GATE_TAG)
        .is_some_and(|value| value.trim().eq_ignore_ascii_case("true"))
}

/// A lifecycle hook as DescribeServiceDeployments shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HookReading {
    pub hook_id: String,
    pub target_type: String,
    pub status: String,
    /// Seconds since the epoch.
    pub expires_at: Option<u64>,
    pub timeout_action: Option<String>,
}

/// A service revision of a deployment, with its production traffic weight.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RevisionReading {
    pub arn: String,
    pub production_weight: Option<f64>,
    /// `container: image`, read from DescribeServiceRevisions.
    #[serde(default)]
    pub images: Vec<String>,
}

/// One service deployment as DescribeServiceDeployments shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceDeploymentReading {
    pub arn: String,
    pub service_arn: String,
    pub cluster_arn: String,
    pub status: String,
    pub strategy: Option<String>,
    pub linear_step_percent: Option<f64>,
    pub canary_percent: Option<f64>,
    pub target: Option<RevisionReading>,
    pub sources: Vec<RevisionReading>,
    pub hooks: Vec<HookReading>,
    /// When ECS started it (seconds since the epoch).
    #[serde(default)]
    pub started_at: Option<u64>,
    /// The service's production listener rule and target groups, if it
    /// has a load balancer with an alternate target group.
    #[serde(default)]
    pub production: Option<ProductionRoutes>,
}

impl ServiceDeploymentReading {
    /// Whether ECS is still deploying (waiting at a pause, moving traffic or
    /// baking): not finished, failed, rolled back or stopped.
    pub fn in_progress(&self) -> bool {
        self.status == "IN_PROGRESS"
    }
}

/// A load balancer of a service deployed by ECS: the listener rule that
/// carries production traffic, the service's target group and its
/// alternate (`advancedConfiguration`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProductionRoutes {
    pub rule: String,
    pub primary_group: String,
    pub alternate_group: String,
}

/// Which of a deployment's target groups serves which revision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NativeRoutes {
    pub rule: String,
    pub candidate_group: String,
    pub stable_group: String,
}

impl NativeRoutes {
    /// From the rule's weights now (`(target group, weight)`) and the new
    /// revision's share of them: the group whose share it is serves the
    /// new revision. `None` when the weights do not tell (half and half,
    /// or neither group's share is the new revision's).
    pub fn read(
        production: &ProductionRoutes,
        weights: &[(String, i64)],
        candidate_percent: u8,
    ) -> Option<NativeRoutes> {
        let weight = |group: &str| -> i64 {
            weights
                .iter()
                .filter(|(g, _)| g == group)
                .map(|(_, w)| (*w).max(0))
                .sum()
        };
        let (primary, alternate) = (
            weight(&production.primary_group),
            weight(&production.alternate_group),
        );
        let total = primary + alternate;
        if total == 0 {
            return None;
        }
        let share = |w: i64| (w as f64) * 100.0 / (total as f64);
        let is_new = |w: i64| (share(w) - f64::from(candidate_percent)).abs() < 0.5;
        let routes = |candidate: &str, stable: &str| NativeRoutes {
            rule: production.rule.clone(),
            candidate_group: candidate.to_string(),
            stable_group: stable.to_string(),
        };
        match (is_new(primary), is_new(alternate)) {
            (true, false) => Some(routes(
                &production.primary_group,
                &production.alternate_group,
            )),
            (false, true) => Some(routes(
                &production.alternate_group,
                &production.primary_group,
            )),
            _ => None,
        }
    }
}

/// Why ecs-canary does not gate a pause: nothing is sent, nothing continued
/// or rolled back; the outcome is logged and recorded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NativeRefusal {
    #[error("the service {service} is not enrolled (tag it {GATE_TAG}=true)")]
    NotEnrolled { service: String },
    #[error("ECS knows no hook {hook} awaiting action in {deployment}")]
    UnknownHook { hook: String, deployment: String },
    #[error("the service deployment {deployment} is {status}, not IN_PROGRESS")]
    NotInProgress { deployment: String, status: String },
    #[error("the strategy of {deployment} cannot be read: {why}")]
    StrategyUnreadable { deployment: String, why: String },
}

impl ErrorName for NativeRefusal {
    fn error_kind(&self) -> ErrorKind {
        match self {
            NativeRefusal::NotEnrolled { .. } => ErrorKind::NotEnrolled,
            NativeRefusal::UnknownHook { .. } => ErrorKind::UnknownHook,
            NativeRefusal::NotInProgress { .. } => ErrorKind::DeploymentNotInProgress,
            NativeRefusal::StrategyUnreadable { .. } => ErrorKind::StrategyUnreadable,
        }
    }
}

/// What ecs-canary answers ECS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum HookAction {
    Continue,
    Rollback,
}

impl HookAction {
    pub fn as_str(self) -> &'static str {
        match self {
            HookAction::Continue => "CONTINUE",
            HookAction::Rollback => "ROLLBACK",
        }
    }
}

/// The production percentages a strategy moves the new revision through
/// before it gets everything: `0` (the first pause, before any traffic),
/// then every step short of 100 — LINEAR 25: `[0, 25, 50, 75]`; CANARY 10:
/// `[0, 10]`; BLUE_GREEN: `[0]` (one shift of everything, one pause before it).
/// One pause comes before each shift, so each entry is a pause.
pub fn native_plan(
    strategy: &str,
    linear_step: Option<f64>,
    canary: Option<f64>,
) -> Result<Vec<u8>, String> {
    let valid = |p: f64| p.is_finite() && (1.0..100.0).contains(&p);
    match strategy {
        "LINEAR" => {
            let step = linear_step.ok_or("LINEAR without linearConfiguration.stepPercent")?;
            if !valid(step) {
                return Err(format!("stepPercent {step} is not in 1–99"));
            }
            let mut plan = vec![0u8];
            let mut weight = step;
            while weight.round() < 100.0 {
                plan.push(weight.round() as u8);
                weight += step;
            }
            Ok(plan)
        }
        "CANARY" => {
            let percent = canary.ok_or("CANARY without canaryConfiguration.canaryPercent")?;
            if !valid(percent) {
                return Err(format!("canaryPercent {percent} is not in 1–99"));
            }
            Ok(vec![0, percent.round() as u8])
        }
        "BLUE_GREEN" => Ok(vec![0]),
        other => Err(format!(
            "strategy {other} has no traffic shift to gate (LINEAR, CANARY or BLUE_GREEN)"
        )),
    }
}

/// What enrolling a service looks at: its deployment controller and
/// strategy, its pause hook before production traffic shifts, its tags.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnrolmentReading {
    pub service_arn: String,
    /// `ECS`, `EXTERNAL`, `CODE_DEPLOY`.
    pub controller: String,
    pub strategy: Option<String>,
    /// The timeout (minutes) of its PAUSE hook at
    /// `PRE_PRODUCTION_TRAFFIC_SHIFT`, if it has one.
    pub pause_hook_minutes: Option<i32>,
    pub tags: BTreeMap<String, String>,
}

/// What `ecs-canary enroll` would change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnrolmentPlan {
    pub service_arn: String,
    /// Set the tag [`GATE_TAG`] = `true`.
    pub tag: bool,
    /// Add a PAUSE hook at `PRE_PRODUCTION_TRAFFIC_SHIFT` with this timeout
    /// (minutes), or make the existing one's this long.
    pub hook_minutes: Option<i32>,
    /// The setting tags to set (those whose value changes).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub settings: BTreeMap<String, String>,
}

impl EnrolmentPlan {
    /// Nothing to change: the service is enrolled as asked.
    pub fn is_done(&self) -> bool {
        !self.tag && self.hook_minutes.is_none() && self.settings.is_empty()
    }
}

/// Why a service cannot be enrolled as asked.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EnrolmentError {
    #[error(transparent)]
    Refused(#[from] NativeRefusal),
    #[error(transparent)]
    Setting(#[from] SettingInvalid),
}

impl ErrorName for EnrolmentError {
    fn error_kind(&self) -> ErrorKind {
        match self {
            EnrolmentError::Refused(refusal) => refusal.error_kind(),
            EnrolmentError::Setting(invalid) => invalid.error_kind(),
        }
    }
}

/// The pause hook's timeout that outlasts an approval of
/// `approval_timeout` seconds (and ecs-canary's margin): whole minutes.
pub fn hook_minutes_for(approval_timeout: u64) -> i32 {
    let seconds = approval_timeout + 2 * HOOK_MARGIN_SECONDS;
    i32::try_from(seconds.div_ceil(60)).unwrap_or(i32::MAX)
}

/// What enrolling `reading`'s service takes with the setting tags `wanted`
/// (beside those it has): the tag, a pause hook that outlasts its approval
/// timeout, the settings that change. `StrategyUnreadable` for a service
/// whose deployments ecs-canary cannot gate this way, `InvalidField` for a
/// setting that is not one.
pub fn enrolment_plan(
    reading: &EnrolmentReading,
    wanted: &BTreeMap<String, String>,
) -> Result<EnrolmentPlan, EnrolmentError> {
    let refuse = |why: String| {
        EnrolmentError::Refused(NativeRefusal::StrategyUnreadable {
            deployment: reading.service_arn.clone(),
            why,
        })
    };
    if reading.controller != "ECS" {
        return Err(refuse(format!(
            "the service deploys with the {} controller, not ECS's own (an EXTERNAL service is one of ecs-canary's own rollouts)",
            reading.controller
        )));
    }
    match reading.strategy.as_deref() {
        Some("LINEAR" | "CANARY" | "BLUE_GREEN") => {}
        other => {
            return Err(refuse(format!(
                "its strategy is {}, which has no traffic shift to gate: set LINEAR, CANARY or BLUE_GREEN",
                other.unwrap_or("ROLLING")
            )))
        }
    }
    let mut tags = reading.tags.clone();
    tags.extend(wanted.clone());
    let settings = NativeSettings::from_tags(&tags)?;
    let hook = hook_minutes_for(
        settings
            .approval_timeout_seconds
            .unwrap_or(crate::DEFAULT_APPROVAL_TIMEOUT_SECONDS),
    );
    let changed = wanted
        .iter()
        .filter(|(tag, value)| reading.tags.get(*tag) != Some(*value))
        .map(|(tag, value)| (tag.clone(), value.clone()))
        .collect();
    Ok(EnrolmentPlan {
        service_arn: reading.service_arn.clone(),
        tag: !enrolled(&reading.tags),
        settings: changed,
        hook_minutes: match reading.pause_hook_minutes {
            Some(minutes) if minutes >= hook => None,
            _ => Some(hook),
        },
    })
}

/// A pause ecs-canary gates: what people are asked about, and how to answer ECS.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NativePause {
    pub cluster: String,
    pub service: String,
    pub service_deployment: String,
    pub hook_id: String,
    /// `LINEAR`, `CANARY` or `BLUE_GREEN`.
    pub strategy: String,
    /// See [`native_plan`].
    pub plan: Vec<u8>,
    /// 1-based: this pause comes before the shift from `plan[step - 1]`.
    pub step: usize,
    /// The source and target revisions (ARNs).
    pub source_revision: Option<String>,
    pub target_revision: String,
    /// Images before → after, for people.
    pub release: String,
    /// When the hook times out (seconds since the epoch).
    pub hook_expires_at: Option<u64>,
    /// How long a person may take: the approval timeout, cut short to end
    /// before the hook's own timeout.
    pub approval_timeout_seconds: u64,
    /// The gate's Step Functions execution (set once it runs).
    #[serde(default)]
    pub execution: String,
    /// When ECS started the deployment (seconds since the epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<u64>,
    /// Which target group serves the new revision, when known: the
    /// numbers people are shown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routes: Option<NativeRoutes>,
    /// The service's own settings (its tags): among them the CloudWatch
    /// alarms that guard it (one in ALARM rolls the deployment back).
    #[serde(default)]
    pub settings: NativeSettings,
}

fn short_name(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

impl NativePause {
    /// The pause `hook` (or, without one, the one hook awaiting action) of
    /// `deployment`, gated under the service's `settings` (the approval
    /// timeout: theirs, or a day) at `now`.
    pub fn read(
        deployment: &ServiceDeploymentReading,
        hook: Option<&str>,
        settings: &NativeSettings,
        now: u64,
    ) -> Result<NativePause, NativeRefusal> {
        let approval_timeout = settings
            .approval_timeout_seconds
            .unwrap_or(crate::DEFAULT_APPROVAL_TIMEOUT_SECONDS);
        if !deployment.in_progress() {
            return Err(NativeRefusal::NotInProgress {
                deployment: deployment.arn.clone(),
                status: deployment.status.clone(),
            });
        }
        let awaiting = deployment.hooks.iter().find(|h| {
            h.status == "AWAITING_ACTION"
                && h.target_type == "PAUSE"
                && hook.is_none_or(|wanted| wanted == h.hook_id)
        });
        let Some(awaiting) = awaiting else {
            return Err(NativeRefusal::UnknownHook {
                hook: hook.unwrap_or("(any)").to_string(),
                deployment: deployment.arn.clone(),
            });
        };
        let unreadable = |why: String| NativeRefusal::StrategyUnreadable {
            deployment: deployment.arn.clone(),
            why,
        };
        let plan = native_plan(
            deployment.strategy.as_deref().unwrap_or("ROLLING"),
            deployment.linear_step_percent,
            deployment.canary_percent,
        )
        .map_err(unreadable)?;
        let target = deployment
            .target
            .as_ref()
            .ok_or_else(|| unreadable("no target revision".into()))?;
        let weight = target.production_weight.unwrap_or(0.0);
        let step = plan
            .iter()
            .position(|p| (f64::from(*p) - weight).abs() < 0.5)
            .ok_or_else(|| {
                unreadable(format!(
                    "the new revision has {weight} % of production traffic, which is no step of {plan:?}"
                ))
            })?
            + 1;
        let source = deployment.sources.first();
        let images = |revision: Option<&RevisionReading>| {
            revision
                .map(|r| r.images.join(", "))
                .filter(|text| !text.is_empty())
                .unwrap_or_else(|| "unknown".into())
        };
        let left = awaiting
            .expires_at
            .map(|at| at.saturating_sub(now))
            .unwrap_or(u64::MAX);
        let margin = (left / 10).clamp(HOOK_MIN_MARGIN_SECONDS, HOOK_MARGIN_SECONDS);
        Ok(NativePause {
            cluster: short_name(&deployment.cluster_arn).to_string(),
            service: short_name(&deployment.service_arn).to_string(),
            service_deployment: deployment.arn.clone(),
            hook_id: awaiting.hook_id.clone(),
            strategy: deployment.strategy.clone().unwrap_or_default(),
            plan,
            step,
            source_revision: source.map(|s| s.arn.clone()),
            target_revision: target.arn.clone(),
            release: format!("{} → {}", images(source), images(Some(target))),
            hook_expires_at: awaiting.expires_at,
            approval_timeout_seconds: approval_timeout.min(left.saturating_sub(margin)),
            execution: String::new(),
            started_at: deployment.started_at,
            routes: None,
            settings: settings.clone(),
        })
    }

    /// Whether there is time to ask anyone before the hook's own timeout;
    /// if not, ecs-canary rolls back at once (it never leaves the choice to
    /// ECS's timeout action).
    pub fn time_to_ask(&self) -> bool {
        self.approval_timeout_seconds >= MIN_ASK_SECONDS
    }

    /// Until when the gate holds the service: the hook's own timeout (ECS
    /// decides nothing later), or the approval's, and a margin.
    pub fn lock_expiry(&self, now: u64) -> u64 {
        self.hook_expires_at
            .unwrap_or(now + self.approval_timeout_seconds)
            .max(now)
            + HOOK_MARGIN_SECONDS
    }

    /// The service's lock key (`cluster/service`): where its history lives.
    pub fn lock_key(&self) -> String {
        lock_key(&self.cluster, &self.service)
    }

    /// The new revision's production share now.
    pub fn current_percent(&self) -> u8 {
        self.plan.get(self.step - 1).copied().unwrap_or_default()
    }

    /// The share an approval moves to; `None`: all of it (ECS finishes).
    pub fn next_percent(&self) -> Option<u8> {
        self.plan.get(self.step).copied()
    }

    /// What to read from CloudWatch: the rollout so far, from ECS's start
    /// until `until`; `None` when the target groups are not known.
    pub fn traffic_query(&self, until: u64) -> Option<TrafficQuery> {
        let routes = self.routes.as_ref()?;
        let since = self.started_at?;
        TrafficQuery::new(
            &routes.rule,
            &routes.candidate_group,
            &routes.stable_group,
            since,
            until.max(since),
        )
    }

    /// The first pause: the new revision has served no production traffic.
    pub fn before_any_traffic(&self) -> bool {
        self.step == 1
    }

    /// Why this pause has no numbers to show, if it has none.
    pub fn without_numbers(&self) -> Option<&'static str> {
        if self.before_any_traffic() {
            Some("the new revision has served no production traffic yet")
        } else if self.routes.is_none() {
            Some("the production rule does not tell which target group serves the new revision")
        } else if self.started_at.is_none() {
            Some("ECS does not say when the deployment started")
        } else {
            None
        }
    }

    /// What the numbers of the rollout so far are called.
    pub fn window_label(&self, minutes: u64) -> String {
        format!(
            "the rollout so far ({minutes} min; the new revision now at {} %)",
            self.current_percent()
        )
    }

    /// "step 2 of 4".
    pub fn label(&self) -> String {
        format!("step {} of {}", self.step, self.plan.len())
    }

    /// What people are shown (the same words as for ecs-canary's own rollouts).
    pub fn facts(&self, started: Option<String>) -> ApprovalFacts {
        let current = i64::from(self.current_percent());
        ApprovalFacts {
            cluster: self.cluster.clone(),
            service: self.service.clone(),
            release: format!("{} (ECS {} deployment)", self.release, self.strategy),
            stable: "current revision".into(),
            candidate: "new revision".into(),
            step: self.step,
            steps: self.plan.len(),
            split: TrafficSplit::new(100 - current, current).unwrap_or(TrafficSplit::all_stable()),
            next_percent: self.next_percent(),
            evidence: None,
            plan: self.plan.clone(),
            started,
            holdable: false,
            back_at_zero: false,
            revert: false,
        }
    }

    /// The pause a gate recorded when it read it (its `paused` history
    /// event carries it whole); `None` for any other event.
    pub fn recorded_in(event: &crate::HistoryEvent) -> Option<NativePause> {
        if event.kind != crate::HistoryKind::Paused {
            return None;
        }
        serde_json::from_value(event.detail.get("pause")?.clone()).ok()
    }

    /// Whether ECS still waits on this pause, by what it shows now.
    pub fn still_waits(&self, now: &ServiceDeploymentReading) -> bool {
        now.in_progress()
            && now
                .hooks
                .iter()
                .any(|h| h.hook_id == self.hook_id && h.status == "AWAITING_ACTION")
    }

    /// What the channels are told when the pause ended in ECS before
    /// anyone decided it (`status`: the deployment's, as ECS reports it).
    pub fn ended_notice(&self, status: &str) -> Notice {
        Notice {
            subject: truncate(format!(
                "{}: the ECS deployment ended while {} waited ({status})",
                self.service,
                self.label()
            )),
            text: format!(
                "The ECS {} deployment of {} (cluster {}) is no longer waiting at {}: ECS reports it {status} (finished, failed, rolled back, or stopped by someone). Its approval links are closed; nothing was decided by ecs-canary.\n\nRelease: {}\nService deployment: {}\n",
                self.strategy,
                self.service,
                self.cluster,
                self.label(),
                self.release,
                self.service_deployment
            ),
        }
    }

    /// What the channels are told when ecs-canary rolled the deployment
    /// back without a person's reject (`error`: why, by name).
    pub fn rolled_back_notice(&self, error: &str, cause: &str) -> Notice {
        let what = match ErrorKind::parse(error) {
            _ if error == "States.Timeout" => "nobody decided in time",
            Some(ErrorKind::AlarmTriggered) => "a guarding alarm fired",
            Some(ErrorKind::AnalysisFailed) => "the automatic analysis failed",
            Some(ErrorKind::HookExpiring) => "the pause hook expired too soon to ask anyone",
            Some(ErrorKind::InvalidField) => "the service's settings cannot be read",
            _ => "the gate could not go on",
        };
        Notice {
            subject: truncate(format!(
                "{}: {what} - ECS rolls the deployment back",
                self.service
            )),
            text: format!(
                "The ECS {} deployment of {} (cluster {}) was told to roll back at {}: {what}.\n\n\
                 Why:       {error}: {cause}\n\
                 Release:   {}\n\
                 Traffic:   ECS puts production traffic back on the current revision.\n\n\
                 The pause's approval links are void. Service deployment: {}\n",
                self.strategy,
                self.service,
                self.cluster,
                self.label(),
                self.release,
                self.service_deployment
            ),
        }
    }

    /// The name of the gate's execution: one per pause (a repeated hook
    /// event finds it again), within Step Functions' 80 characters of
    /// `[A-Za-z0-9_-]`.
    pub fn execution_name(hook_id: &str) -> String {
        let cleaned: String = hook_id
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        let start = cleaned.len().saturating_sub(70);
        format!("gate-{}", &cleaned[start..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::APPROVAL_TIMEOUT_TAG;
    use proptest::prelude::*;

    fn reading(weight: f64, status: &str) -> ServiceDeploymentReading {
        ServiceDeploymentReading {
            arn: "arn:aws:ecs:us-east-1:1:service-deployment/c/web/abc".into(),
            service_arn: "arn:aws:ecs:us-east-1:1:service/c/web".into(),
            cluster_arn: "arn:aws:ecs:us-east-1:1:cluster/c".into(),
            status: status.into(),
            strategy: Some("LINEAR".into()),
            linear_step_percent: Some(25.0),
            canary_percent: None,
            target: Some(RevisionReading {
                arn: "rev/new".into(),
                production_weight: Some(weight),
                images: vec!["web: repo/web:2".into()],
            }),
            sources: vec![RevisionReading {
                arn: "rev/old".into(),
                production_weight: Some(100.0 - weight),
                images: vec!["web: repo/web:1".into()],
            }],
            hooks: vec![HookReading {
                hook_id: "ecs-pause-1".into(),
                target_type: "PAUSE".into(),
                status: "AWAITING_ACTION".into(),
                expires_at: Some(10_000),
                timeout_action: Some("ROLLBACK".into()),
            }],
            started_at: Some(900),
            production: None,
        }
    }

    /// The pause under settings that give it `timeout` seconds.
    fn read_with(
        deployment: &ServiceDeploymentReading,
        hook: Option<&str>,
        timeout: u64,
        now: u64,
    ) -> Result<NativePause, NativeRefusal> {
        let settings = NativeSettings {
            approval_timeout_seconds: Some(timeout),
            ..NativeSettings::default()
        };
        NativePause::read(deployment, hook, &settings, now)
    }

    #[test]
    fn the_new_revisions_target_group_is_the_one_with_its_share() {
        let production = ProductionRoutes {
            rule: "rule/prod".into(),
            primary_group: "tg/blue".into(),
            alternate_group: "tg/green".into(),
        };
        let weights = |blue: i64, green: i64| {
            vec![
                ("tg/blue".to_string(), blue),
                ("tg/green".to_string(), green),
            ]
        };
        let at_25 = NativeRoutes::read(&production, &weights(75, 25), 25).expect("told");
        assert_eq!(
            (at_25.candidate_group.as_str(), at_25.stable_group.as_str()),
            ("tg/green", "tg/blue")
        );
        // The next deployment starts from green: blue gets the new revision.
        let back = NativeRoutes::read(&production, &weights(0, 100), 0).expect("told");
        assert_eq!(back.candidate_group, "tg/blue");
        // Weights in other units than percent.
        assert_eq!(
            NativeRoutes::read(&production, &weights(3, 1), 25).map(|r| r.candidate_group),
            Some("tg/green".to_string())
        );
        // Half and half, a share that is no step, no weights: not told.
        assert_eq!(NativeRoutes::read(&production, &weights(50, 50), 50), None);
        assert_eq!(NativeRoutes::read(&production, &weights(60, 40), 25), None);
        assert_eq!(NativeRoutes::read(&production, &[], 0), None);
    }

    #[test]
    fn a_linear_pause_is_the_step_its_production_weight_says() {
        let pause = read_with(
            &reading(25.0, "IN_PROGRESS"),
            Some("ecs-pause-1"),
            600,
            1_000,
        )
        .expect("a pause");
        assert_eq!(pause.plan, vec![0, 25, 50, 75]);
        assert_eq!(
            (pause.step, pause.current_percent(), pause.next_percent()),
            (2, 25, Some(50))
        );
        assert_eq!(pause.release, "web: repo/web:1 → web: repo/web:2");
        assert_eq!(
            (pause.cluster.as_str(), pause.service.as_str()),
            ("c", "web")
        );
        let facts = pause.facts(None);
        assert_eq!(facts.step_label(), "step 2 of 4");
        assert!(
            facts.on_approve().contains("50 %"),
            "{}",
            facts.on_approve()
        );
        assert!(facts.on_reject().contains("current revision"));
        let last = read_with(&reading(75.0, "IN_PROGRESS"), None, 600, 1_000).expect("a pause");
        assert_eq!(
            last.next_percent(),
            None,
            "the last approval lets ECS finish"
        );
        assert!(last.facts(None).on_approve().contains("100 %"));
    }

    #[test]
    fn the_approval_ends_before_the_hooks_own_timeout() {
        // 9 000 s left: the margin is the most (60 s); the timeout is the shorter.
        let pause = read_with(&reading(0.0, "IN_PROGRESS"), None, 86_400, 1_000).expect("a pause");
        assert_eq!(pause.approval_timeout_seconds, 9_000 - 60);
        let pause = read_with(&reading(0.0, "IN_PROGRESS"), None, 600, 1_000).expect("a pause");
        assert_eq!(pause.approval_timeout_seconds, 600);
        // 30 s left: a tenth of it, at least 10 s, is kept.
        let pause = read_with(&reading(0.0, "IN_PROGRESS"), None, 600, 9_970).expect("a pause");
        assert_eq!(pause.approval_timeout_seconds, 20);
        assert!(pause.time_to_ask());
        // 14 s left: 4 s to ask is not worth it; 15 s: 5 s is.
        let late = read_with(&reading(0.0, "IN_PROGRESS"), None, 600, 9_986).expect("a pause");
        assert!(!late.time_to_ask(), "{late:?}");
        let last = read_with(&reading(0.0, "IN_PROGRESS"), None, 600, 9_985).expect("a pause");
        assert!(last.time_to_ask(), "{last:?}");
    }

    #[test]
    fn what_cannot_be_gated_is_refused_by_name() {
        let not_running = read_with(&reading(0.0, "SUCCESSFUL"), None, 600, 0).unwrap_err();
        assert_eq!(not_running.error_type(), "DeploymentNotInProgress");
        let unknown = read_with(&reading(0.0, "IN_PROGRESS"), Some("other"), 600, 0).unwrap_err();
        assert_eq!(unknown.error_type(), "UnknownHook");
        let mut rolling = reading(0.0, "IN_PROGRESS");
        rolling.strategy = Some("ROLLING".into());
        assert_eq!(
            read_with(&rolling, None, 600, 0).unwrap_err().error_type(),
            "StrategyUnreadable"
        );
        let odd = read_with(&reading(33.0, "IN_PROGRESS"), None, 600, 0).unwrap_err();
        assert_eq!(odd.error_type(), "StrategyUnreadable");
        let mut answered = reading(0.0, "IN_PROGRESS");
        answered.hooks[0].status = "SUCCEEDED".into();
        assert_eq!(
            read_with(&answered, None, 600, 0).unwrap_err().error_type(),
            "UnknownHook"
        );
    }

    #[test]
    fn only_the_tag_set_to_true_enrols() {
        let tags = |v: &str| BTreeMap::from([(GATE_TAG.to_string(), v.to_string())]);
        assert!(enrolled(&tags("true")) && enrolled(&tags("TRUE")));
        assert!(!enrolled(&tags("false")) && !enrolled(&tags("")) && !enrolled(&BTreeMap::new()));
    }

    #[test]
    fn enrolment_adds_what_is_missing_and_refuses_what_cannot_be_gated() {
        let reading = EnrolmentReading {
            service_arn: "arn:service/c/web".into(),
            controller: "ECS".into(),
            strategy: Some("LINEAR".into()),
            pause_hook_minutes: None,
            tags: BTreeMap::new(),
        };
        let none = BTreeMap::new();
        let plan = enrolment_plan(&reading, &none).expect("a plan");
        assert!(plan.tag);
        // 24 h and two margins, in whole minutes: longer than the approval.
        assert_eq!(plan.hook_minutes, Some(1_442));
        assert!(i64::from(hook_minutes_for(86_400)) * 60 > 86_400);
        let enrolled = EnrolmentReading {
            pause_hook_minutes: Some(1_500),
            tags: BTreeMap::from([(GATE_TAG.to_string(), "true".to_string())]),
            ..reading.clone()
        };
        assert!(enrolment_plan(&enrolled, &none).expect("a plan").is_done());
        let short = EnrolmentReading {
            pause_hook_minutes: Some(60),
            ..enrolled.clone()
        };
        assert_eq!(
            enrolment_plan(&short, &none).expect("a plan").hook_minutes,
            Some(1_442)
        );
        // Its own settings: only what changes is set; the hook outlasts
        // the approval timeout asked for; a value that is no setting is refused.
        let wanted = BTreeMap::from([
            (APPROVAL_TIMEOUT_TAG.to_string(), "172800".to_string()),
            (crate::ALARMS_TAG.to_string(), "web-5xx".to_string()),
        ]);
        let mut has_alarm = enrolled.clone();
        has_alarm
            .tags
            .insert(crate::ALARMS_TAG.into(), "web-5xx".into());
        let plan = enrolment_plan(&has_alarm, &wanted).expect("a plan");
        assert_eq!(
            plan.settings.keys().collect::<Vec<_>>(),
            vec![APPROVAL_TIMEOUT_TAG]
        );
        assert_eq!(plan.hook_minutes, Some(hook_minutes_for(172_800)));
        let bad = BTreeMap::from([(APPROVAL_TIMEOUT_TAG.to_string(), "2d".to_string())]);
        assert_eq!(
            enrolment_plan(&enrolled, &bad).unwrap_err().error_type(),
            "InvalidField"
        );
        for (controller, strategy) in [
            ("EXTERNAL", Some("LINEAR")),
            ("ECS", Some("ROLLING")),
            ("ECS", None),
        ] {
            let refused = enrolment_plan(
                &EnrolmentReading {
                    controller: controller.into(),
                    strategy: strategy.map(str::to_string),
                    ..reading.clone()
                },
                &none,
            )
            .unwrap_err();
            assert_eq!(refused.error_type(), "StrategyUnreadable");
        }
    }

    #[test]
    fn canary_plans_and_execution_names() {
        assert_eq!(native_plan("CANARY", None, Some(10.0)), Ok(vec![0, 10]));
        assert!(native_plan("CANARY", None, None).is_err());
        assert_eq!(native_plan("BLUE_GREEN", None, None), Ok(vec![0]));
        assert!(native_plan("ROLLING", None, None).is_err());
        assert!(native_plan("LINEAR", Some(0.0), None).is_err());
        let name = NativePause::execution_name(&format!("ecs-pause-{}", "x/".repeat(60)));
        assert!(name.len() <= 80 && name.starts_with("gate-"), "{name}");
        assert!(name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    }

    proptest! {
        /// Every plan starts at 0, rises strictly, stays below 100, and
        /// every pause of it is read back as its own step.
        #[test]
        fn every_pause_of_a_linear_plan_is_its_own_step(step in 1.0f64..99.0) {
            let plan = native_plan("LINEAR", Some(step), None).expect("a plan");
            prop_assert_eq!(plan[0], 0);
            prop_assert!(plan.windows(2).all(|w| w[0] < w[1]) && *plan.last().unwrap() < 100);
            for (index, percent) in plan.iter().enumerate() {
                let mut at = reading(f64::from(*percent), "IN_PROGRESS");
                at.linear_step_percent = Some(step);
                let pause = read_with(&at, None, 600, 0).expect("a pause");
                prop_assert_eq!(pause.step, index + 1);
                prop_assert_eq!(pause.current_percent(), *percent);
            }
        }

        /// Whatever the approval timeout and the time left, a person's time
        /// ends before the hook's.
        #[test]
        fn the_gate_decides_before_the_hook_times_out(timeout in 1u64..1_000_000, left in 0u64..1_000_000) {
            let mut at = reading(0.0, "IN_PROGRESS");
            at.hooks[0].expires_at = Some(1_000 + left);
            let pause = read_with(&at, None, timeout, 1_000).expect("a pause");
            prop_assert!(pause.approval_timeout_seconds <= timeout);
            prop_assert!(pause.approval_timeout_seconds < left.max(1));
        }
    }
}
