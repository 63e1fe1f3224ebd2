//! Which policy holds a deployment, and who may act on a service: the
//! stack's policy is the floor, a trigger mapping's narrows it for its
//! service, and an execution's own may only narrow that.

use ecs_canary_core::{parse_mappings, service_floor, ApprovalPolicy, DeploymentRequest};

use crate::{Context, FunctionError};

/// The stack's default policy, and the policy every deployment of
/// `cluster/service` is held to: that default narrowed by the trigger
/// mappings that deploy the service (a malformed one refuses everything: it
/// fails closed).
fn floors(
    context: &Context,
    cluster: &str,
    service: &str,
) -> Result<(ApprovalPolicy, ApprovalPolicy), FunctionError> {
    let stack_floor = context
        .settings
        .default_policy()
        .map_err(FunctionError::Misconfigured)?;
    let mappings = match &context.settings.trigger_mappings {
        Some(text) => parse_mappings(text)?,
        None => Vec::new(),
    };
    let floor = service_floor(&stack_floor, &mappings, cluster, service)?;
    Ok((stack_floor, floor))
}

/// The policy every deployment of `cluster/service` is held to.
pub fn service_policy(
    context: &Context,
    cluster: &str,
    service: &str,
) -> Result<ApprovalPolicy, FunctionError> {
    Ok(floors(context, cluster, service)?.1)
}

/// The policy that holds `request`: its own held to its service's floor
/// (`PolicyBelowFloor` when it would widen it), or the floor. The second
/// value says whether a trigger mapping narrowed the stack's floor, so that
/// the deployment must carry the policy for every decision to be held to it.
pub fn request_policy(
    context: &Context,
    request: &DeploymentRequest,
) -> Result<(ApprovalPolicy, bool), FunctionError> {
    let (stack_floor, floor) = floors(context, &request.cluster, &request.service)?;
    let policy = match &request.approval_policy {
        Some(own) => own.within(&floor)?,
        None => floor.clone(),
    };
    Ok((policy, floor != stack_floor))
}

/// Whether `identity` may start, abort or unlock deployments of the
/// service `key` (`cluster/service`): `NotAnOperator` when its policy's
/// `operators` do not name it.
pub fn check_operator(context: &Context, key: &str, identity: &str) -> Result<(), FunctionError> {
    let (cluster, service) = key.split_once('/').unwrap_or(("", key));
    service_policy(context, cluster, service)?
        .admits_operator(identity, key)
        .map_err(FunctionError::from)
}
