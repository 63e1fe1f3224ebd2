//! The contract between the code and the state machine: every error name
//! the state machine matches on is one the code (or the state machine
//! itself) produces, and the error table of `state-machine/README.md` lists
//! exactly the names that exist; and the deployable template keeps its
//! guards (who may receive links, to whom roles may be passed).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use ecs_canary_core::ErrorKind;
use serde_json::{json, Value};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the repository root")
}

/// Every `errorType` the functions can report, and every error they send
/// to Step Functions themselves (`Rejected`, `Aborted`): the one list of
/// error names, [`ErrorKind::ALL`].
fn code_names() -> BTreeSet<String> {
    ErrorKind::ALL
        .iter()
        .map(|kind| kind.as_str().to_string())
        .collect()
}

fn state_machine() -> Value {
    definition("ecs-canary.asl.json")
}

/// Both state machines: ecs-canary's rollouts, and the gate of ECS's own.
fn state_machines() -> [Value; 2] {
    [state_machine(), definition("ecs-canary-gate.asl.json")]
}

fn definition(file: &str) -> Value {
    let text = std::fs::read_to_string(root().join("state-machine").join(file))
        .expect("the state machine");
    // Numeric substitutions stand unquoted in the definition.
    let text = text
        .replace("${ReadyPollSeconds}", "1")
        .replace("${ReadyPollAttempts}", "1");
    serde_json::from_str(&text).expect("the state machine is JSON")
}

fn walk<'a>(value: &'a Value, visit: &mut impl FnMut(&'a str, &'a Value)) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                visit(key, inner);
                walk(inner, visit);
            }
        }
        Value::Array(items) => items.iter().for_each(|i| walk(i, visit)),
        _ => {}
    }
}

/// (names matched by `ErrorEquals`, names the state machine produces itself
/// in `Pass` results).
fn state_machine_names() -> (BTreeSet<String>, BTreeSet<String>) {
    let (mut matched, mut produced) = (BTreeSet::new(), BTreeSet::new());
    for definition in &state_machines() {
        walk(definition, &mut |key, value| match key {
            "ErrorEquals" => matched.extend(
                value
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    // The service's own names: Step Functions, Lambda, the Lambda sandbox.
                    .filter(|n| {
                        !["States.", "Lambda.", "Sandbox."]
                            .iter()
                            .any(|p| n.starts_with(p))
                    })
                    .map(str::to_string),
            ),
            "Result" => produced.extend(
                value
                    .get("Error")
                    .and_then(Value::as_str)
                    .map(str::to_string),
            ),
            // A Fail state's own error name.
            "Error" => produced.extend(value.as_str().map(str::to_string)),
            _ => {}
        });
    }
    (matched, produced)
}

/// The names in the first column of the README's error table.
fn readme_names() -> BTreeSet<String> {
    let text = std::fs::read_to_string(root().join("state-machine/README.md")).expect("README");
    let table = text
        .split("## Error names")
        .nth(1)
        .expect("an error table in state-machine/README.md");
    let mut names = BTreeSet::new();
    for row in table.lines().filter(|l| l.starts_with("| `")) {
        let first = row.split('|').nth(1).unwrap_or_default();
        names.extend(first.split('`').skip(1).step_by(2).map(str::to_string));
    }
    names
}

#[test]
fn every_error_the_state_machine_matches_is_produced() {
    let code = code_names();
    let (matched, produced) = state_machine_names();
    let unknown: Vec<_> = matched
        .iter()
        .filter(|n| !code.contains(*n) && !produced.contains(*n))
        .collect();
    assert!(
        unknown.is_empty(),
        "the state machine matches names nothing produces: {unknown:?}"
    );
    // The list holds what the state machine's retries and rollbacks rely on.
    for known in [
        "DriftDetected",
        "WeightNotApplied",
        "Rejected",
        "SplitChangedByHand",
    ] {
        assert!(code.contains(known), "{known} not found in {code:?}");
    }
    assert!(produced.contains("ApprovalTimedOut"));
}

#[test]
fn the_readme_lists_exactly_the_error_names() {
    let (_, produced) = state_machine_names();
    let mut all = code_names();
    all.extend(produced);
    let listed = readme_names();
    let missing: Vec<_> = all.difference(&listed).collect();
    let stale: Vec<_> = listed.difference(&all).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "state-machine/README.md's error table: missing {missing:?}, no longer produced {stale:?}"
    );
}

/// The deployment example of `state-machine/README.md`, which must be a
/// valid deployment.
fn readme_deployment() -> ecs_canary_core::Deployment {
    let text = std::fs::read_to_string(root().join("state-machine/README.md")).expect("README");
    let section = text
        .split("## The deployment (D)")
        .nth(1)
        .expect("the deployment section");
    let json = section
        .split("```json")
        .nth(1)
        .and_then(|s| s.split("```").next())
        .expect("a JSON example");
    let mut value: Value = serde_json::from_str(json).expect("the example is JSON");
    // The example abbreviates the candidate task set.
    value["candidateTaskSet"] = value["stableTaskSet"].clone();
    serde_json::from_value(value).expect("the README's example is a deployment")
}

fn keys(value: &impl serde::Serialize) -> BTreeSet<String> {
    serde_json::to_value(value)
        .expect("serialises")
        .as_object()
        .expect("an object")
        .keys()
        .cloned()
        .collect()
}

#[test]
fn every_path_the_state_machine_reads_is_in_a_typed_output() {
    use ecs_canary_handlers::{
        CandidateReadiness, ExecutionFailure, Outcome, Promoted, RenderOutput, RolledBack,
        StepOutput,
    };
    let deployment = readme_deployment();
    let mut fields = BTreeSet::new();
    fields.extend(keys(&RenderOutput {
        deployment: deployment.clone(),
        rollout: CandidateReadiness {
            stack_status: "UPDATE_COMPLETE".into(),
            candidate_stability: "STEADY_STATE".into(),
            ready: true,
        },
    }));
    fields.extend(keys(&StepOutput {
        deployment: deployment.clone(),
        last_step: true,
        wait_seconds: 600,
    }));
    fields.extend(keys(&Promoted {
        deployment: deployment.clone(),
        outcome: Outcome::Promoted,
        stable_after: deployment.candidate,
    }));
    let rolled_back = RolledBack {
        deployment: deployment.clone(),
        outcome: Outcome::RolledBack,
        stable_after: deployment.stable,
        rule_left_as_is: false,
        reason: Value::Null,
        failure: ExecutionFailure {
            error: "Rejected".into(),
            cause: "c".into(),
        },
    };
    fields.extend(keys(&rolled_back));
    assert!(fields.contains("lastStep") && fields.contains("request"));

    // What the state machine writes itself (ResultPath), the fields of a
    // Step Functions error object (a Catch with ResultPath "$"), and the
    // Lambda integration's wrapper (`$.Payload`, the function's answer).
    let definition = state_machine();
    let mut written = BTreeSet::from([
        "Error".to_string(),
        "Cause".to_string(),
        "Payload".to_string(),
    ]);
    let mut read = Vec::new();
    let mut selected = Vec::new();
    walk(&definition, &mut |key, value| {
        let Some(path) = value.as_str() else { return };
        if key == "ResultPath" {
            written.extend(
                path.strip_prefix("$.")
                    .map(|p| p.split('.').next().unwrap_or(p).to_string()),
            );
        } else if path.starts_with("$.Payload.") {
            selected.push(path.to_string());
        } else if path.starts_with("$.")
            && (key.ends_with(".$") || key.ends_with("Path") || key == "Variable")
        {
            read.push(path.to_string());
        }
    });
    for path in &read {
        let first = path[2..].split('.').next().unwrap_or_default();
        assert!(
            fields.contains(first) || written.contains(first),
            "the state machine reads {path}, which no output has"
        );
    }
    for path in &selected {
        let first = path["$.Payload.".len()..]
            .split('.')
            .next()
            .unwrap_or_default();
        assert!(
            fields.contains(first),
            "the state machine selects {path}, which no output has"
        );
    }
    assert!(read.iter().any(|p| p == "$.lastStep"), "{read:?}");
    assert!(
        selected.iter().any(|p| p == "$.Payload.failure"),
        "{selected:?}"
    );
}

/// The deployable template, as the functions read templates (YAML tags as
/// their JSON forms).
fn deployable_template() -> Value {
    let text = std::fs::read_to_string(root().join("infra/ecs-canary.yaml")).expect("the template");
    ecs_canary_core::Template::parse(&text)
        .expect("the template parses")
        .as_json()
        .clone()
}

/// Every object in `value` (however deep, `Fn::If` branches included)
/// whose `Action` is or lists `action`.
fn granting(value: &Value, action: &str, found: &mut Vec<Value>) {
    match value {
        Value::Object(map) => {
            let grants = match map.get("Action") {
                Some(Value::String(one)) => one == action,
                Some(Value::Array(many)) => many.iter().any(|a| a == action),
                _ => false,
            };
            if grants {
                found.push(value.clone());
            }
            map.values()
                .for_each(|inner| granting(inner, action, found));
        }
        Value::Array(items) => items.iter().for_each(|i| granting(i, action, found)),
        _ => {}
    }
}

#[test]
fn only_the_stacks_subscription_receives_links_and_roles_go_only_to_their_service() {
    let template = deployable_template();
    // The approval topic denies every Subscribe but the stack's own email.
    let topic_policy = &template["Resources"]["ApprovalTopicPolicy"]["Properties"];
    assert_eq!(topic_policy["Topics"][0]["Ref"], "ApprovalTopic");
    let deny = &topic_policy["PolicyDocument"]["Statement"][0];
    assert_eq!(
        (&deny["Effect"], &deny["Action"], &deny["Principal"]),
        (&json!("Deny"), &json!("sns:Subscribe"), &json!("*"))
    );
    assert!(
        deny["Condition"]["StringNotEquals"]["sns:Endpoint"].is_object(),
        "{deny}"
    );
    // A role may be passed only to the service it is for.
    // Listener rules (and listeners) only of the load balancers named.
    for action in [
        "elasticloadbalancing:ModifyRule",
        "elasticloadbalancing:ModifyListener",
    ] {
        let mut modify = Vec::new();
        granting(&template["Resources"], action, &mut modify);
        assert!(!modify.is_empty(), "{action}");
        for statement in &modify {
            assert!(
                statement["Resource"]
                    .to_string()
                    .contains("ManagedLoadBalancerArns"),
                "{action} beyond ManagedLoadBalancerArns: {statement}"
            );
        }
    }
    let mut pass_role = Vec::new();
    granting(&template["Resources"], "iam:PassRole", &mut pass_role);
    assert!(pass_role.len() >= 3, "{pass_role:?}");
    for statement in pass_role {
        assert!(
            statement["Condition"]["StringEquals"]["iam:PassedToService"].is_string(),
            "iam:PassRole without iam:PassedToService: {statement}"
        );
    }
}

/// Every `functions/<name>/src/main.rs`: the functions.
fn function_directories() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root().join("functions"))
        .expect("functions/")
        .filter_map(Result::ok)
        .filter(|entry| entry.path().join("src/main.rs").is_file())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn the_template_defines_one_function_per_directory() {
    let template = std::fs::read_to_string(root().join("infra/ecs-canary.yaml"))
        .expect("infra/ecs-canary.yaml");
    let mut defined: Vec<String> = template
        .lines()
        .filter_map(|l| {
            l.trim()
                .strip_prefix("FunctionName: !Sub \"${FunctionNamePrefix}")
        })
        .filter_map(|rest| rest.strip_suffix('"'))
        .map(str::to_string)
        .collect();
    defined.sort();
    assert_eq!(defined, function_directories());
}

#[test]
fn every_function_bounds_its_aws_calls_below_its_own_timeout() {
    let template = std::fs::read_to_string(root().join("infra/ecs-canary.yaml"))
        .expect("infra/ecs-canary.yaml");
    let mut functions = 0;
    // Top-level resources start at two spaces of indentation.
    let mut blocks: Vec<String> = Vec::new();
    for line in template.lines() {
        let top = line.starts_with("  ") && !line.starts_with("   ");
        match blocks.last_mut() {
            Some(block) if !top => {
                block.push_str(line);
                block.push('\n');
            }
            _ => blocks.push(format!("{line}\n")),
        }
    }
    for block in blocks
        .iter()
        .filter(|b| b.contains("Type: AWS::Lambda::Function\n"))
    {
        let value = |key: &str| -> Option<f64> {
            block
                .lines()
                .find_map(|l| l.trim().strip_prefix(key))
                .map(|v| v.trim().trim_matches('"'))
                .and_then(|v| v.parse().ok())
        };
        let name = block.lines().next().unwrap_or_default();
        let timeout = value("Timeout:").unwrap_or_else(|| panic!("{name} has no Timeout"));
        let bound = value(&format!("{}:", ecs_canary_aws::AWS_TIMEOUT_VARIABLE))
            .unwrap_or_else(|| panic!("{name} does not bound its AWS calls"));
        assert!(
            bound < timeout,
            "{name}: AWS calls bounded at {bound} s, the function at {timeout} s"
        );
        functions += 1;
    }
    assert_eq!(functions, function_directories().len());
}

/// The lines of resource `name` in the deployable template (up to the next
/// resource).
fn template_resource(template: &str, name: &str) -> String {
    let start = format!("  {name}:");
    template
        .lines()
        .skip_while(|line| line.trim_end() != start)
        .skip(1)
        .take_while(|line| {
            !(line.starts_with("  ") && !line.starts_with("   ") && line.trim_end().ends_with(':'))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Each function's role lets it call what its ports call: a port a function
/// holds (its `PORTS`, the only adapters its binary builds) is reachable
/// through its role, so a path the tests run on the emulator (which does
/// not enforce IAM) is not refused on AWS.
#[test]
fn every_functions_role_reaches_the_services_of_its_ports() {
    use ecs_canary_handlers::steps::*;
    use ecs_canary_handlers::Ports;
    let template = std::fs::read_to_string(root().join("infra/ecs-canary.yaml"))
        .expect("infra/ecs-canary.yaml");
    // What a role must mention for each port (any of them).
    let reach: [(u32, &str, &[&str]); 14] = [
        (
            Ports::RULES,
            "rules",
            &["elasticloadbalancing:DescribeRules"],
        ),
        (Ports::ECS, "ecs", &["ecs:DescribeServices"]),
        (Ports::STACKS, "stacks", &["cloudformation:GetTemplate"]),
        (Ports::LOCKS, "locks", &["LockTable.Arn"]),
        (Ports::APPROVALS, "approvals", &["ApprovalsTable.Arn"]),
        (
            Ports::CALLBACKS,
            "callbacks",
            &["states:SendTask", "states:StopExecution"],
        ),
        (Ports::ALARMS, "alarms", &["cloudwatch:DescribeAlarms"]),
        (Ports::FUNCTIONS, "functions", &["lambda:InvokeFunction"]),
        (Ports::METRICS, "metrics", &["cloudwatch:GetMetricData"]),
        (Ports::HISTORY, "history", &["HistoryTable.Arn"]),
        (Ports::NOTIFICATIONS, "notifications", &["sns:Publish"]),
        (Ports::STARTS, "starts", &["states:StartExecution"]),
        (
            Ports::SECRETS,
            "secrets",
            &["secretsmanager:GetSecretValue"],
        ),
        (Ports::NATIVE, "native", &["ecs:DescribeServiceDeployments"]),
    ];
    let functions = [
        ("ResolveStableRole", resolve_stable::PORTS),
        ("RenderAndDeployRole", render_and_deploy::PORTS),
        ("SetWeightsRole", set_weights::PORTS),
        ("RequestApprovalRole", request_approval::PORTS),
        ("PromoteRole", promote::PORTS),
        ("RollbackRole", rollback::PORTS),
        ("ReconcileRole", reconcile::PORTS),
        ("AlarmAbortRole", alarm_abort::PORTS),
        ("ApprovalApiRole", approval_api::PORTS),
        ("OperatorApiRole", operator_api::PORTS),
        ("EcsHookRole", ecs_hook::PORTS),
        ("EcrTriggerRole", ecr_trigger::PORTS),
    ];
    let mut missing = Vec::new();
    for (role, ports) in functions {
        let text = template_resource(&template, role);
        assert!(
            text.contains("AWS::IAM::Role"),
            "{role} is not in the template"
        );
        for (bit, port, actions) in reach {
            if ports & bit != 0 && !actions.iter().any(|action| text.contains(action)) {
                missing.push(format!(
                    "{role} holds `{port}` but grants none of {actions:?}"
                ));
            }
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}

/// A function logs at the level `RUST_LOG` names, `info` otherwise.
#[test]
fn a_function_logs_at_the_level_rust_log_names() {
    use ecs_canary_handlers::log_level;
    use tracing_subscriber::filter::LevelFilter;
    assert_eq!(log_level(Some("warn")), LevelFilter::WARN);
    assert_eq!(log_level(Some("hyper=warn, debug")), LevelFilter::DEBUG);
    assert_eq!(log_level(Some("off")), LevelFilter::OFF);
    for unset in [None, Some(""), Some("loud"), Some("hyper=trace")] {
        assert_eq!(log_level(unset), LevelFilter::INFO, "{unset:?}");
    }
}
