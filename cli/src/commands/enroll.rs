//! `ecs-canary enroll SERVICE [--yes]`: show, and with `--yes` make, what
//! gates a service on ECS's own deployments — the tag `ecs-canary:gate` and
//! a pause hook before every production traffic shift, outlasting the
//! approval timeout. It changes the caller's own service with the caller's
//! own ECS permissions (ecs:UpdateService, ecs:TagResource): ecs-canary
//! gains no authority by it.

use std::io::IsTerminal;

use ecs_canary_core::{enrolment_plan, ErrorName, DEFAULT_APPROVAL_TIMEOUT_SECONDS, GATE_TAG};
use serde_json::json;

use super::{print_json, Session};
use crate::exit::Exit;
use crate::render;

pub async fn run(session: &Session, service: &str, yes: bool) -> Result<(), Exit> {
    let key = session.service_key(service)?;
    let (cluster, name) = key.split_once('/').unwrap_or(("", &key));
    let ecs = session.clients().ecs;
    let reading = ecs.enrolment(cluster, name).await?;
    let plan = enrolment_plan(&reading, DEFAULT_APPROVAL_TIMEOUT_SECONDS)
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
