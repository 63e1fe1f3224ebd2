//! `ecs-canary enroll SERVICE [settings] [--yes]`: show, and with `--yes`
//! make, what gates a service on ECS's own deployments — the tag
//! `ecs-canary:gate`, a pause hook before every production traffic shift
//! outlasting the approval timeout, and the service's own settings as its
//! tags. It changes the caller's own service with the caller's own ECS
//! permissions (ecs:UpdateService, ecs:TagResource): ecs-canary gains no
//! authority by it (a service's own policy may only narrow the stack's).

use std::collections::BTreeMap;
use std::io::IsTerminal;

use ecs_canary_core::{
    enrolment_plan, ErrorName, ALARMS_TAG, APPROVAL_TIMEOUT_TAG, CHANNELS_TAG, CLI_PRINCIPALS_TAG,
    GATE_TAG, MAX_ERROR_RATE_INCREASE_TAG, MIN_REQUESTS_TAG, SLACK_USERS_TAG, SLO_TARGET_TAG,
};
use serde_json::json;

use super::{print_json, Session};
use crate::exit::Exit;
use crate::render;
use crate::EnrolSettings;

/// The setting tags the options ask for (checked by the plan).
fn wanted_tags(settings: &EnrolSettings) -> BTreeMap<String, String> {
    let mut tags = BTreeMap::new();
    let mut put = |tag: &str, value: Option<String>| {
        if let Some(value) = value.filter(|v| !v.trim().is_empty()) {
            tags.insert(tag.to_string(), value.trim().to_string());
        }
    };
    let list = |items: &[String]| Some(items.join(" "));
    put(APPROVAL_TIMEOUT_TAG, settings.approval_timeout.clone());
    put(ALARMS_TAG, list(&settings.alarms));
    put(
        MAX_ERROR_RATE_INCREASE_TAG,
        settings.max_error_rate_increase.clone(),
    );
    put(MIN_REQUESTS_TAG, settings.min_requests.clone());
    put(SLO_TARGET_TAG, settings.slo_target.clone());
    put(CHANNELS_TAG, list(&settings.channels));
    put(CLI_PRINCIPALS_TAG, list(&settings.cli_principals));
    put(SLACK_USERS_TAG, list(&settings.slack_users));
    tags
}

pub async fn run(
    session: &Session,
    service: &str,
    settings: &EnrolSettings,
    yes: bool,
) -> Result<(), Exit> {
    let key = session.service_key(service)?;
    let (cluster, name) = key.split_once('/').unwrap_or(("", &key));
    let ecs = session.clients().ecs;
    let reading = ecs.enrolment(cluster, name).await?;
    let plan = enrolment_plan(&reading, &wanted_tags(settings))
        .map_err(|refusal| Exit::new(2, format!("{}: {refusal}", refusal.error_type())))?;
    if !session.json {
        println!(
            "{key}: deploys with ECS's own {} strategy",
            reading.strategy.as_deref().unwrap_or("?")
        );
        if plan.is_done() {
            println!("  enrolled: tagged {GATE_TAG}=true, a pause hook before every traffic shift");
        }
        if plan.tag {
            println!("  tag       {GATE_TAG} = true (missing)");
        }
        for (tag, value) in &plan.settings {
            println!(
                "  tag       {tag} = {value} ({})",
                reading
                    .tags
                    .get(tag)
                    .map_or("missing".to_string(), |now| format!("now {now}"))
            );
        }
        if let Some(minutes) = plan.hook_minutes {
            println!(
                "  hook      PAUSE at PRE_PRODUCTION_TRAFFIC_SHIFT, timeout {minutes} min, then ROLLBACK ({})",
                match reading.pause_hook_minutes {
                    Some(now) => format!("now {now} min: shorter than an approval may take"),
                    None => "missing".into(),
                }
            );
        }
    }
    if plan.is_done() {
        if session.json {
            print_json(&json!({"service": key, "enrolled": true, "changed": false}));
        }
        return Ok(());
    }
    let confirmed = yes || (std::io::stdin().is_terminal() && render::confirm("change it?"));
    if !confirmed {
        return Err(Exit::new(
            5,
            "not changed: run again with --yes to enrol it",
        ));
    }
    ecs.enroll(cluster, name, &plan).await?;
    if session.json {
        print_json(&json!({"service": key, "enrolled": true, "changed": true, "plan": plan}));
    } else {
        println!("enrolled: its next deployment pauses before every traffic shift and waits for a decision");
    }
    Ok(())
}
