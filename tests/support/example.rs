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
    let network = create_network(clients).await?;
    create_app(clients, &network, APP_STACK, SERVICE, 80, app_template).await?;
    Ok(APP_STACK)
}

/// The network stack's outputs an application stack needs.
#[derive(Debug, Clone)]
pub struct Network {
    pub vpc: String,
    pub subnets: String,
    pub security_groups: String,
    pub load_balancer: String,
    pub cluster: String,
}

/// Creates the network stack (VPC, subnets, load balancer, cluster).
pub async fn create_network(clients: &AwsClients) -> Result<Network, AwsError> {
    clients
        .stacks
        .create(
            NETWORK_STACK,
            &example_template("network.json"),
            &[("ClusterName", CLUSTER)],
        )
        .await?;
    read_network(clients).await
}

/// The network stack's outputs, once it exists.
pub async fn read_network(clients: &AwsClients) -> Result<Network, AwsError> {
    let network = clients.stacks.describe(NETWORK_STACK).await?;
    let output = |key: &str| network.outputs.get(key).cloned().unwrap_or_default();
    Ok(Network {
        vpc: output("VpcId"),
        subnets: output("Subnets"),
        security_groups: output("SecurityGroups"),
        load_balancer: output("LoadBalancerArn"),
        cluster: output("ClusterArn"),
    })
}

/// Creates an application stack: `service` on its own listener `port`,
/// Blue stable at 100/0.
pub async fn create_app(
    clients: &AwsClients,
    network: &Network,
    stack: &str,
    service: &str,
    port: u16,
    app_template: &str,
) -> Result<(), AwsError> {
    let port = port.to_string();
    clients
        .stacks
        .create(
            stack,
            app_template,
            &[
                ("ClusterArn", &network.cluster),
                ("ServiceName", service),
                ("LoadBalancerArn", &network.load_balancer),
                ("ListenerPort", &port),
                ("VpcId", &network.vpc),
                ("Subnets", &network.subnets),
                ("SecurityGroups", &network.security_groups),
            ],
        )
        .await?;
    Ok(())
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
    /// The stable colour: the one the `StableStack` tag names (none: Blue).
    pub fn stable(&self) -> Colour {
        self.tag
            .as_deref()
            .unwrap_or("Blue")
            .parse()
            .unwrap_or(Colour::Blue)
    }

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
    live_state_of(clients, stack, SERVICE).await
}

/// The same for the stack of `service`.
pub async fn live_state_of(
    clients: &AwsClients,
    stack: &str,
    service: &str,
) -> Result<LiveState, AwsError> {
    let tag = clients.ecs.stable_stack_tag(CLUSTER, service).await?;
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
                .task_set(CLUSTER, service, &id)
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
    let blue_green_split = weighted_split(
        clients,
        &rule,
        &group_arn(Colour::Blue),
        &group_arn(Colour::Green),
    )
    .await?;

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

/// The weighted rule's split, Blue as "stable".
async fn weighted_split(
    clients: &AwsClients,
    rule: &str,
    blue: &str,
    green: &str,
) -> Result<TrafficSplit, AwsError> {
    let targets = clients.rules.forward_targets(rule).await?;
    Ok(TrafficSplit::from_forward_targets(&targets, blue, green)
        .expect("the weighted rule forwards to both colours"))
}

/// The example's (Blue, Green) weights on its weighted rule, read from the
/// rule alone: this holds while the stack is being updated, when a task
/// set being replaced cannot be read (the rule and the groups stay).
pub async fn app_weights(clients: &AwsClients) -> (u16, u16) {
    let ids = clients
        .stacks
        .physical_ids(APP_STACK)
        .await
        .expect("the example stack's resources");
    let template = Template::parse(
        &clients
            .stacks
            .template(APP_STACK)
            .await
            .expect("the example stack's template"),
    )
    .expect("stack template parses");
    let layout = template
        .layout()
        .expect("stack template has the blue/green layout");
    let rule = ids.get(&layout.weighted_rule).cloned().unwrap_or_default();
    let mut groups = Vec::new();
    for colour in [Colour::Blue, Colour::Green] {
        groups.push(
            target_group(clients, APP_STACK, colour)
                .await
                .expect("a colour's target group"),
        );
    }
    let split = weighted_split(clients, &rule, &groups[0], &groups[1])
        .await
        .expect("the weighted rule");
    (split.stable_weight(), split.candidate_weight())
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

/// Waits (up to `wait`) until nobody holds the example service's lock.
pub async fn until_app_unlocked(clients: &AwsClients, wait: std::time::Duration) {
    let deadline = std::time::Instant::now() + wait;
    while app_lock_holder(clients).await.is_some() {
        assert!(
            std::time::Instant::now() < deadline,
            "the lock is still held"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
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
    let violations = at_rest_violations(clients, APP_STACK, SERVICE, stable).await;
    assert!(violations.is_empty(), "not at rest: {violations:?}");
}

/// How `service` (of `stack`) differs from the invariant at rest with
/// `stable` as the stable colour; empty when it holds.
pub async fn at_rest_violations(
    clients: &AwsClients,
    stack: &str,
    service: &str,
    stable: Colour,
) -> Vec<String> {
    let mut violations = Vec::new();
    let state = match live_state_of(clients, stack, service).await {
        Ok(state) => state,
        Err(error) => return vec![format!("cannot read {service}: {error}")],
    };
    let split = state.split_towards(stable);
    if split != (100, 0) {
        violations.push(format!(
            "the split is {split:?} towards {stable}, not (100, 0)"
        ));
    }
    let tag = state.tag.as_deref().unwrap_or("Blue");
    if tag != stable.as_str() {
        violations.push(format!("the StableStack tag is {tag}, not {stable}"));
    }
    let group = &state.task_set(stable).target_groups[0];
    if !state
        .tester_targets
        .iter()
        .all(|t| &t.target_group_arn == group)
    {
        violations.push(format!(
            "tester rules are not on {stable}: {:?}",
            state.tester_targets
        ));
    }
    match clients
        .locks(crate::LOCK_TABLE)
        .holder(&ecs_canary_core::lock_key(CLUSTER, service))
        .await
    {
        Ok(None) => {}
        Ok(Some(holder)) => violations.push(format!("the lock is held by {holder}")),
        Err(error) => violations.push(format!("cannot read the lock: {error}")),
    }
    violations
}
