//! Gates on ECS's own deployments: a service with `deploymentController:
//! ECS`, a LINEAR strategy (25 % steps) and a PAUSE hook before each
//! production traffic shift, enrolled by its tag. UpdateService starts the
//! rollout; every pause reaches the real ecs-hook binary through EventBridge,
//! the gate state machine asks by email, and the answer goes back to ECS.

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
use ecs_canary_core::{lock_key, HistoryKind, GATE_TAG};
use ecs_canary_e2e::example::{create_network, CLUSTER};
use ecs_canary_e2e::flow::{link_in, submit, Flow};
use ecs_canary_e2e::{Emulator, EmulatorOptions, HISTORY_TABLE};
use serde_json::json;

const SERVICE: &str = "native-web";

/// The native service, and what a test looks at.
struct Native {
    ecs: aws_sdk_ecs::Client,
    elbv2: aws_sdk_elasticloadbalancingv2::Client,
    rule: String,
    /// Production's target group first, the alternate second.
    groups: [String; 2],
    new_definition: String,
}

impl Native {
    /// The production and alternate target groups' weights on the rule.
    async fn weights(&self) -> [i32; 2] {
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
    async fn deployment(&self) -> String {
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

    async fn status(&self, deployment: &str) -> ServiceDeploymentStatus {
        let described = self
            .ecs
            .describe_service_deployments()
            .service_deployment_arns(deployment)
            .send()
            .await
            .expect("describe the deployment");
        described.service_deployments()[0]
            .status()
            .cloned()
            .expect("a status")
    }

    async fn until_status(&self, deployment: &str, wanted: ServiceDeploymentStatus) {
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
    async fn update(&self) {
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

/// An emulator with the functions, the network of the example, and the
/// native service on its own listener; an ECS minute lasts a second.
async fn native_service() -> (Emulator, Flow, Native) {
    let emulator = Emulator::start_with(EmulatorOptions {
        functions: true,
        ..EmulatorOptions::default()
    })
    .await;
    emulator.bad_day(json!({"nativeMinuteSeconds": 1.0})).await;
    let clients = emulator.clients().await;
    let network = create_network(&clients).await.expect("the network");
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
                .timeout_in_minutes(120)
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
                .strategy(DeploymentStrategy::Linear)
                .linear_configuration(
                    LinearConfiguration::builder()
                        .step_percent(25.0)
                        .step_bake_time_in_minutes(0)
                        .build(),
                )
                .bake_time_in_minutes(0)
                .lifecycle_hooks(pause)
                .build(),
        )
        .tags(Tag::builder().key(GATE_TAG).value("true").build())
        .send()
        .await
        .expect("the native service");
    let flow = Flow::create(&emulator).await;
    let native = Native {
        ecs,
        elbv2,
        rule,
        groups: [groups[0].clone(), groups[1].clone()],
        new_definition: definitions[1].clone(),
    };
    (emulator, flow, native)
}

/// The next approval email's subject and link.
async fn next_approval(flow: &Flow) -> (String, String) {
    let (subject, body) = flow
        .next_approval_email(Duration::from_secs(60))
        .await
        .expect("an approval email");
    (subject, link_in(&body))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_linear_rollout_is_approved_pause_by_pause_to_completion() {
    let (emulator, flow, native) = native_service().await;
    native.update().await;
    let deployment = native.deployment().await;
    let mut seen = Vec::new();
    for (step, after) in [(1, [75, 25]), (2, [50, 50]), (3, [25, 75]), (4, [0, 100])] {
        let (subject, link) = next_approval(&flow).await;
        assert!(
            subject.contains(&format!("step {step}/4 of {SERVICE}")),
            "{subject}"
        );
        assert!(!seen.contains(&link), "every pause has a link of its own");
        seen.push(link.clone());
        let before = native.weights().await;
        assert_eq!(
            before[1],
            after[1] - 25,
            "nothing moves before the approval"
        );
        let (status, page) = submit(&link, "approve").await;
        assert_eq!(status, 200, "{page}");
        let deadline = Instant::now() + Duration::from_secs(30);
        while native.weights().await != after {
            assert!(
                Instant::now() < deadline,
                "the split is {:?}, not {after:?}, after approving step {step}",
                native.weights().await
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    native
        .until_status(&deployment, ServiceDeploymentStatus::Successful)
        .await;
    // An old link no longer decides anything.
    let (status, _) = submit(&seen[0], "reject").await;
    assert_eq!(status, 409, "a decided pause stays decided");
    let config = emulator.sdk_config().await;
    let history =
        ecs_canary_aws::History::new(aws_sdk_dynamodb::Client::new(&config), HISTORY_TABLE)
            .list(&lock_key(CLUSTER, SERVICE), 100)
            .await
            .expect("the history");
    let decided = history
        .iter()
        .filter(|e| e.kind == HistoryKind::Decided)
        .count();
    assert_eq!(decided, 4, "{history:#?}");
    assert!(
        history
            .iter()
            .any(|e| e.kind == HistoryKind::Paused && e.summary.contains("ECS continues")),
        "{history:#?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn rejected_at_step_two_ecs_rolls_back_and_a_repeated_hook_event_starts_nothing() {
    let (emulator, flow, native) = native_service().await;
    native.update().await;
    let deployment = native.deployment().await;
    let (_, first) = next_approval(&flow).await;
    assert_eq!(submit(&first, "approve").await.0, 200);
    let (subject, second) = next_approval(&flow).await;
    assert!(subject.contains("step 2/4"), "{subject}");
    assert_eq!(native.weights().await, [75, 25]);

    // EventBridge delivers at least once: the same pause again starts no
    // second gate and sends no second email.
    let gates = emulator.infra_output("GateStateMachineArn");
    let running = |list: aws_sdk_sfn::operation::list_executions::ListExecutionsOutput| {
        list.executions().len()
    };
    let before = running(
        flow.sfn
            .list_executions()
            .state_machine_arn(&gates)
            .send()
            .await
            .expect("list the gates"),
    );
    let described = native
        .ecs
        .describe_service_deployments()
        .service_deployment_arns(&deployment)
        .send()
        .await
        .expect("describe");
    let hook = described.service_deployments()[0].lifecycle_hook_details()[0]
        .hook_id()
        .unwrap_or_default()
        .to_string();
    emulator
        .put_event(
            "aws.ecs",
            "ECS Hook State Change",
            &json!({"eventName": "HOOK_AWAITING_ACTION", "serviceDeploymentArn": deployment, "hookId": hook,
                    "serviceArn": format!("arn:aws:ecs:us-east-1:123456789012:service/{CLUSTER}/{SERVICE}")}),
        )
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = running(
        flow.sfn
            .list_executions()
            .state_machine_arn(&gates)
            .send()
            .await
            .expect("list the gates"),
    );
    assert_eq!(before, after, "a repeated event starts no second gate");

    let (status, page) = submit(&second, "reject").await;
    assert_eq!(status, 200, "{page}");
    native
        .until_status(&deployment, ServiceDeploymentStatus::RollbackSuccessful)
        .await;
    assert_eq!(
        native.weights().await,
        [100, 0],
        "production traffic is back on the source revision"
    );
    assert!(
        flow.next_approval_email(Duration::from_secs(3))
            .await
            .is_none(),
        "no pause after the rollback"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_console_stop_during_a_pause_closes_its_links_and_tells_the_channels() {
    let (emulator, flow, native) = native_service().await;
    native.update().await;
    let deployment = native.deployment().await;
    let (_, link) = next_approval(&flow).await;
    native
        .ecs
        .stop_service_deployment()
        .service_deployment_arn(&deployment)
        .send()
        .await
        .expect("stop the deployment");
    native
        .until_status(&deployment, ServiceDeploymentStatus::RollbackSuccessful)
        .await;
    let (subject, body) = flow
        .next_email_where(Duration::from_secs(30), |s| {
            s.contains("ECS deployment ended")
        })
        .await
        .expect("the channels are told");
    assert!(subject.contains(SERVICE), "{subject}");
    assert!(body.contains("links are closed"), "{body}");
    let (status, page) = submit(&link, "approve").await;
    assert_eq!(status, 410, "{page}");
    let gates = flow
        .sfn
        .list_executions()
        .state_machine_arn(emulator.infra_output("GateStateMachineArn"))
        .send()
        .await
        .expect("list the gates");
    assert!(
        gates
            .executions()
            .iter()
            .all(|e| e.status() != &aws_sdk_sfn::types::ExecutionStatus::Running),
        "no gate is left waiting: {gates:?}"
    );
    assert_eq!(native.weights().await, [100, 0]);
}
