//! A service on ECS's own deployments (`deploymentController: ECS`, LINEAR
//! 25 % steps, a PAUSE hook before each production traffic shift), enrolled
//! by its tag, on its own listener of the example's load balancer — the
//! example template `infra/examples/native.json`, deployed as a team would:
//! what the emulator tests and `make demo` gate.

use std::time::{Duration, Instant};

use aws_sdk_ecs::types::{
    Compatibility, ContainerDefinition, DeploymentStrategy, NetworkMode, ServiceDeploymentStatus,
};

use crate::example::{example_template, Network, CLUSTER};
use crate::traffic::{write_minutes, Minute};
use crate::Emulator;

pub const NATIVE_SERVICE: &str = "native-web";
/// The stack of `infra/examples/native.json`.
pub const NATIVE_STACK: &str = "native-web";
const SERVICE: &str = NATIVE_SERVICE;

/// The native service, and what a test looks at.
pub struct Native {
    pub ecs: aws_sdk_ecs::Client,
    elbv2: aws_sdk_elasticloadbalancingv2::Client,
    rule: String,
    /// Production's target group first, the alternate second.
    groups: [String; 2],
    new_definition: String,
}

impl Native {
    /// A minute of traffic for the new revision (on the alternate target
    /// group, where a first deployment puts it) and the current one.
    pub async fn traffic(&self, emulator: &Emulator, new: &Minute, current: &Minute) {
        write_minutes(
            emulator,
            &self.rule,
            &[(&self.groups[1], new), (&self.groups[0], current)],
        )
        .await;
    }

    /// The production and alternate target groups' weights on the rule.
    pub async fn weights(&self) -> [i32; 2] {
        let rules = self
            .elbv2
            .describe_rules()
            .rule_arns(&self.rule)
            .send()
            .await
            .expect("describe the production rule");
        let targets = rules.rules()[0].actions()[0]
            .forward_config()
            .map(|f| f.target_groups().to_vec())
            .unwrap_or_default();
        let weight = |group: &str| {
            targets
                .iter()
                .find(|t| t.target_group_arn() == Some(group))
                .and_then(|t| t.weight())
                .unwrap_or(-1)
        };
        [weight(&self.groups[0]), weight(&self.groups[1])]
    }

    /// The service's one deployment's ARN (after the update).
    pub async fn deployment(&self) -> String {
        let listed = self
            .ecs
            .list_service_deployments()
            .cluster(CLUSTER)
            .service(SERVICE)
            .send()
            .await
            .expect("list service deployments");
        listed.service_deployments()[0]
            .service_deployment_arn()
            .unwrap_or_default()
            .to_string()
    }

    /// Waits until ECS has rolled the deployment back.
    pub async fn until_rolled_back(&self, deployment: &str) {
        self.until_status(deployment, ServiceDeploymentStatus::RollbackSuccessful)
            .await;
    }

    /// The deployment as DescribeServiceDeployments shows it.
    async fn described(&self, deployment: &str) -> aws_sdk_ecs::types::ServiceDeployment {
        let described = self
            .ecs
            .describe_service_deployments()
            .service_deployment_arns(deployment)
            .send()
            .await
            .expect("describe the deployment");
        described.service_deployments()[0].clone()
    }

    /// The hook of the deployment that awaits action, if one does.
    pub async fn awaiting(&self, deployment: &str) -> Option<String> {
        self.described(deployment)
            .await
            .lifecycle_hook_details()
            .iter()
            .find(|h| {
                h.status()
                    == Some(&aws_sdk_ecs::types::DeploymentLifecycleHookStatus::AwaitingAction)
            })
            .and_then(|h| h.hook_id())
            .map(str::to_string)
    }

    /// Why the deployment is where it is, as ECS says (`statusReason`).
    pub async fn status_reason(&self, deployment: &str) -> String {
        self.described(deployment)
            .await
            .status_reason()
            .unwrap_or_default()
            .to_string()
    }

    pub async fn status(&self, deployment: &str) -> ServiceDeploymentStatus {
        self.described(deployment)
            .await
            .status()
            .cloned()
            .expect("a status")
    }

    pub async fn until_status(&self, deployment: &str, wanted: ServiceDeploymentStatus) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let status = self.status(deployment).await;
            if status == wanted {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the deployment is {status:?}, not {wanted:?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Starts the rollout to the new task definition, as a pipeline would.
    pub async fn update(&self) {
        self.ecs
            .update_service()
            .cluster(CLUSTER)
            .service(SERVICE)
            .task_definition(&self.new_definition)
            .send()
            .await
            .expect("update the service");
    }
}

/// The native service on `network` (created by the example's network
/// stack), enrolled; an ECS minute lasts a second on the emulator.
pub async fn create_native_service(emulator: &Emulator, network: &Network) -> Native {
    create_native_service_as(emulator, network, true, DeploymentStrategy::Linear).await
}

/// The same, from the example template `infra/examples/native.json`,
/// enrolled there (the tag and the pause hook) or not (neither), with
/// `strategy` (LINEAR: 25 % steps). The new release is the task
/// definition's next revision, registered as a pipeline would.
pub async fn create_native_service_as(
    emulator: &Emulator,
    network: &Network,
    enrolled: bool,
    strategy: DeploymentStrategy,
) -> Native {
    emulator
        .bad_day(serde_json::json!({"nativeMinuteSeconds": 1.0}))
        .await;
    let clients = emulator.clients().await;
    clients
        .stacks
        .create(
            NATIVE_STACK,
            &example_template("native.json"),
            &[
                ("ClusterArn", &network.cluster),
                ("ServiceName", SERVICE),
                ("LoadBalancerArn", &network.load_balancer),
                ("ListenerPort", "8090"),
                ("VpcId", &network.vpc),
                ("Subnets", &network.subnets),
                ("SecurityGroups", &network.security_groups),
                ("Image", "registry.example/web:1.0"),
                ("Strategy", strategy.as_str()),
                ("Gated", if enrolled { "true" } else { "false" }),
            ],
        )
        .await
        .expect("the native example stack");
    let stack = clients
        .stacks
        .describe(NATIVE_STACK)
        .await
        .expect("the native stack's outputs");
    let output = |key: &str| stack.outputs.get(key).cloned().unwrap_or_default();
    let config = emulator.sdk_config().await;
    let ecs = aws_sdk_ecs::Client::new(&config);
    let registered = ecs
        .register_task_definition()
        .family(SERVICE)
        .cpu("256")
        .memory("512")
        .network_mode(NetworkMode::Awsvpc)
        .requires_compatibilities(Compatibility::Fargate)
        .container_definitions(
            ContainerDefinition::builder()
                .name("web")
                .image("registry.example/web:2.0")
                .memory(512)
                .build(),
        )
        .send()
        .await
        .expect("the new release's task definition");
    Native {
        ecs,
        elbv2: aws_sdk_elasticloadbalancingv2::Client::new(&config),
        rule: output("ProductionRule"),
        groups: [
            output("ProductionTargetGroup"),
            output("AlternateTargetGroup"),
        ],
        new_definition: registered
            .task_definition()
            .and_then(|d| d.task_definition_arn())
            .unwrap_or_default()
            .to_string(),
    }
}
