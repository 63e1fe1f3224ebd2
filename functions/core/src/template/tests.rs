//! Tests of the template's layout and patching.

use super::*;

const ARTICLE: &str = include_str!("../../testdata/article-template.json");
const ARTICLE_DEPLOYED: &str = include_str!("../../testdata/article-template-deployed.json");
const ARTICLE_YAML: &str = include_str!("../../testdata/article-template.yaml");
const LIVE_26: &str = "arn:aws:ecs:us-east-1:968802670493:task-definition/mytask:26";
const LIVE_27: &str = "arn:aws:ecs:us-east-1:968802670493:task-definition/mytask:27";
/// What a deployment registers for the candidate: stable's live definition
/// with the release applied.
const CANDIDATE_28: &str = "arn:aws:ecs:us-east-1:968802670493:task-definition/mytask:28";

fn article() -> Template {
    Template::parse(ARTICLE).unwrap()
}

/// The article's second template, except that the candidate (Green) runs the
/// task definition the deployment registered, and the template's own task
/// definition is left as the first template had it.
fn article_deployed_with_registered_candidate(candidate: &str) -> Value {
    let mut expected: Value = serde_json::from_str(ARTICLE_DEPLOYED).unwrap();
    let first: Value = serde_json::from_str(ARTICLE).unwrap();
    expected["Resources"]["MyTask"] = first["Resources"]["MyTask"].clone();
    expected["Resources"]["GreenTaskSet"]["Properties"]["TaskDefinition"] = json!(candidate);
    expected
}

fn property<'a>(template: &'a Template, resource: &str, path: &str) -> &'a Value {
    template
        .as_json()
        .pointer(&format!("/Resources/{resource}/Properties{path}"))
        .unwrap_or_else(|| panic!("{resource}{path} missing"))
}

fn weights(template: &Template) -> Vec<(String, i64)> {
    let groups = property(
        template,
        "MyListenerRule",
        "/Actions/0/ForwardConfig/TargetGroups",
    );
    groups
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["TargetGroupArn"]["Ref"].as_str().unwrap().to_string(),
                g["Weight"].as_i64().unwrap(),
            )
        })
        .collect()
}

fn mutate(edit: impl FnOnce(&mut Value)) -> Template {
    let mut body: Value = serde_json::from_str(ARTICLE).unwrap();
    edit(&mut body);
    Template::from_json(body).unwrap()
}

#[test]
fn finds_the_article_layout() {
    let layout = article().layout().unwrap();
    assert_eq!(layout.blue_task_set, "BlueTaskSet");
    assert_eq!(layout.green_task_set, "GreenTaskSet");
    assert_eq!(
        layout.target_group_resource(Colour::Blue),
        Some("BlueTargetGroup")
    );
    assert_eq!(
        layout.target_group_resource(Colour::Green),
        Some("GreenTargetGroup")
    );
    assert_eq!(layout.weighted_rule, "MyListenerRule");
    assert!(layout.tester_rules.is_empty());
    assert_eq!(layout.task_definition, "MyTask");
    assert_eq!(layout.service.as_deref(), Some("MyService"));
    assert_eq!(StackLayout::task_set_output(Colour::Green), "GreenTaskSet");
}

#[test]
fn a_layout_finds_each_colour_s_resources_in_a_deployed_stack() {
    let layout = article().layout().unwrap();
    let ids: std::collections::BTreeMap<String, String> = [
        ("BlueTaskSet", "ecs-svc/1"),
        ("GreenTaskSet", "ecs-svc/2"),
        ("BlueTargetGroup", "arn:tg/blue"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let outputs: std::collections::BTreeMap<String, String> = [(
        "GreenTaskSet".to_string(),
        "ecs-svc/from-output".to_string(),
    )]
    .into();
    // Outputs first, then physical ids.
    assert_eq!(
        layout.task_set_id(&outputs, &ids, Colour::Green).as_deref(),
        Some("ecs-svc/from-output")
    );
    assert_eq!(
        layout.task_set_id(&outputs, &ids, Colour::Blue).as_deref(),
        Some("ecs-svc/1")
    );
    assert_eq!(
        layout.task_set_id(&outputs, &Default::default(), Colour::Blue),
        None
    );
    assert_eq!(
        layout.target_group_arn(&ids, Colour::Blue).as_deref(),
        Ok("arn:tg/blue")
    );
    assert_eq!(
        layout.target_group_arn(&ids, Colour::Green),
        Err(TemplateError::TargetGroupNotFound(Colour::Green))
    );
    // A template that names the ARN itself needs no physical id.
    let named = mutate(|b| {
        let by_name = json!("arn:tg/green-by-name");
        b["Resources"]["GreenTaskSet"]["Properties"]["LoadBalancers"][0]["TargetGroupArn"] =
            by_name.clone();
        let groups = b
            .pointer_mut(
                "/Resources/MyListenerRule/Properties/Actions/0/ForwardConfig/TargetGroups",
            )
            .and_then(Value::as_array_mut)
            .unwrap();
        for group in groups {
            if group["TargetGroupArn"] == json!({"Ref": "GreenTargetGroup"}) {
                group["TargetGroupArn"] = by_name.clone();
            }
        }
    });
    let layout = named.layout().unwrap();
    assert_eq!(
        layout
            .target_group_arn(&Default::default(), Colour::Green)
            .as_deref(),
        Ok("arn:tg/green-by-name")
    );
}

#[test]
fn blue_stable_patch_of_the_article_is_the_articles_second_template_with_a_registered_candidate() {
    let patched = article()
        .patch(Colour::Blue, LIVE_26, CANDIDATE_28)
        .unwrap();
    assert_eq!(
        patched.template.as_json(),
        &article_deployed_with_registered_candidate(CANDIDATE_28)
    );
}

#[test]
fn green_stable_patch_of_the_verbatim_article_mirrors_the_blue_one() {
    let patched = article()
        .patch(Colour::Green, LIVE_26, CANDIDATE_28)
        .unwrap()
        .template;
    assert_eq!(
        property(&patched, "GreenTaskSet", "/TaskDefinition"),
        &json!(LIVE_26)
    );
    assert_eq!(
        property(&patched, "BlueTaskSet", "/TaskDefinition"),
        &json!(CANDIDATE_28)
    );
    assert_eq!(
        weights(&patched),
        vec![
            ("GreenTargetGroup".into(), 100),
            ("BlueTargetGroup".into(), 0)
        ]
    );
    assert_eq!(
        property(&patched, "MyService", "/Tags/0/Value"),
        &json!("Green")
    );
    // The template's own task definition is not what the candidate runs.
    assert_eq!(
        patched.as_json()["Resources"]["MyTask"],
        article().as_json()["Resources"]["MyTask"]
    );
}

#[test]
fn green_stable_patch_pins_green_and_moves_blue_to_the_new_version() {
    // The deployed template after a promotion: Green is stable and live on :27.
    let deployed = Template::parse(ARTICLE_DEPLOYED).unwrap();
    let patched = deployed
        .patch(Colour::Green, LIVE_27, CANDIDATE_28)
        .unwrap()
        .template;

    assert_eq!(
        property(&patched, "GreenTaskSet", "/TaskDefinition"),
        &json!(LIVE_27)
    );
    assert_eq!(
        property(&patched, "BlueTaskSet", "/TaskDefinition"),
        &json!(CANDIDATE_28)
    );
    // The rendered split equals the live one: Green (stable) 100, Blue 0.
    assert_eq!(
        weights(&patched),
        vec![
            ("GreenTargetGroup".into(), 100),
            ("BlueTargetGroup".into(), 0)
        ]
    );
    assert_eq!(
        property(&patched, "MyService", "/Tags/0"),
        &json!({"Key": "StableStack", "Value": "Green"})
    );
    // Nothing else moved: the target groups and listener are untouched.
    for untouched in [
        "GreenTargetGroup",
        "BlueTargetGroup",
        "MyListener",
        "MyTask",
    ] {
        assert_eq!(
            patched.as_json()["Resources"][untouched],
            deployed.as_json()["Resources"][untouched]
        );
    }
}

#[test]
fn yaml_templates_with_short_form_intrinsics_patch_like_json() {
    let yaml = Template::parse(ARTICLE_YAML).unwrap();
    assert_eq!(
        yaml.as_json()["AWSTemplateFormatVersion"],
        json!("2010-09-09")
    );
    assert_eq!(
        yaml.as_json()["Outputs"]["BlueTaskSet"]["Value"],
        json!({"Fn::GetAtt": ["BlueTaskSet", "Id"]})
    );
    let from_yaml = yaml
        .patch(Colour::Blue, LIVE_26, CANDIDATE_28)
        .unwrap()
        .template;
    let mut expected = article_deployed_with_registered_candidate(CANDIDATE_28);
    let mut got = from_yaml.as_json().clone();
    got.as_object_mut()
        .unwrap()
        .remove("AWSTemplateFormatVersion");
    expected
        .as_object_mut()
        .unwrap()
        .remove("AWSTemplateFormatVersion");
    assert_eq!(got, expected);
}

#[test]
fn yaml_tags_become_long_form_json() {
    let template = Template::parse(
        "Resources:\n  A:\n    Type: X\n    Properties:\n      S: !Sub '${AWS::StackName}-a'\n      J: !Join [ '', [ a, !Ref B ] ]\n      G: !GetAtt [ B, Arn ]\n      C: !If [ IsProd, 1, 2 ]\n      N: 3\n      F: 1.5\n",
    )
    .unwrap();
    let props = &template.as_json()["Resources"]["A"]["Properties"];
    assert_eq!(props["S"], json!({"Fn::Sub": "${AWS::StackName}-a"}));
    assert_eq!(props["J"], json!({"Fn::Join": ["", ["a", {"Ref": "B"}]]}));
    assert_eq!(props["G"], json!({"Fn::GetAtt": ["B", "Arn"]}));
    assert_eq!(props["C"], json!({"Fn::If": ["IsProd", 1, 2]}));
    assert_eq!(props["N"], json!(3));
    assert_eq!(props["F"], json!(1.5));
}

#[test]
fn the_patch_output_parses_back_to_the_same_template() {
    let patched = article()
        .patch(Colour::Blue, LIVE_26, CANDIDATE_28)
        .unwrap()
        .template;
    assert_eq!(Template::parse(&patched.to_json_string()).unwrap(), patched);
}

#[test]
fn patching_is_idempotent() {
    let once = article()
        .patch(Colour::Blue, LIVE_26, CANDIDATE_28)
        .unwrap()
        .template;
    let twice = once
        .patch(Colour::Blue, LIVE_26, CANDIDATE_28)
        .unwrap()
        .template;
    assert_eq!(once, twice);
}

fn tester_rule(target: &str, marked: bool) -> Value {
    let mut rule = json!({
        "Type": "AWS::ElasticLoadBalancingV2::ListenerRule",
        "Properties": {
            "Actions": [{"Type": "forward", "ForwardConfig": {"TargetGroups": [
                {"TargetGroupArn": {"Ref": target}, "Weight": 100}]}}],
            "Conditions": [{"Field": "query-string", "QueryStringConfig": {"Values": [{"Key": "test", "Value": "true"}]}}],
            "ListenerArn": {"Ref": "MyListener"},
            "Priority": 5
        }
    });
    if marked {
        rule["Metadata"] = json!({"ecs-canary": {"role": "tester"}});
    }
    rule
}

#[test]
fn only_marked_rules_are_tester_rules() {
    // A rule pinned to one colour (say /admin/* on Blue) is not a tester rule.
    let pinned =
        mutate(|body| body["Resources"]["AdminRule"] = tester_rule("BlueTargetGroup", false));
    assert!(pinned.layout().unwrap().tester_rules.is_empty());
    let patched = pinned
        .patch(Colour::Green, LIVE_27, CANDIDATE_28)
        .unwrap()
        .template;
    assert_eq!(
        property(
            &patched,
            "AdminRule",
            "/Actions/0/ForwardConfig/TargetGroups/0"
        ),
        &json!({"TargetGroupArn": {"Ref": "BlueTargetGroup"}, "Weight": 100}),
        "an unmarked rule is never touched"
    );

    let marked =
        mutate(|body| body["Resources"]["TesterRule"] = tester_rule("GreenTargetGroup", true));
    assert_eq!(
        marked.layout().unwrap().tester_rules,
        vec!["TesterRule".to_string()]
    );

    // A marked rule must forward to exactly one colour.
    let both = mutate(|body| {
        let mut rule = tester_rule("GreenTargetGroup", true);
        rule["Properties"]["Actions"][0]["ForwardConfig"]["TargetGroups"]
            .as_array_mut()
            .unwrap()
            .push(json!({"TargetGroupArn": {"Ref": "BlueTargetGroup"}, "Weight": 0}));
        body["Resources"]["TesterRule"] = rule;
    });
    assert_eq!(both.layout().unwrap_err().error_type(), "MalformedTemplate");
}

#[test]
fn tester_rules_are_rendered_on_the_stable_colour() {
    // What is live at rest: the load balancer moves them to the candidate
    // once it is ready, and back when the deployment ends.
    let template =
        mutate(|body| body["Resources"]["TesterRule"] = tester_rule("BlueTargetGroup", true));
    let patched = template
        .patch(Colour::Green, LIVE_27, CANDIDATE_28)
        .unwrap()
        .template;
    assert_eq!(
        property(
            &patched,
            "TesterRule",
            "/Actions/0/ForwardConfig/TargetGroups/0"
        ),
        &json!({"TargetGroupArn": {"Ref": "GreenTargetGroup"}, "Weight": 100})
    );
    let patched = template
        .patch(Colour::Blue, LIVE_26, CANDIDATE_28)
        .unwrap()
        .template;
    assert_eq!(
        property(
            &patched,
            "TesterRule",
            "/Actions/0/ForwardConfig/TargetGroups/0/TargetGroupArn"
        ),
        &json!({"Ref": "BlueTargetGroup"})
    );

    // The simple form (TargetGroupArn on the action) too.
    let simple = mutate(|body| {
        let mut rule = tester_rule("GreenTargetGroup", true);
        rule["Properties"]["Actions"] =
            json!([{"Type": "forward", "TargetGroupArn": {"Ref": "GreenTargetGroup"}}]);
        body["Resources"]["TesterRule"] = rule;
    });
    let patched = simple
        .patch(Colour::Blue, LIVE_26, CANDIDATE_28)
        .unwrap()
        .template;
    assert_eq!(
        property(&patched, "TesterRule", "/Actions/0/TargetGroupArn"),
        &json!({"Ref": "BlueTargetGroup"})
    );
}

#[test]
fn colours_come_from_outputs_before_external_ids_and_logical_ids() {
    // Logical ids that name no colour; outputs decide.
    let renamed = mutate(|body| {
        let resources = body["Resources"].as_object_mut().unwrap();
        let blue = resources.remove("BlueTaskSet").unwrap();
        let green = resources.remove("GreenTaskSet").unwrap();
        resources.insert("SetA".into(), green);
        resources.insert("SetB".into(), blue);
        for set in ["SetA", "SetB"] {
            resources[set]["Properties"]["ExternalId"] = json!("app");
        }
        body["Outputs"]["GreenTaskSet"]["Value"] = json!({"Fn::GetAtt": ["SetA", "Id"]});
        body["Outputs"]["BlueTaskSet"]["Value"] = json!({"Fn::GetAtt": "SetB.Id"});
    });
    let layout = renamed.layout().unwrap();
    assert_eq!(
        (
            layout.blue_task_set.as_str(),
            layout.green_task_set.as_str()
        ),
        ("SetB", "SetA")
    );

    // No outputs: ExternalId decides, even against the logical id.
    let external = mutate(|body| {
        body.as_object_mut().unwrap().remove("Outputs");
        body["Resources"]["BlueTaskSet"]["Properties"]["ExternalId"] = json!("green-stack");
        body["Resources"]["GreenTaskSet"]["Properties"]["ExternalId"] = json!("blue-stack");
    });
    let layout = external.layout().unwrap();
    assert_eq!(layout.blue_task_set, "GreenTaskSet");
}

#[test]
fn every_missing_resource_has_its_name() {
    type Edit = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(&str, Edit)> = vec![
        (
            "TaskSetNotFound",
            Box::new(|b| {
                b["Resources"]
                    .as_object_mut()
                    .unwrap()
                    .remove("GreenTaskSet");
                b["Outputs"].as_object_mut().unwrap().remove("GreenTaskSet");
            }),
        ),
        (
            "AmbiguousTaskSet",
            Box::new(|b| {
                b.as_object_mut().unwrap().remove("Outputs");
                let copy = b["Resources"]["BlueTaskSet"].clone();
                b["Resources"]["BlueTaskSet2"] = copy;
            }),
        ),
        (
            "TargetGroupNotFound",
            Box::new(|b| {
                b["Resources"]["BlueTaskSet"]["Properties"]
                    .as_object_mut()
                    .unwrap()
                    .remove("LoadBalancers");
            }),
        ),
        (
            "TargetGroupNotFound",
            Box::new(|b| {
                b["Resources"]["BlueTaskSet"]["Properties"]["LoadBalancers"][0]["TargetGroupArn"] =
                    json!({"Ref": "GreenTargetGroup"});
            }),
        ),
        (
            "WeightedRuleNotFound",
            Box::new(|b| {
                b["Resources"]
                    .as_object_mut()
                    .unwrap()
                    .remove("MyListenerRule");
            }),
        ),
        (
            "AmbiguousWeightedRule",
            Box::new(|b| {
                let copy = b["Resources"]["MyListenerRule"].clone();
                b["Resources"]["OtherRule"] = copy;
            }),
        ),
        (
            "TaskDefinitionNotFound",
            Box::new(|b| {
                b["Resources"].as_object_mut().unwrap().remove("MyTask");
                for set in ["BlueTaskSet", "GreenTaskSet"] {
                    b["Resources"][set]["Properties"]["TaskDefinition"] =
                        json!("arn:aws:ecs:us-east-1:1:task-definition/x:1");
                }
            }),
        ),
        (
            "AmbiguousTaskDefinition",
            Box::new(|b| {
                let copy = b["Resources"]["MyTask"].clone();
                b["Resources"]["OtherTask"] = copy;
                b["Resources"]["GreenTaskSet"]["Properties"]["TaskDefinition"] =
                    json!({"Ref": "OtherTask"});
            }),
        ),
        (
            "MalformedTemplate",
            Box::new(|b| {
                // A tester rule that forwards to both colours.
                let mut rule = b["Resources"]["MyListenerRule"].clone();
                rule["Metadata"] = json!({"ecs-canary": {"role": "tester"}});
                b["Resources"]["TesterRule"] = rule;
            }),
        ),
    ];
    for (expected, edit) in cases {
        let template = mutate(|b| edit(b));
        let err = template
            .patch(Colour::Blue, LIVE_26, CANDIDATE_28)
            .unwrap_err();
        assert_eq!(err.error_type(), expected, "{err}");
    }
    assert_eq!(
        Template::parse("{\"Outputs\": {}}").unwrap_err(),
        TemplateError::NoResources
    );
    assert_eq!(
        Template::parse("{ broken").unwrap_err().error_type(),
        "TemplateUnreadable"
    );
    assert_eq!(
        Template::parse("a: [").unwrap_err().error_type(),
        "TemplateUnreadable"
    );
    assert_eq!(
        Template::parse("[1, 2]").unwrap_err(),
        TemplateError::NoResources
    );
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    fn colour() -> impl Strategy<Value = Colour> {
        prop_oneof![Just(Colour::Blue), Just(Colour::Green)]
    }

    proptest! {
        /// Whatever the stable colour, live ARN and release: the stable task set is
        /// pinned, the candidate follows the task definition, the rule says
        /// stable 100 / candidate 0, and the other colour's set is the candidate.
        #[test]
        fn patch_invariants(
            stable in colour(),
            revision in 1u32..10_000,
            registered in 1u32..10_000,
        ) {
            let live = format!("arn:aws:ecs:us-east-1:123456789012:task-definition/mytask:{revision}");
            let next = format!("arn:aws:ecs:us-east-1:123456789012:task-definition/mytask:{registered}");
            let start = Template::parse(ARTICLE_DEPLOYED).unwrap();
            let patched = start.patch(stable, &live, &next).unwrap();
            let t = &patched.template;
            let candidate = stable.other();
            prop_assert_eq!(property(t, &format!("{stable}TaskSet"), "/TaskDefinition"), &json!(live));
            prop_assert_eq!(property(t, &format!("{candidate}TaskSet"), "/TaskDefinition"), &json!(next));
            let w = weights(t);
            for (group, weight) in w {
                let expected = if group == format!("{stable}TargetGroup") { 100 } else { 0 };
                prop_assert_eq!(weight, expected);
            }
            prop_assert_eq!(&t.as_json()["Resources"]["MyTask"], &start.as_json()["Resources"]["MyTask"]);
            prop_assert_eq!(property(t, "MyService", "/Tags/0/Value"), &json!(stable.as_str()));
            // The layout is unchanged by patching.
            prop_assert_eq!(t.layout().unwrap(), start.layout().unwrap());
        }
    }
}
