//! A service on ECS's own deployments (`deploymentController: ECS`, LINEAR
//! 25 % steps, a PAUSE hook before each production traffic shift), enrolled
//! by its tag, on its own listener of the example's load balancer: what the
//! emulator tests and `make demo` gate.

use std::time::{Duration, Instant};

use aws_sdk_ecs::types::{
    AdvancedConfiguration, ContainerDefinition, DeploymentConfiguration, DeploymentController,
    DeploymentControllerType, DeploymentLifecycleHook, DeploymentLifecycleHookAction,
    DeploymentLifecycleHookStage, DeploymentLifecycleHookTargetType,
    DeploymentLifecycleHookTimeoutConfiguration, DeploymentStrategy, LinearConfiguration,
    LoadBalancer, ServiceDeploymentStatus, Tag,
};
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, ForwardActionConfig, RuleCondition, TargetGroupTuple, TargetTypeEnum,
};
use ecs_canary_core::GATE_TAG;

use crate::example::{Network, CLUSTER};
use crate::traffic::{write_minutes, Minute};
use crate::Emulator;

pub const NATIVE_SERVICE: &str = "native-web";
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

/// The same, enrolled (tagged, with its pause hook) or not (neither), with
/// `strategy` (LINEAR: 25 % steps).
pub async fn create_native_service_as(
    emulator: &Emulator,
    network: &Network,
    enrolled: bool,
    strategy: DeploymentStrategy,
) -> Native {
    emulator
        .bad_day(serde_json::json!({"nativeMinuteSeconds": 1.0}))
        .await;
    let config = emulator.sdk_config().await;
    let (ecs, elbv2) = (
        aws_sdk_ecs::Client::new(&config),
        aws_sdk_elasticloadbalancingv2::Client::new(&config),
    );
    let mut groups = Vec::new();
    for name in ["native-production", "native-alternate"] {
        let created = elbv2
            .create_target_group()
            .name(name)
            .protocol(aws_sdk_elasticloadbalancingv2::types::ProtocolEnum::Http)
            .port(80)
            .vpc_id(&network.vpc)
            .target_type(TargetTypeEnum::Ip)
            .send()
            .await
            .expect("a target group");
        groups.push(
            created.target_groups()[0]
                .target_group_arn()
                .unwrap_or_default()
                .to_string(),
        );
    }
    let forward = |weights: [i32; 2]| {
        Action::builder()
            .r#type(ActionTypeEnum::Forward)
            .forward_config(
                ForwardActionConfig::builder()
                    .set_target_groups(Some(
                        groups
                            .iter()
                            .zip(weights)
                            .map(|(group, weight)| {
                                TargetGroupTuple::builder()
                                    .target_group_arn(group)
                                    .weight(weight)
                                    .build()
                            })
                            .collect(),
                    ))
                    .build(),
            )
            .build()
    };
    let listener = elbv2
        .create_listener()
        .load_balancer_arn(&network.load_balancer)
        .protocol(aws_sdk_elasticloadbalancingv2::types::ProtocolEnum::Http)
        .port(8090)
        .default_actions(forward([100, 0]))
        .send()
        .await
        .expect("a listener");
    let rule = elbv2
        .create_rule()
        .listener_arn(listener.listeners()[0].listener_arn().unwrap_or_default())
        .priority(1)
        .conditions(
            RuleCondition::builder()
                .field("path-pattern")
                .values("/*")
                .build(),
        )
        .actions(forward([100, 0]))
        .send()
        .await
        .expect("the production rule");
    let rule = rule.rules()[0].rule_arn().unwrap_or_default().to_string();
    let mut definitions = Vec::new();
    for version in ["1.0", "2.0"] {
        let registered = ecs
            .register_task_definition()
            .family(SERVICE)
            .container_definitions(
                ContainerDefinition::builder()
                    .name("web")
                    .image(format!("registry.example/web:{version}"))
                    .memory(512)
                    .build(),
            )
            .send()
            .await
            .expect("a task definition");
        definitions.push(
            registered
                .task_definition()
                .and_then(|d| d.task_definition_arn())
                .unwrap_or_default()
                .to_string(),
        );
    }
    let pause = DeploymentLifecycleHook::builder()
        .target_type(DeploymentLifecycleHookTargetType::Pause)
        .lifecycle_stages(DeploymentLifecycleHookStage::PreProductionTrafficShift)
        .timeout_configuration(
            DeploymentLifecycleHookTimeoutConfiguration::builder()
                .timeout_in_minutes(1500)
                .action(DeploymentLifecycleHookAction::Rollback)
                .build(),
        )
        .build();
    ecs.create_service()
        .cluster(CLUSTER)
        .service_name(SERVICE)
        .task_definition(&definitions[0])
        .desired_count(2)
        .deployment_controller(
            DeploymentController::builder()
                .r#type(DeploymentControllerType::Ecs)
                .build()
                .expect("a controller"),
        )
        .load_balancers(
            LoadBalancer::builder()
                .target_group_arn(&groups[0])
                .container_name("web")
                .container_port(80)
                .advanced_configuration(
                    AdvancedConfiguration::builder()
                        .alternate_target_group_arn(&groups[1])
                        .production_listener_rule(&rule)
                        .role_arn("arn:aws:iam::123456789012:role/ecs-infrastructure")
                        .build(),
                )
                .build(),
        )
        .deployment_configuration(
            DeploymentConfiguration::builder()
                .strategy(strategy)
                .linear_configuration(
                    LinearConfiguration::builder()
                        .step_percent(25.0)
                        .step_bake_time_in_minutes(0)
                        .build(),
                )
                .bake_time_in_minutes(0)
                .set_lifecycle_hooks(enrolled.then(|| vec![pause]))
                .build(),
        )
        .set_tags(enrolled.then(|| vec![Tag::builder().key(GATE_TAG).value("true").build()]))
        .send()
        .await
        .expect("the native service");
    Native {
        ecs,
        elbv2,
        rule,
        groups: [groups[0].clone(), groups[1].clone()],
        new_definition: definitions[1].clone(),
    }
}
