//! render-and-deploy: the stack's current template patched for the
//! candidate and the stack updated; then how the rollout stands (the stack
//! complete, the candidate task set steady).
use std::collections::BTreeMap;
use std::sync::Arc;

use ecs_canary_aws::UpdateOutcome;
use ecs_canary_core::{
    hides_values, Colour, Deployment, DeploymentRequest, ReleaseChange, ResolveError, StackLayout,
    StackProgress, TaskSet, Template,
};
use serde_json::Value;

use crate::actions::evidence::check_guarding_alarms;
use crate::actions::routes::release;
use crate::actions::traffic::point_tester_rules;
use crate::events::{parse, CandidateReadiness, DeployAction, RenderEvent, RenderOutput};
use crate::{Context, FunctionError, PortSet, Ports};

/// The ports this function holds (its binary links their SDKs only).
pub const PORTS: PortSet = Ports::STACKS | Ports::ECS | Ports::RULES | Ports::ALARMS;

/// The request with the values of its secret variables, which the
/// deployment carries hidden, from the execution's input.
fn with_secret_values(
    request: &DeploymentRequest,
    input: Option<&Value>,
) -> Result<DeploymentRequest, FunctionError> {
    if !hides_values(&request.environment) {
        return Ok(request.clone());
    }
    let missing = || {
        FunctionError::InvalidEvent(
            "the deployment carries secret values hidden: `input` must be the execution's input (`$$.Execution.Input`), for this service, with those variables"
                .into(),
        )
    };
    let original = DeploymentRequest::from_json(input.ok_or_else(missing)?)?;
    request
        .with_hidden_values_from(&original)
        .ok_or_else(missing)
}

/// `deploy`: patches the stack's current template for the candidate and
/// updates the stack (no change is fine), then reports progress.
/// `status`: reports progress only — the stack status and the candidate task
/// set's stability; `rollout.ready` is true once both are done. A failed or
/// rolled-back stack is `StackUpdateFailed`.
pub async fn render_and_deploy(
    context: Arc<Context>,
    event: Value,
) -> Result<RenderOutput, FunctionError> {
    let context = context.only(PORTS);
    let RenderEvent {
        mut deployment,
        action,
        require_ready,
        input,
    } = parse(event)?;
    // While the state machine waits for the candidate, every poll also
    // watches the guarding alarms: one in ALARM rolls back at once.
    if require_ready {
        check_guarding_alarms(&context, &deployment.request.alarms).await?;
    }
    let stacks = &context.ports.stacks();
    let stack = deployment.request.stack.clone();
    let template = Template::parse(&stacks.template(&stack).await?)?;

    if action == DeployAction::Deploy {
        // The candidate runs the stable task set's live task definition with
        // only the release applied, registered as a new revision (unless the
        // candidate task set already runs exactly that: a repeated deploy).
        let ecs = &context.ports.ecs();
        let live = ecs
            .task_definition(&deployment.stable_task_set.task_definition)
            .await?;
        let request = with_secret_values(&deployment.request, input.as_ref())?;
        let change = ReleaseChange::plan(
            &live.containers(),
            &release(&request),
            request.image_tag.as_deref(),
        )?;
        let current = live_task_set(&context, &deployment, &template, deployment.candidate)
            .await?
            .map(|t| t.task_definition);
        let candidate_task_definition = ecs
            .register_release(&live, &change, current.as_deref())
            .await?;
        let patched = template.patch(
            deployment.stable,
            &deployment.stable_task_set.task_definition,
            &candidate_task_definition,
        )?;
        let outcome = stacks
            .update(
                &stack,
                &patched.template.to_json_string(),
                context.settings.stack_role_arn.as_deref(),
                Some(&deployment.stack_update_token()),
            )
            .await?;
        tracing::info!(
            %stack,
            candidate = %deployment.candidate,
            container = %change.container,
            task_definition = %candidate_task_definition,
            updated = outcome == UpdateOutcome::Started,
            "rendered the candidate"
        );
        deployment.stack_changed = Some(outcome == UpdateOutcome::Started);
    }

    let state = stacks.describe(&stack).await?;
    let mut stability = String::new();
    let changed = deployment.stack_changed.unwrap_or(true);
    let ready = match StackProgress::after_update(&state.status, changed) {
        StackProgress::Failed => {
            return Err(FunctionError::StackUpdateFailed {
                stack,
                status: state.status,
                reason: state.status_reason.unwrap_or_default(),
            })
        }
        StackProgress::InProgress => false,
        StackProgress::Complete => {
            let layout = template.layout()?;
            let ids = stacks.physical_ids(&stack).await?;
            // The stable task set must never be replaced by a deployment.
            let stable_id = layout
                .task_set_id(&state.outputs, &ids, deployment.stable)
                .unwrap_or_default();
            if stable_id != deployment.stable_task_set.id
                && stable_id != deployment.stable_task_set.arn
            {
                return Err(ResolveError::StableTaskSetMissing {
                    colour: deployment.stable,
                    id: deployment.stable_task_set.id.clone(),
                }
                .into());
            }
            let candidate = task_set_of(
                &context,
                &deployment,
                &layout,
                &state.outputs,
                &ids,
                deployment.candidate,
            )
            .await?;
            stability = candidate
                .as_ref()
                .map(|t| t.stability_status.clone())
                .unwrap_or_default();
            let steady = candidate.as_ref().is_some_and(|t| t.is_steady());
            deployment.candidate_task_set = candidate;
            if steady {
                // Testers reach the candidate as soon as it is ready.
                point_tester_rules(&context, &deployment, deployment.candidate).await?;
            }
            steady
        }
    };
    if require_ready && !ready {
        return Err(FunctionError::CandidateNotReady {
            stack_status: state.status,
            candidate_stability: stability,
        });
    }
    Ok(RenderOutput {
        deployment,
        rollout: CandidateReadiness {
            stack_status: state.status,
            candidate_stability: stability,
            ready,
        },
    })
}

/// A colour's task set as the stack has it now.
async fn live_task_set(
    context: &Context,
    deployment: &Deployment,
    template: &Template,
    colour: Colour,
) -> Result<Option<TaskSet>, FunctionError> {
    let stacks = &context.ports.stacks();
    let stack = &deployment.request.stack;
    let (state, ids) = (
        stacks.describe(stack).await?,
        stacks.physical_ids(stack).await?,
    );
    task_set_of(
        context,
        deployment,
        &template.layout()?,
        &state.outputs,
        &ids,
        colour,
    )
    .await
}

/// A colour's task set in a described stack (its output, else the physical id).
async fn task_set_of(
    context: &Context,
    deployment: &Deployment,
    layout: &StackLayout,
    outputs: &BTreeMap<String, String>,
    ids: &BTreeMap<String, String>,
    colour: Colour,
) -> Result<Option<TaskSet>, FunctionError> {
    match layout.task_set_id(outputs, ids, colour) {
        Some(id) => Ok(context
            .ports
            .ecs()
            .task_set(
                &deployment.request.cluster,
                &deployment.request.service,
                &id,
            )
            .await?),
        None => Ok(None),
    }
}
