//! A service's routes and what a deployment of it finds: the stable and
//! candidate colours (from the `StableStack` tag), task sets, target
//! groups, the weighted and tester rules (from the stack), the live split.

use std::collections::BTreeMap;

use ecs_canary_aws::AwsError;
use ecs_canary_core::{
    require_all_stable, AlarmError, CandidateRelease, Colours, Deployment, DeploymentRequest,
    ErrorName, ReleaseChange, ResolveError, Routing, StackLayout, Template, TrafficSplit,
};

use crate::actions::evidence::check_guarding_alarms;
use crate::{Context, FunctionError};

/// What the candidate gets, from the request.
pub fn release(request: &DeploymentRequest) -> CandidateRelease {
    CandidateRelease {
        image: request.image.clone(),
        environment: request.environment.clone().into_iter().collect(),
        container: request.container.clone(),
    }
}

/// What a deployment would find now. With `dry_run`, what would refuse it
/// now (a guarding alarm in `ALARM`, drift or a rollout in progress) is
/// noted there instead of ending it, so that the release can still be shown.
pub async fn resolve(
    context: &Context,
    request: DeploymentRequest,
    owner: &str,
    mut dry_run: Option<&mut Vec<String>>,
) -> Result<Deployment, FunctionError> {
    // The alarms that guard the rollout exist and are quiet, before anything changes.
    match (
        check_guarding_alarms(context, &request.alarms).await,
        &mut dry_run,
    ) {
        (Err(error @ FunctionError::Alarm(AlarmError::AlarmTriggered { .. })), Some(notes)) => {
            notes.push(format!("{} ({error})", error.error_type()));
        }
        (result, _) => result?,
    }
    let (cluster, service, stack) = (&request.cluster, &request.service, &request.stack);
    let tag = context
        .ports
        .ecs()
        .stable_stack_tag(cluster, service)
        .await?;
    let colours = Colours::from_tag(tag.as_deref())?;

    let template = Template::parse(&context.ports.stacks().template(stack).await?)?;
    let layout = template.layout()?;
    let state = context.ports.stacks().describe(stack).await?;
    let ids = context.ports.stacks().physical_ids(stack).await?;

    let stable_id = layout
        .task_set_id(&state.outputs, &ids, colours.stable)
        .unwrap_or_default();
    let stable_task_set = context
        .ports
        .ecs()
        .task_set(cluster, service, &stable_id)
        .await?
        .ok_or(ResolveError::StableTaskSetMissing {
            colour: colours.stable,
            id: stable_id,
        })?;
    let candidate_task_set = match layout.task_set_id(&state.outputs, &ids, colours.candidate) {
        Some(id) => context.ports.ecs().task_set(cluster, service, &id).await?,
        None => None,
    };

    // The release, as a difference from the stable task set's live task
    // definition; a container it cannot apply to fails now, before anything
    // changes.
    let live = context
        .ports
        .ecs()
        .task_definition(&stable_task_set.task_definition)
        .await?;
    let change = ReleaseChange::plan(
        &live.containers(),
        &release(&request),
        request.image_tag.as_deref(),
    )?;

    let ServiceRoutes {
        routing,
        weighted_rule,
        tester_rules,
    } = routes_of(stack, &layout, &ids, colours)?;
    let Routing {
        stable_target_group,
        candidate_target_group,
        ..
    } = routing;
    let targets = context
        .ports
        .rules()
        .rule(&weighted_rule)
        .await?
        .forward_targets();
    let split = match (
        require_all_stable(
            colours.stable,
            &targets,
            &stable_target_group,
            &candidate_target_group,
        ),
        dry_run,
    ) {
        (Ok(split), _) => split,
        (Err(error), Some(notes)) => {
            let error = FunctionError::from(error);
            notes.push(format!("{} ({error})", error.error_type()));
            TrafficSplit::all_stable()
        }
        (Err(error), None) => return Err(error.into()),
    };

    // What travels on (every state's output, the messages, the history)
    // carries no secret value: render-and-deploy takes them from the
    // execution's input and the live task definition.
    let secrets = &context.settings.secret_names;
    Ok(Deployment {
        request: DeploymentRequest {
            environment: secrets.hide(&request.environment),
            ..request
        },
        owner: owner.to_string(),
        stable: colours.stable,
        candidate: colours.candidate,
        stable_task_set,
        candidate_task_set,
        stable_target_group,
        candidate_target_group,
        weighted_rule,
        tester_rules,
        split,
        stack_changed: None,
        release: Some(change.redacted(secrets)),
        step: None,
        started_at: None,
        applied_at: Vec::new(),
        gate_before_start: false,
        round: 0,
    })
}

/// The weighted rule, the tester rules and the two colours' target groups of
/// a service's stack.
pub struct ServiceRoutes {
    pub routing: Routing,
    pub weighted_rule: String,
    pub tester_rules: Vec<String>,
}

/// The routes in `stack`'s layout, given its physical ids and the colours.
fn routes_of(
    stack: &str,
    layout: &StackLayout,
    ids: &BTreeMap<String, String>,
    colours: Colours,
) -> Result<ServiceRoutes, FunctionError> {
    let stable_target_group = layout.target_group_arn(ids, colours.stable)?;
    let candidate_target_group = layout.target_group_arn(ids, colours.candidate)?;
    let weighted_rule =
        ids.get(&layout.weighted_rule)
            .cloned()
            .ok_or_else(|| AwsError::StackResourceNotFound {
                stack: stack.to_string(),
                logical_id: layout.weighted_rule.clone(),
            })?;
    let tester_rules = layout
        .tester_rules
        .iter()
        .filter_map(|r| ids.get(r).cloned())
        .collect();
    Ok(ServiceRoutes {
        routing: Routing {
            stable: colours.stable,
            candidate: colours.candidate,
            stable_target_group,
            candidate_target_group,
        },
        weighted_rule,
        tester_rules,
    })
}

/// A service's routes as they are now: the stable colour from its tag, the
/// rest from its stack.
pub async fn read_routes(
    context: &Context,
    request: &DeploymentRequest,
) -> Result<ServiceRoutes, FunctionError> {
    routes_in(context, &request.cluster, &request.service, &request.stack).await
}

async fn routes_in(
    context: &Context,
    cluster: &str,
    service: &str,
    stack: &str,
) -> Result<ServiceRoutes, FunctionError> {
    let (tag, template, ids) = tokio::join!(
        context.ports.ecs().stable_stack_tag(cluster, service),
        context.ports.stacks().template(stack),
        context.ports.stacks().physical_ids(stack),
    );
    let colours = Colours::from_tag(tag?.as_deref())?;
    let template = Template::parse(&template?)?;
    routes_of(stack, &template.layout()?, &ids?, colours)
}

/// Who holds a deployment's service, as [`check_held_routes`] read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldRoutes {
    /// The deployment's execution holds the lock, and the deployment names
    /// its routes.
    pub holds: bool,
    /// The execution holding the lock (`None`: nobody), read with the routes.
    pub holder: Option<String>,
}

/// Holds what a caller says a deployment moves to what its lock says: when
/// `deployment`'s execution holds its service's lock, its weighted rule,
/// tester rules and each colour's target group must be those of the stack
/// the lock names (read now), or it is `RoutesMismatch` and nothing may
/// change. A rollback thus moves only the rules of the deployment that holds
/// the service, whatever its payload says. `holds` when the execution holds
/// the lock (and names its routes); not when another one or none does: then
/// nothing of the payload's may move but through a lock check of its own
/// (the weighted rule's, on the `holder` read here), and tester rules not at
/// all.
pub async fn check_held_routes(
    context: &Context,
    deployment: &Deployment,
) -> Result<HeldRoutes, FunctionError> {
    let key = deployment.lock_key();
    let request = &deployment.request;
    // The lock and the routes of the stack the deployment names, read at
    // once (the way back waits for this): the stack the lock names is read
    // again only when it is another one.
    let (held, named) = tokio::join!(
        context.ports.locks().held(&key),
        routes_in(context, &request.cluster, &request.service, &request.stack),
    );
    let Some(held) = held? else {
        return Ok(HeldRoutes {
            holds: false,
            holder: None,
        });
    };
    if held.owner != deployment.owner {
        return Ok(HeldRoutes {
            holds: false,
            holder: Some(held.owner),
        });
    }
    // A lock taken before locks named their stack: the deployment's own.
    let stack = held.guard.stack.unwrap_or_else(|| request.stack.clone());
    let routes = if stack == request.stack {
        named?
    } else {
        routes_in(context, &request.cluster, &request.service, &stack).await?
    };
    if same_routes(deployment, &routes) {
        Ok(HeldRoutes {
            holds: true,
            holder: Some(held.owner),
        })
    } else {
        Err(FunctionError::RoutesMismatch { key, stack })
    }
}

/// Whether `deployment` names `routes`' rules and, colour by colour, its
/// target groups (which colour is stable may have changed since: a
/// promotion that failed after the tag moved).
fn same_routes(deployment: &Deployment, routes: &ServiceRoutes) -> bool {
    let routing = &routes.routing;
    let target_group = |colour| {
        if colour == routing.stable {
            &routing.stable_target_group
        } else {
            &routing.candidate_target_group
        }
    };
    let sorted = |rules: &[String]| {
        let mut rules = rules.to_vec();
        rules.sort();
        rules
    };
    deployment.stable != deployment.candidate
        && deployment.weighted_rule == routes.weighted_rule
        && *target_group(deployment.stable) == deployment.stable_target_group
        && *target_group(deployment.candidate) == deployment.candidate_target_group
        && sorted(&deployment.tester_rules) == sorted(&routes.tester_rules)
}
