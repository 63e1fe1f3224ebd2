//! ecs-hook: the pauses of ECS's own deployments. A paused deployment of an
//! enrolled service (`HOOK_AWAITING_ACTION`) starts one gate execution per
//! pause; the gate reads the pause again, asks people (request-approval),
//! and answers ECS here: an approval continues, anything else rolls back.

use std::sync::Arc;

use ecs_canary_aws::{AwsError, LockGuard, StartOutcome};
use ecs_canary_core::{
    enrolled, execution_arn, lock_key, ErrorKind, ErrorName, HistoryEvent, HookAction, NativePause,
    NativeRefusal, NativeRoutes, NativeSettings, ProductionRoutes, SettingInvalid,
};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::actions::evidence::{check_guarding_alarms, check_pause_analysis};
use crate::actions::native::{close_ended, ended, recorded_pauses};
use crate::actions::notify::send_notice;
use crate::events::{error_and_cause, parse};
use crate::{Context, FunctionError, PortSet, Ports};

/// The ports this function holds (its binary links their SDKs only).
pub const PORTS: PortSet = Ports::NATIVE
    | Ports::LOCKS
    | Ports::ALARMS
    | Ports::METRICS
    | Ports::RULES
    | Ports::STARTS
    | Ports::HISTORY
    | Ports::APPROVALS
    | Ports::CALLBACKS
    | Ports::NOTIFICATIONS
    | Ports::SECRETS
    | Ports::WEBHOOKS;

/// Which pause: the service deployment and its hook.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PauseRef {
    service_deployment_arn: String,
    hook_id: String,
    #[serde(default)]
    service_arn: String,
}

/// The gate's first state: the pause read again, as it stands now.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReadEvent {
    read: PauseRef,
    execution: String,
}

/// The gate's last state: ECS answered.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AnswerEvent {
    answer: HookAction,
    pause: NativePause,
    /// Why a rollback (a Step Functions error object), if one.
    #[serde(default)]
    failure: Value,
}

pub async fn ecs_hook(context: Arc<Context>, event: Value) -> Result<Value, FunctionError> {
    let context = context.only(PORTS);
    if event.get("read").is_some() {
        return read(&context, parse(event)?).await;
    }
    if event.get("answer").is_some() {
        return answer(&context, parse(event)?).await;
    }
    match event.get("detail-type").and_then(Value::as_str) {
        Some("ECS Hook State Change") => on_hook(&context, &event).await,
        Some("ECS Deployment State Change") => on_deployment_change(&context, &event).await,
        other => {
            tracing::info!(detail_type = ?other, "not a pause of an ECS deployment; ignored");
            Ok(json!({"ignored": true}))
        }
    }
}

/// The service's `cluster/service` key from its ARN
/// (`…:service/cluster/name`).
fn service_key(service_arn: &str) -> String {
    let mut parts = service_arn.rsplit('/');
    let service = parts.next().unwrap_or_default();
    let cluster = parts.next().unwrap_or_default();
    lock_key(cluster, service)
}

/// A pause the gate may not take: logged and recorded, nothing else.
async fn left_alone(
    context: &Context,
    service_arn: &str,
    execution: &str,
    refusal: NativeRefusal,
) -> Result<Value, FunctionError> {
    tracing::warn!(reason = refusal.error_type(), %refusal, service = %service_arn, "pause left alone");
    context
        .record(HistoryEvent::pause(
            service_key(service_arn),
            execution,
            context.now_millis(),
            None,
            &format!("pause left alone: {}: {refusal}", refusal.error_type()),
            json!({"outcome": refusal.error_type()}),
        ))
        .await;
    Ok(json!({"ignored": refusal.error_type()}))
}

/// A pause as it stands now.
struct PauseNow {
    pause: NativePause,
    /// The service's load balancer, if ECS shifts traffic on one.
    production: Option<ProductionRoutes>,
    /// A tag of the service's that is no setting (the pause is read with
    /// the stack's defaults; the gate asks nobody and rolls back).
    invalid: Option<SettingInvalid>,
}

/// The pause as it stands, or why the gate may not take it.
async fn pause_now(
    context: &Context,
    pause: &PauseRef,
) -> Result<Result<PauseNow, NativeRefusal>, FunctionError> {
    let Some(found) = context
        .ports
        .native()
        .service_deployment(&pause.service_deployment_arn)
        .await?
    else {
        return Ok(Err(NativeRefusal::UnknownHook {
            hook: pause.hook_id.clone(),
            deployment: pause.service_deployment_arn.clone(),
        }));
    };
    let tags = context.ports.native().tags(&found.service_arn).await?;
    if !enrolled(&tags) {
        return Ok(Err(NativeRefusal::NotEnrolled {
            service: found.service_arn.clone(),
        }));
    }
    let (settings, invalid) = match NativeSettings::from_tags(&tags) {
        Ok(settings) => (settings, None),
        Err(invalid) => (NativeSettings::default(), Some(invalid)),
    };
    Ok(
        NativePause::read(&found, Some(&pause.hook_id), &settings, context.now()).map(|read| {
            PauseNow {
                pause: read,
                production: found.production.clone(),
                invalid,
            }
        }),
    )
}

/// Which target group serves the new revision: told by the production
/// rule's weights, or (half and half) by an earlier pause of the same
/// deployment. Numbers never block a decision: a rule that cannot be read
/// leaves it unknown.
async fn routes_of(
    context: &Context,
    pause: &NativePause,
    production: &ProductionRoutes,
) -> Option<NativeRoutes> {
    let weights: Vec<(String, i64)> = match context.ports.rules().rule(&production.rule).await {
        Ok(rule) => rule
            .forward_targets()
            .into_iter()
            .map(|t| (t.target_group_arn, t.weight))
            .collect(),
        Err(error) => {
            tracing::warn!(%error, "the production rule could not be read: no numbers for this pause");
            return None;
        }
    };
    if let Some(routes) = NativeRoutes::read(production, &weights, pause.current_percent()) {
        return Some(routes);
    }
    recorded_pauses(context, &pause.lock_key())
        .await
        .ok()?
        .into_iter()
        .filter(|earlier| earlier.service_deployment == pause.service_deployment)
        .find_map(|earlier| earlier.routes)
}

/// `HOOK_AWAITING_ACTION`: one gate execution per pause, named after the
/// hook, so the same event twice finds the same execution.
async fn on_hook(context: &Context, event: &Value) -> Result<Value, FunctionError> {
    let detail = event.get("detail").cloned().unwrap_or_default();
    if detail.get("eventName").and_then(Value::as_str) != Some("HOOK_AWAITING_ACTION") {
        tracing::info!("not a hook awaiting action; ignored");
        return Ok(json!({"ignored": true}));
    }
    let mut pause: PauseRef = parse(detail)?;
    if pause.service_arn.is_empty() {
        pause.service_arn = event
            .pointer("/resources/0")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
    }
    let state_machine =
        context
            .settings
            .gate_state_machine_arn
            .as_deref()
            .ok_or(FunctionError::NotConfigured(
                "ECS_CANARY_GATE_STATE_MACHINE_ARN",
            ))?;
    let name = NativePause::execution_name(&pause.hook_id);
    if let Err(refusal) = pause_now(context, &pause).await? {
        return left_alone(
            context,
            &pause.service_arn,
            &execution_arn(state_machine, &name),
            refusal,
        )
        .await;
    }
    let input = json!({"serviceDeploymentArn": pause.service_deployment_arn, "hookId": pause.hook_id, "serviceArn": pause.service_arn});
    match context
        .ports
        .starts()
        .start(state_machine, &name, &input.to_string())
        .await?
    {
        StartOutcome::Started(arn) => {
            tracing::info!(execution = %arn, hook = %pause.hook_id, "gate for this pause (a repeated event finds the same execution)");
            Ok(json!({"started": arn}))
        }
        StartOutcome::AlreadyExists => {
            tracing::info!(hook = %pause.hook_id, "this pause already had its gate; nothing started");
            Ok(json!({"duplicate": name}))
        }
    }
}

/// The gate's first state: the pause read again (it may have ended since
/// the event); the gate takes the service's lock (guarded by its alarms,
/// which a fired one then finds) until it answers. It asks nobody when a
/// guarding alarm is in ALARM already (`AlarmTriggered`) or the hook
/// expires too soon (`HookExpiring`): the gate rolls back.
async fn read(context: &Context, event: ReadEvent) -> Result<Value, FunctionError> {
    let PauseNow {
        mut pause,
        production,
        invalid,
    } = pause_now(context, &event.read).await??;
    pause.execution = event.execution.clone();
    if let Some(production) = &production {
        pause.routes = routes_of(context, &pause, production).await;
    }
    let now = context.now();
    context
        .ports
        .locks()
        .acquire(
            &pause.lock_key(),
            &pause.execution,
            now,
            pause.lock_expiry(now),
            &LockGuard {
                alarms: pause.settings.alarms.clone(),
                steps: pause.plan.len(),
                stack: None,
            },
        )
        .await?;
    let failure = match invalid {
        Some(invalid) => Some((invalid.error_type().to_string(), invalid.to_string())),
        None => check_guarding_alarms(context, &pause.settings.alarms)
            .await
            .err()
            .map(|fired| (fired.error_type().to_string(), fired.to_string())),
    };
    let failure = failure.or_else(|| {
        (!pause.time_to_ask()).then(|| {
            (
                ErrorKind::HookExpiring.as_str().to_string(),
                "the pause hook expires too soon to ask anyone".to_string(),
            )
        })
    });
    context
        .record(HistoryEvent::about_pause(
            &pause,
            context.now_millis(),
            &format!(
                "ECS {} deployment paused before {} ({} % → {}): {}",
                pause.strategy,
                pause.label(),
                pause.current_percent(),
                pause
                    .next_percent()
                    .map_or("100 %".to_string(), |p| format!("{p} %")),
                match &failure {
                    None => "waiting for a decision".to_string(),
                    Some((error, cause)) => format!("not asked, rolled back ({error}: {cause})"),
                }
            ),
            json!({"pause": pause}),
        ))
        .await;
    let failure = failure.map(|(error, cause)| json!({"Error": error, "Cause": cause}));
    Ok(json!({"pause": pause, "ask": failure.is_none(), "failure": failure}))
}

/// The gate's answer to ECS. A hook that no longer waits (the deployment
/// ended, someone answered it elsewhere) is recorded, nothing else.
async fn answer(context: &Context, mut event: AnswerEvent) -> Result<Value, FunctionError> {
    // An approval lets traffic move on only if the automatic analysis (the
    // service's threshold, if it has one) passes.
    if event.answer == HookAction::Continue {
        if let Err(failed) = check_pause_analysis(context, &event.pause).await {
            event.answer = HookAction::Rollback;
            event.failure = json!({"Error": failed.error_type(), "Cause": failed.to_string()});
        }
    }
    let pause = &event.pause;
    let (error, cause) = error_and_cause(&event.failure);
    let outcome = match context
        .ports
        .native()
        .answer_hook(&pause.service_deployment, &pause.hook_id, event.answer)
        .await
    {
        Ok(()) => "answered",
        Err(AwsError::TaskNotWaiting(_)) => "no longer waiting",
        Err(other) => return Err(other.into()),
    };
    let why = if error.is_empty() {
        String::new()
    } else {
        format!(" ({error}: {cause})")
    };
    let summary = match (outcome, event.answer) {
        ("answered", HookAction::Continue) => format!("{} approved: ECS continues", pause.label()),
        ("answered", HookAction::Rollback) => {
            format!("{} not approved: ECS rolls back{why}", pause.label())
        }
        _ => format!(
            "{} was no longer waiting when ecs-canary answered {}{why}: nothing changed",
            pause.label(),
            event.answer.as_str()
        ),
    };
    tracing::info!(service = %pause.service, action = event.answer.as_str(), outcome, "pause answered");
    // A person who rejected knows; anything else that rolled back is told.
    if outcome == "answered"
        && event.answer == HookAction::Rollback
        && error != ErrorKind::Rejected.as_str()
    {
        send_notice(context, &pause.rolled_back_notice(&error, &cause)).await;
    }
    // The gate is done with the service.
    if let Err(error) = context
        .ports
        .locks()
        .release(&pause.lock_key(), &pause.execution)
        .await
    {
        tracing::error!(%error, "could not release the service after answering its pause");
    }
    context
        .record(HistoryEvent::about_pause(
            pause,
            context.now_millis(),
            &summary,
            json!({"action": event.answer, "outcome": outcome, "error": error}),
        ))
        .await;
    Ok(json!({"action": event.answer, "outcome": outcome}))
}

/// A deployment of the service changed state in ECS (it may have finished,
/// failed, rolled back or been stopped): every gate of the service still
/// waiting on a pause ECS no longer holds is closed.
async fn on_deployment_change(context: &Context, event: &Value) -> Result<Value, FunctionError> {
    let service_arn = event
        .pointer("/resources/0")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let mut closed = Vec::new();
    let mut seen = Vec::new();
    for pause in recorded_pauses(context, &service_key(service_arn)).await? {
        if seen.contains(&pause.execution) {
            continue;
        }
        seen.push(pause.execution.clone());
        if let Some(status) = ended(context, &pause).await? {
            if close_ended(context, &pause, &status).await? > 0 {
                send_notice(context, &pause.ended_notice(&status)).await;
                closed.push(pause.execution.clone());
            }
        }
    }
    Ok(json!({"closed": closed}))
}
