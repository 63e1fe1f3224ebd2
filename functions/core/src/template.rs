//! Reading a blue/green stack template and rewriting it for a new candidate.
//!
//! Resources are found by type and colour, as in the article's template:
//! the two `AWS::ECS::TaskSet`s (colour from the `BlueTaskSet`/`GreenTaskSet`
//! outputs, else the `ExternalId`, else the logical id), their target groups
//! (from each task set's `LoadBalancers`), the weighted `ListenerRule` (the
//! one forwarding to both target groups), tester rules (forwarding to exactly
//! one of them), the `AWS::ECS::TaskDefinition` the task sets refer to, and
//! the `AWS::ECS::Service`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use thiserror::Error;

use crate::{Colour, ErrorKind, ErrorName, STABLE_STACK_TAG};

/// The `Metadata` key that marks a listener rule as a tester rule:
/// `"Metadata": {"ecs-canary": {"role": "tester"}}`. Only marked rules are
/// ever retargeted; no rule is guessed to be one.
pub const METADATA_KEY: &str = "ecs-canary";
pub const TESTER_ROLE: &str = "tester";

/// Outputs named `<Colour>TaskSet` hold each colour's task-set id.
pub const TASK_SET_OUTPUT_SUFFIX: &str = "TaskSet";

const TASK_SET: &str = "AWS::ECS::TaskSet";
const TASK_DEFINITION: &str = "AWS::ECS::TaskDefinition";
const SERVICE: &str = "AWS::ECS::Service";
const LISTENER_RULE: &str = "AWS::ElasticLoadBalancingV2::ListenerRule";

/// A CloudFormation template, held in its JSON form whatever it was written in.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    body: Value,
}

/// Where the blue/green pieces are in a template (logical ids).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StackLayout {
    pub blue_task_set: String,
    pub green_task_set: String,
    /// How each task set names its target group: `{"Ref": "..."}` or an ARN.
    pub blue_target_group: Value,
    pub green_target_group: Value,
    pub weighted_rule: String,
    pub tester_rules: Vec<String>,
    pub task_definition: String,
    pub service: Option<String>,
}

impl StackLayout {
    pub fn task_set(&self, colour: Colour) -> &str {
        match colour {
            Colour::Blue => &self.blue_task_set,
            Colour::Green => &self.green_task_set,
        }
    }

    pub fn target_group(&self, colour: Colour) -> &Value {
        match colour {
            Colour::Blue => &self.blue_target_group,
            Colour::Green => &self.green_target_group,
        }
    }

    /// The logical id of a colour's target group, when the template creates it.
    pub fn target_group_resource(&self, colour: Colour) -> Option<&str> {
        self.target_group(colour).get("Ref").and_then(Value::as_str)
    }

    /// The output that holds a colour's task-set id.
    pub fn task_set_output(colour: Colour) -> String {
        format!("{colour}{TASK_SET_OUTPUT_SUFFIX}")
    }

    /// A colour's task-set id in a deployed stack: the `<Colour>TaskSet`
    /// output, else the task set resource's physical id.
    pub fn task_set_id(
        &self,
        outputs: &BTreeMap<String, String>,
        physical_ids: &BTreeMap<String, String>,
        colour: Colour,
    ) -> Option<String> {
        outputs
            .get(&StackLayout::task_set_output(colour))
            .or_else(|| physical_ids.get(self.task_set(colour)))
            .cloned()
    }

    /// A colour's target group ARN in a deployed stack: the ARN the template
    /// names, else the physical id of the target group it creates.
    pub fn target_group_arn(
        &self,
        physical_ids: &BTreeMap<String, String>,
        colour: Colour,
    ) -> Result<String, TemplateError> {
        self.target_group(colour)
            .as_str()
            .map(str::to_string)
            .or_else(|| {
                self.target_group_resource(colour)
                    .and_then(|id| physical_ids.get(id))
                    .cloned()
            })
            .ok_or(TemplateError::TargetGroupNotFound(colour))
    }
}

/// The result of [`Template::patch`].
#[derive(Debug, Clone, PartialEq)]
pub struct PatchedTemplate {
    pub template: Template,
    pub layout: StackLayout,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TemplateError {
    #[error("the template is neither JSON nor YAML: {0}")]
    Unreadable(String),
    #[error("the template has no Resources object")]
    NoResources,
    #[error("no {TASK_SET} for {0} (looked at outputs {0}TaskSet, ExternalId and logical ids)")]
    TaskSetNotFound(Colour),
    #[error("more than one {TASK_SET} is {0}: {1:?}")]
    AmbiguousTaskSet(Colour, Vec<String>),
    #[error("the {0} task set names no target group in LoadBalancers")]
    TargetGroupNotFound(Colour),
    #[error("the blue and green task sets use the same target group")]
    SharedTargetGroup,
    #[error("no {LISTENER_RULE} forwards to both the blue and the green target group")]
    WeightedRuleNotFound,
    #[error("more than one listener rule forwards to both target groups: {0:?}")]
    AmbiguousWeightedRule(Vec<String>),
    #[error("no {TASK_DEFINITION} for the task sets")]
    TaskDefinitionNotFound,
    #[error("the task sets refer to more than one task definition: {0:?}")]
    AmbiguousTaskDefinition(Vec<String>),
    #[error("the task definition has no container named {0:?}")]
    ContainerNotFound(String),
    #[error("the task definition has several containers ({0:?}); name one with `container`")]
    AmbiguousContainer(Vec<String>),
    #[error("resource {logical_id}: {reason}")]
    MalformedResource { logical_id: String, reason: String },
}

impl ErrorName for TemplateError {
    fn error_kind(&self) -> ErrorKind {
        match self {
            TemplateError::Unreadable(_) | TemplateError::NoResources => {
                ErrorKind::TemplateUnreadable
            }
            TemplateError::TaskSetNotFound(_) => ErrorKind::TaskSetNotFound,
            TemplateError::AmbiguousTaskSet(..) => ErrorKind::AmbiguousTaskSet,
            TemplateError::TargetGroupNotFound(_) | TemplateError::SharedTargetGroup => {
                ErrorKind::TargetGroupNotFound
            }
            TemplateError::WeightedRuleNotFound => ErrorKind::WeightedRuleNotFound,
            TemplateError::AmbiguousWeightedRule(_) => ErrorKind::AmbiguousWeightedRule,
            TemplateError::TaskDefinitionNotFound => ErrorKind::TaskDefinitionNotFound,
            TemplateError::AmbiguousTaskDefinition(_) => ErrorKind::AmbiguousTaskDefinition,
            TemplateError::ContainerNotFound(_) => ErrorKind::ContainerNotFound,
            TemplateError::AmbiguousContainer(_) => ErrorKind::AmbiguousContainer,
            TemplateError::MalformedResource { .. } => ErrorKind::MalformedTemplate,
        }
    }
}

impl Template {
    /// Reads a template as CloudFormation returns it from GetTemplate: JSON,
    /// or YAML with short-form intrinsics (`!Ref`, `!GetAtt`, `!Sub` ...),
    /// which become their long JSON forms.
    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        let body = match serde_json::from_str::<Value>(text) {
            Ok(body) => body,
            Err(json_error) => {
                let yaml: serde_yaml_ng::Value =
                    serde_yaml_ng::from_str(text).map_err(|yaml_error| {
                        let looks_like_json = text.trim_start().starts_with('{');
                        TemplateError::Unreadable(if looks_like_json {
                            json_error.to_string()
                        } else {
                            yaml_error.to_string()
                        })
                    })?;
                yaml_to_json(yaml)
            }
        };
        Template::from_json(body)
    }

    pub fn from_json(body: Value) -> Result<Template, TemplateError> {
        match body.get("Resources") {
            Some(Value::Object(_)) => Ok(Template { body }),
            _ => Err(TemplateError::NoResources),
        }
    }

    pub fn as_json(&self) -> &Value {
        &self.body
    }

    /// The template as JSON text, for UpdateStack.
    pub fn to_json_string(&self) -> String {
        // Serialising a Value cannot fail.
        serde_json::to_string_pretty(&self.body).unwrap_or_default()
    }

    fn resources(&self) -> &Map<String, Value> {
        // `from_json` guarantees an object.
        static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
        self.body
            .get("Resources")
            .and_then(Value::as_object)
            .unwrap_or_else(|| EMPTY.get_or_init(Map::new))
    }

    fn resources_of_type<'a>(
        &'a self,
        kind: &'a str,
    ) -> impl Iterator<Item = (&'a String, &'a Value)> + 'a {
        self.resources()
            .iter()
            .filter(move |(_, r)| r.get("Type").and_then(Value::as_str) == Some(kind))
    }

    /// Finds the blue/green pieces of the stack.
    pub fn layout(&self) -> Result<StackLayout, TemplateError> {
        let (blue_task_set, green_task_set) = self.task_sets()?;
        let blue_target_group = self.task_set_target_group(&blue_task_set, Colour::Blue)?;
        let green_target_group = self.task_set_target_group(&green_task_set, Colour::Green)?;
        if blue_target_group == green_target_group {
            return Err(TemplateError::SharedTargetGroup);
        }

        let mut weighted = Vec::new();
        let mut tester_rules = Vec::new();
        for (id, rule) in self.resources_of_type(LISTENER_RULE) {
            let targets = forward_targets(rule);
            let blue = targets.contains(&&blue_target_group);
            let green = targets.contains(&&green_target_group);
            if is_tester_rule(rule) {
                if !(blue || green) || (blue && green) {
                    return Err(TemplateError::MalformedResource {
                        logical_id: id.clone(),
                        reason: "a tester rule must forward to exactly one of the two colours' target groups".into(),
                    });
                }
                tester_rules.push(id.clone());
            } else if blue && green {
                weighted.push(id.clone());
            }
        }
        let weighted_rule = match weighted.len() {
            0 => return Err(TemplateError::WeightedRuleNotFound),
            1 => weighted.remove(0),
            _ => return Err(TemplateError::AmbiguousWeightedRule(weighted)),
        };

        let task_definition = self.task_definition(&[&blue_task_set, &green_task_set])?;
        let service = self.service(&blue_task_set);
        Ok(StackLayout {
            blue_task_set,
            green_task_set,
            blue_target_group,
            green_target_group,
            weighted_rule,
            tester_rules,
            task_definition,
            service,
        })
    }

    fn task_sets(&self) -> Result<(String, String), TemplateError> {
        let outputs = self.body.get("Outputs").and_then(Value::as_object);
        let from_output = |colour: Colour| -> Option<String> {
            let value = outputs?
                .get(&StackLayout::task_set_output(colour))?
                .get("Value")?;
            let target = match value.get("Fn::GetAtt")? {
                Value::Array(parts) => parts.first()?.as_str()?.to_string(),
                Value::String(dotted) => dotted.split('.').next()?.to_string(),
                _ => return None,
            };
            let is_task_set = self.resources().get(&target)?.get("Type")?.as_str()? == TASK_SET;
            is_task_set.then_some(target)
        };
        let by_output = [from_output(Colour::Blue), from_output(Colour::Green)];

        let colour_of = |id: &str, resource: &Value| -> Option<Colour> {
            if let Some(colour) = Colour::ALL
                .into_iter()
                .find(|&c| by_output[c as usize].as_deref() == Some(id))
            {
                return Some(colour);
            }
            resource
                .pointer("/Properties/ExternalId")
                .and_then(Value::as_str)
                .and_then(Colour::named_in)
                .or_else(|| Colour::named_in(id))
        };

        let mut found: [Vec<String>; 2] = [Vec::new(), Vec::new()];
        for (id, resource) in self.resources_of_type(TASK_SET) {
            if let Some(colour) = colour_of(id, resource) {
                found[colour as usize].push(id.clone());
            }
        }
        let pick = |colour: Colour, ids: &mut Vec<String>| match ids.len() {
            0 => Err(TemplateError::TaskSetNotFound(colour)),
            1 => Ok(ids.remove(0)),
            _ => Err(TemplateError::AmbiguousTaskSet(colour, ids.clone())),
        };
        let [mut blue, mut green] = found;
        Ok((
            pick(Colour::Blue, &mut blue)?,
            pick(Colour::Green, &mut green)?,
        ))
    }

    fn task_set_target_group(
        &self,
        task_set: &str,
        colour: Colour,
    ) -> Result<Value, TemplateError> {
        self.resources()
            .get(task_set)
            .and_then(|r| r.pointer("/Properties/LoadBalancers/0/TargetGroupArn"))
            .cloned()
            .ok_or(TemplateError::TargetGroupNotFound(colour))
    }

    fn task_definition(&self, task_sets: &[&String]) -> Result<String, TemplateError> {
        let mut referenced: Vec<String> = Vec::new();
        for task_set in task_sets {
            let reference = self
                .resources()
                .get(*task_set)
                .and_then(|r| r.pointer("/Properties/TaskDefinition/Ref"))
                .and_then(Value::as_str);
            if let Some(id) = reference {
                let is_task_definition = self
                    .resources()
                    .get(id)
                    .and_then(|r| r.get("Type"))
                    .and_then(Value::as_str)
                    == Some(TASK_DEFINITION);
                if is_task_definition && !referenced.iter().any(|r| r == id) {
                    referenced.push(id.to_string());
                }
            }
        }
        if referenced.is_empty() {
            referenced = self
                .resources_of_type(TASK_DEFINITION)
                .map(|(id, _)| id.clone())
                .collect();
        }
        match referenced.len() {
            0 => Err(TemplateError::TaskDefinitionNotFound),
            1 => Ok(referenced.remove(0)),
            _ => Err(TemplateError::AmbiguousTaskDefinition(referenced)),
        }
    }

    fn service(&self, task_set: &str) -> Option<String> {
        let referenced = self
            .resources()
            .get(task_set)
            .and_then(|r| r.pointer("/Properties/Service/Ref"))
            .and_then(Value::as_str)
            .filter(|id| {
                self.resources()
                    .get(*id)
                    .and_then(|r| r.get("Type"))
                    .and_then(Value::as_str)
                    == Some(SERVICE)
            })
            .map(str::to_string);
        referenced.or_else(|| {
            let mut services = self.resources_of_type(SERVICE).map(|(id, _)| id.clone());
            match (services.next(), services.next()) {
                (Some(only), None) => Some(only),
                _ => None,
            }
        })
    }

    /// Rewrites the template for a deployment in which `stable` keeps serving:
    ///
    /// * the candidate task set runs `candidate_task_definition`: the stable
    ///   task set's live task definition with the release applied, registered
    ///   by the deployment (never the template's task definition, which may
    ///   hold a release that was rolled back); the template's task definition
    ///   resource is left as it is;
    /// * the stable task set is pinned to `stable_task_definition`, its live ARN;
    /// * the weighted rule says stable 100 / candidate 0 (what is live);
    /// * tester rules forward to the stable colour (what is live at rest; they
    ///   are pointed at the candidate through the load balancer once it is
    ///   ready, and back when the deployment ends);
    /// * the service's `StableStack` tag, if the template sets one, names `stable`.
    pub fn patch(
        &self,
        stable: Colour,
        stable_task_definition: &str,
        candidate_task_definition: &str,
    ) -> Result<PatchedTemplate, TemplateError> {
        let layout = self.layout()?;
        let candidate = stable.other();
        let mut body = self.body.clone();
        let resources = body
            .get_mut("Resources")
            .and_then(Value::as_object_mut)
            .ok_or(TemplateError::NoResources)?;

        set_property(
            resource_mut(resources, layout.task_set(candidate))?,
            "TaskDefinition",
            Value::String(candidate_task_definition.to_string()),
        );
        set_property(
            resource_mut(resources, layout.task_set(stable))?,
            "TaskDefinition",
            Value::String(stable_task_definition.to_string()),
        );

        let stable_group = layout.target_group(stable).clone();
        let candidate_group = layout.target_group(candidate).clone();
        for_each_forward_target(resource_mut(resources, &layout.weighted_rule)?, |target| {
            if let Some(weight) = target.weight {
                if *target.group == stable_group {
                    *weight = json!(100);
                } else if *target.group == candidate_group {
                    *weight = json!(0);
                }
            }
        });
        for rule in &layout.tester_rules {
            for_each_forward_target(resource_mut(resources, rule)?, |target| {
                if *target.group == candidate_group {
                    *target.group = stable_group.clone();
                }
            });
        }

        if let Some(service) = &layout.service {
            let tags = resource_mut(resources, service)?
                .pointer_mut("/Properties/Tags")
                .and_then(Value::as_array_mut);
            for tag in tags.into_iter().flatten() {
                if tag.get("Key").and_then(Value::as_str) == Some(STABLE_STACK_TAG) {
                    tag["Value"] = json!(stable.as_str());
                }
            }
        }

        Ok(PatchedTemplate {
            template: Template { body },
            layout,
        })
    }
}

fn resource_mut<'a>(
    resources: &'a mut Map<String, Value>,
    id: &str,
) -> Result<&'a mut Value, TemplateError> {
    resources
        .get_mut(id)
        .ok_or_else(|| TemplateError::MalformedResource {
            logical_id: id.to_string(),
            reason: "missing".into(),
        })
}

fn set_property(resource: &mut Value, name: &str, value: Value) {
    if !resource.get("Properties").is_some_and(Value::is_object) {
        resource["Properties"] = json!({});
    }
    resource["Properties"][name] = value;
}

/// Whether a listener rule carries the tester marker in its `Metadata`.
fn is_tester_rule(rule: &Value) -> bool {
    rule.pointer(&format!("/Metadata/{METADATA_KEY}/role"))
        .and_then(Value::as_str)
        == Some(TESTER_ROLE)
}

/// Target groups a rule's `forward` actions send traffic to.
fn forward_targets(rule: &Value) -> Vec<&Value> {
    let mut targets = Vec::new();
    let actions = rule
        .pointer("/Properties/Actions")
        .and_then(Value::as_array);
    for action in actions.into_iter().flatten() {
        if action.get("Type").and_then(Value::as_str) != Some("forward") {
            continue;
        }
        if let Some(group) = action.get("TargetGroupArn") {
            targets.push(group);
        }
        let groups = action
            .pointer("/ForwardConfig/TargetGroups")
            .and_then(Value::as_array);
        targets.extend(
            groups
                .into_iter()
                .flatten()
                .filter_map(|g| g.get("TargetGroupArn")),
        );
    }
    targets
}

struct ForwardTargetMut<'a> {
    group: &'a mut Value,
    weight: Option<&'a mut Value>,
}

fn for_each_forward_target(rule: &mut Value, mut visit: impl FnMut(ForwardTargetMut<'_>)) {
    let actions = rule
        .pointer_mut("/Properties/Actions")
        .and_then(Value::as_array_mut);
    for action in actions.into_iter().flatten() {
        if action.get("Type").and_then(Value::as_str) != Some("forward") {
            continue;
        }
        let Some(action) = action.as_object_mut() else {
            continue;
        };
        let mut single_group = None;
        let mut forward_config = None;
        for (key, value) in action.iter_mut() {
            match key.as_str() {
                "TargetGroupArn" => single_group = Some(value),
                "ForwardConfig" => forward_config = Some(value),
                _ => {}
            }
        }
        if let Some(group) = single_group {
            visit(ForwardTargetMut {
                group,
                weight: None,
            });
        }
        let groups = forward_config
            .and_then(|c| c.get_mut("TargetGroups"))
            .and_then(Value::as_array_mut);
        for entry in groups.into_iter().flatten() {
            let Some(entry) = entry.as_object_mut() else {
                continue;
            };
            if !entry.contains_key("Weight") {
                entry.insert("Weight".into(), json!(1));
            }
            let mut group = None;
            let mut weight = None;
            for (key, value) in entry.iter_mut() {
                match key.as_str() {
                    "TargetGroupArn" => group = Some(value),
                    "Weight" => weight = Some(value),
                    _ => {}
                }
            }
            if let Some(group) = group {
                visit(ForwardTargetMut { group, weight });
            }
        }
    }
}

/// YAML (with CloudFormation's short-form tags) to the equivalent JSON.
fn yaml_to_json(value: serde_yaml_ng::Value) -> Value {
    use serde_yaml_ng::Value as Yaml;
    match value {
        Yaml::Null => Value::Null,
        Yaml::Bool(b) => Value::Bool(b),
        Yaml::Number(n) => {
            if let Some(i) = n.as_i64() {
                json!(i)
            } else if let Some(u) = n.as_u64() {
                json!(u)
            } else {
                n.as_f64()
                    .and_then(serde_json::Number::from_f64)
                    .map_or(Value::Null, Value::Number)
            }
        }
        Yaml::String(s) => Value::String(s),
        Yaml::Sequence(items) => Value::Array(items.into_iter().map(yaml_to_json).collect()),
        Yaml::Mapping(mapping) => {
            let mut object = Map::new();
            for (key, value) in mapping {
                let key = match key {
                    Yaml::String(s) => s,
                    other => match yaml_to_json(other) {
                        Value::String(s) => s,
                        plain => plain.to_string(),
                    },
                };
                object.insert(key, yaml_to_json(value));
            }
            Value::Object(object)
        }
        Yaml::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let name = tag.trim_start_matches('!');
            let inner = yaml_to_json(tagged.value);
            let (key, inner) = match name {
                "Ref" | "Condition" => (name.to_string(), inner),
                "GetAtt" => {
                    let inner = match inner {
                        Value::String(dotted) => match dotted.split_once('.') {
                            Some((resource, attribute)) => json!([resource, attribute]),
                            None => Value::String(dotted),
                        },
                        other => other,
                    };
                    ("Fn::GetAtt".to_string(), inner)
                }
                other => (format!("Fn::{other}"), inner),
            };
            let mut object = Map::new();
            object.insert(key, inner);
            Value::Object(object)
        }
    }
}

#[cfg(test)]
mod tests;
