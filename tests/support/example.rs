//! The example application of `infra/examples/` on an emulator: the network
//! stack (VPC, subnets, security group, load balancer, cluster), then the
//! application stack with Blue stable at 100/0.

use ecs_canary_aws::{AwsClients, AwsError};
use ecs_canary_core::{Colour, ForwardTarget, StackLayout, TaskSet, Template, TrafficSplit};

use crate::repo_root;

pub const CLUSTER: &str = "mattctest";
pub const SERVICE: &str = "myservice";
pub const NETWORK_STACK: &str = "ecs-canary-network";
pub const APP_STACK: &str = "ecs-task-test-2";

/// Reads a file of `infra/examples/`.
pub fn example_template(name: &str) -> String {
    let path = repo_root().join("infra/examples").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Creates the network stack and the application stack; returns the
/// application stack's name.
pub async fn create_example_app(clients: &AwsClients) -> Result<&'static str, AwsError> {
    create_example_app_from(clients, &example_template("app.json")).await
}

/// The same, with another application template (the example changed by a test).
pub async fn create_example_app_from(
    clients: &AwsClients,
    app_template: &str,
) -> Result<&'static str, AwsError> {
    clients
        .stacks
        .create(
            NETWORK_STACK,
            &example_template("network.json"),
            &[("ClusterName", CLUSTER)],
        )
        .await?;
    let network = clients.stacks.describe(NETWORK_STACK).await?;
    let output = |key: &str| network.outputs.get(key).cloned().unwrap_or_default();
    let (vpc, subnets, groups, lb, cluster) = (
        output("VpcId"),
        output("Subnets"),
        output("SecurityGroups"),
        output("LoadBalancerArn"),
        output("ClusterArn"),
    );
    clients
        .stacks
        .create(
            APP_STACK,
            app_template,
            &[
                ("ClusterArn", &cluster),
                ("ServiceName", SERVICE),
                ("LoadBalancerArn", &lb),
                ("VpcId", &vpc),
                ("Subnets", &subnets),
                ("SecurityGroups", &groups),
            ],
        )
        .await?;
    Ok(APP_STACK)
}

/// What a person would look at: the tag, both task sets, the split and the
/// tester rule's target, as the services report them.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveState {
    pub tag: Option<String>,
    pub blue: TaskSet,
    pub green: TaskSet,
    /// Weights with Blue as "stable", Green as "candidate".
    pub blue_green_split: TrafficSplit,
    pub tester_targets: Vec<ForwardTarget>,
    pub template: Template,
}

impl LiveState {
    pub fn task_set(&self, colour: Colour) -> &TaskSet {
        match colour {
            Colour::Blue => &self.blue,
            Colour::Green => &self.green,
        }
    }

    /// The split as (stable weight, candidate weight) for a stable colour.
    pub fn split_towards(&self, stable: Colour) -> (u16, u16) {
        let (blue, green) = (
            self.blue_green_split.stable_weight(),
            self.blue_green_split.candidate_weight(),
        );
        match stable {
            Colour::Blue => (blue, green),
            Colour::Green => (green, blue),
        }
    }
}

/// Reads the live state of a stack through the adapters, the way the
/// article's process does: tag, outputs, task sets, rule.
pub async fn live_state(clients: &AwsClients, stack: &str) -> Result<LiveState, AwsError> {
    let tag = clients.ecs.stable_stack_tag(CLUSTER, SERVICE).await?;
    let state = clients.stacks.describe(stack).await?;
    let template =
        Template::parse(&clients.stacks.template(stack).await?).expect("stack template parses");
    let layout = template
        .layout()
        .expect("stack template has the blue/green layout");
    let ids = clients.stacks.physical_ids(stack).await?;

    let task_set = |colour: Colour| {
        let id = state
            .outputs
            .get(&StackLayout::task_set_output(colour))
            .cloned()
            .unwrap_or_default();
        async move {
            clients
                .ecs
                .task_set(CLUSTER, SERVICE, &id)
                .await
                .map(|t| t.unwrap_or_else(|| panic!("{colour} task set {id} not found")))
        }
    };
    let blue = task_set(Colour::Blue).await?;
    let green = task_set(Colour::Green).await?;

    let group_arn = |colour: Colour| {
        state
            .outputs
            .get(&format!("{colour}TargetGroup"))
            .cloned()
            .unwrap_or_default()
    };
    let rule = ids.get(&layout.weighted_rule).cloned().unwrap_or_default();
    let targets = clients.rules.forward_targets(&rule).await?;
    let blue_green_split = TrafficSplit::from_forward_targets(
        &targets,
        &group_arn(Colour::Blue),
        &group_arn(Colour::Green),
    )
    .expect("the weighted rule forwards to both colours");

    let mut tester_targets = Vec::new();
    for tester in &layout.tester_rules {
        let arn = ids.get(tester).cloned().unwrap_or_default();
        tester_targets.extend(clients.rules.forward_targets(&arn).await?);
    }
    Ok(LiveState {
        tag,
        blue,
        green,
        blue_green_split,
        tester_targets,
        template,
    })
}

/// The target group ARN of a colour, from the stack outputs.
pub async fn target_group(
    clients: &AwsClients,
    stack: &str,
    colour: Colour,
) -> Result<String, AwsError> {
    let state = clients.stacks.describe(stack).await?;
    Ok(state
        .outputs
        .get(&format!("{colour}TargetGroup"))
        .cloned()
        .unwrap_or_default())
}

/// What a person does in the console: sets the rule's forward targets by hand
/// (through the same adapter, so everything else on the rule is kept).
pub async fn set_rule_by_hand(
    clients: &AwsClients,
    rule_arn: &str,
    targets: &[ForwardTarget],
) -> Result<(), AwsError> {
    let rule = clients.rules.rule(rule_arn).await?;
    clients.rules.set_forward_targets(&rule, targets).await?;
    Ok(())
}

/// The example application as a person would look at it now.
pub async fn app_state(clients: &AwsClients) -> LiveState {
    live_state(clients, APP_STACK)
        .await
        .expect("read the example stack")
}

/// Who holds the example service's deployment lock, if anyone.
pub async fn app_lock_holder(clients: &AwsClients) -> Option<String> {
    clients
        .locks(crate::LOCK_TABLE)
        .holder(&ecs_canary_core::lock_key(CLUSTER, SERVICE))
        .await
        .expect("read the lock")
}

/// The containers of a task definition as ECS has them (name, image, environment).
pub async fn containers_of(
    clients: &AwsClients,
    task_definition: &str,
) -> Vec<ecs_canary_core::ContainerSpec> {
    clients
        .ecs
        .task_definition(task_definition)
        .await
        .expect("describe the task definition")
        .containers()
}

/// Asserts the invariant at rest for the example service: the weighted rule
/// 100/0 towards `stable`, the `StableStack` tag naming it (no tag: Blue),
/// tester rules on its target group, and no lock held.
pub async fn assert_at_rest(clients: &AwsClients, stable: Colour) {
    let state = app_state(clients).await;
    assert_eq!(state.split_towards(stable), (100, 0), "the split at rest");
    assert_eq!(
        state.tag.as_deref().unwrap_or("Blue"),
        stable.as_str(),
        "the StableStack tag"
    );
    let group = &state.task_set(stable).target_groups[0];
    assert!(
        state
            .tester_targets
            .iter()
            .all(|t| &t.target_group_arn == group),
        "tester rules on the stable colour: {:?}",
        state.tester_targets
    );
    assert_eq!(app_lock_holder(clients).await, None, "no lock held");
}
