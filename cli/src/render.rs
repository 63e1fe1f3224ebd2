//! Tables and words for people (`--json` prints the data instead).

use std::io::{BufRead, Write};

use ecs_canary_core::{ago, execution_name, iso8601, Colour, HistoryEvent};
use ecs_canary_handlers::operator::{DryRun, LockView, ServiceStatus};

/// A spinner frame for `--watch`.
pub fn spinner(frame: usize) -> char {
    const FRAMES: [char; 4] = ['|', '/', '-', '\\'];
    FRAMES[frame % FRAMES.len()]
}

fn split_text(status: &ServiceStatus) -> String {
    match (status.split, status.stable) {
        (Some(split), Some(stable)) => {
            let candidate = split.candidate_share();
            format!(
                "{:.0} % {stable} / {candidate:.0} % {}",
                100.0 - candidate,
                stable.other()
            )
        }
        _ => "unknown".into(),
    }
}

fn colour(colour: Option<Colour>) -> String {
    colour.map_or_else(|| "?".into(), |c| c.to_string())
}

/// One block per service.
pub fn status_table(statuses: &[ServiceStatus], now: u64) -> String {
    let mut out = String::new();
    if statuses.is_empty() {
        out.push_str("no managed service has a history yet\n");
    }
    for status in statuses {
        out.push_str(&format!("{}\n", status.service));
        if let Some(strategy) = &status.ecs_strategy {
            // ECS's own deployments: ECS moves the traffic; ecs-canary gates its pauses.
            out.push_str(&format!(
                "  deploys   with ECS's own {strategy} strategy, each pause gated\n"
            ));
            match &status.rollout {
                Some(gate) => {
                    if let Some(release) = &gate.release {
                        out.push_str(&format!("  release   {release}\n"));
                    }
                    out.push_str(&format!(
                        "  pause     {} of {} — waiting for a decision\n",
                        gate.step.unwrap_or_default(),
                        gate.steps
                    ));
                    if let Some(until) = gate.waiting_until {
                        out.push_str(&format!(
                            "  decide by {} ({})\n",
                            iso8601(until),
                            ago(until, now)
                        ));
                    }
                    if let Some(verdict) = &gate.verdict {
                        out.push_str(&format!("  verdict   {verdict}\n"));
                    }
                }
                None => out.push_str("  rollout   no pause waiting\n"),
            }
            if let Some(event) = &status.last_event {
                out.push_str(&format!("  last      {} {}\n", event.when(), event.summary));
            }
            continue;
        }
        out.push_str(&format!("  stable    {}\n", colour(status.stable)));
        if let (Some(release), Some(at)) = (&status.stable_release, status.promoted_at) {
            out.push_str(&format!(
                "  release   {release} (promoted {})\n",
                iso8601(at)
            ));
        }
        out.push_str(&format!("  traffic   {}\n", split_text(status)));
        if let Some(until) = status.baking_until {
            out.push_str(&format!(
                "  bake      until {} — guarded by {}; an alarm reverts to the release before\n",
                iso8601(until),
                if status.bake_alarms.is_empty() {
                    "no alarm".to_string()
                } else {
                    status.bake_alarms.join(", ")
                }
            ));
        }
        match &status.rollout {
            None => out.push_str("  rollout   none (at rest)\n"),
            Some(rollout) => {
                out.push_str(&format!(
                    "  rollout   {} → {}{}\n",
                    execution_name(&rollout.execution),
                    colour(rollout.candidate),
                    if rollout.rolling_back {
                        " (rolling back)"
                    } else {
                        ""
                    }
                ));
                if let Some(release) = &rollout.release {
                    out.push_str(&format!("  release   {release}\n"));
                }
                match rollout.step {
                    Some(step) => {
                        let since = rollout
                            .waiting_since
                            .map(|t| format!(", waiting since {} ({})", iso8601(t), ago(t, now)))
                            .unwrap_or_default();
                        let gate = if step == 0 {
                            format!("the start (nothing runs yet; {} steps)", rollout.steps)
                        } else {
                            format!("{step} of {}", rollout.steps)
                        };
                        out.push_str(&format!(
                            "  step      {gate} — waiting for a decision{since}\n"
                        ));
                        if let Some(until) = rollout.waiting_until {
                            out.push_str(&format!(
                                "  decide by {} ({})\n",
                                iso8601(until),
                                ago(until, now)
                            ));
                        }
                    }
                    None => out.push_str(&format!(
                        "  step      moving ({} steps; not waiting for a decision)\n",
                        rollout.steps
                    )),
                }
                for alarm in &rollout.alarms {
                    out.push_str(&format!("  alarm     {} {}\n", alarm.name, alarm.state));
                }
                if let Some(verdict) = &rollout.verdict {
                    out.push_str(&format!("  verdict   {verdict}\n"));
                }
            }
        }
        if let Some(event) = &status.last_event {
            out.push_str(&format!("  last      {} {}\n", event.when(), event.summary));
        }
        if let Some(why) = &status.unreadable {
            out.push_str(&format!("  unread    {why}\n"));
        }
    }
    out
}

/// The history as a table, newest first.
pub fn history_table(events: &[HistoryEvent]) -> String {
    let mut out = format!(
        "{:<20}  {:<17}  {:<24}  {}\n",
        "WHEN", "EVENT", "EXECUTION", "WHAT"
    );
    for event in events {
        out.push_str(&format!(
            "{:<20}  {:<17}  {:<24}  {}\n",
            event.when(),
            event.kind.as_str(),
            execution_name(&event.execution),
            event.summary
        ));
    }
    out
}

/// A dry run for people.
pub fn dry_run(dry: &DryRun) -> String {
    let mut out = format!(
        "{}: {} is stable; the release would start on {}\n\nrelease (against stable)\n",
        dry.service, dry.stable, dry.candidate
    );
    for line in dry.release.lines() {
        out.push_str(&format!("  {line}\n"));
    }
    out.push_str("\ntemplate (rendered against the stack's)\n");
    if dry.template_diff.is_empty() {
        out.push_str("  no change\n");
    } else {
        out.push_str(&dry.template_diff);
    }
    if !dry.would_be_refused.is_empty() {
        out.push_str("\nstarted now, it would be refused:\n");
        for refusal in &dry.would_be_refused {
            out.push_str(&format!("  {refusal}\n"));
        }
    }
    out.push_str("\nnothing was changed\n");
    out
}

/// What holds a lock.
pub fn lock(held: &LockView, now: u64) -> String {
    let mut out = format!(
        "{} is held by {}\n  expires   {} ({})\n",
        held.key,
        held.owner,
        iso8601(held.expires_at),
        ago(held.expires_at, now)
    );
    if let Some(split) = &held.split {
        out.push_str(&format!(
            "  traffic   it last moved {} → {}\n",
            split.last_set, split.intended
        ));
    }
    if held.rolling_back {
        out.push_str("  state     rolling back\n");
    }
    out.push_str("releasing it while the execution runs makes that execution stop moving traffic (LockLost)\n");
    out
}

/// Asks on the terminal; only "y"/"yes" confirms.
pub fn confirm(question: &str) -> bool {
    print!("{question} [y/N] ");
    let _ = std::io::stdout().flush();
    let mut answer = String::new();
    if std::io::stdin().lock().read_line(&mut answer).is_err() {
        return false;
    }
    matches!(answer.trim().to_lowercase().as_str(), "y" | "yes")
}
