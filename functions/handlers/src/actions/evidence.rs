//! The guards of a rollout — its CloudWatch alarms and the load balancer's
//! numbers — as the steps, the approval channels, the page and the
//! automatic analysis use them. Numbers that cannot be read never block a
//! decision: they are shown as unavailable, with why.

use ecs_canary_aws::AwsError;
use ecs_canary_core::{
    check_alarms, evidence_chart, AlarmReading, AnalysisError, AnalysisLimits, ChartMark,
    Deployment, ErrorName, NativePause, PageEvidence, Timeline, TrafficQuery, WindowEvidence,
};

use crate::{Context, FunctionError};

/// Every alarm in `alarms` exists and none is in `ALARM`
/// (`AlarmNotFound`, `AlarmTriggered` otherwise); no call without alarms.
pub async fn check_guarding_alarms(
    context: &Context,
    alarms: &[String],
) -> Result<(), FunctionError> {
    if alarms.is_empty() {
        return Ok(());
    }
    let readings = context.ports.alarms().read(alarms).await?;
    Ok(check_alarms(alarms, &readings)?)
}

/// Why numbers could not be read, as people are shown it.
fn unavailable(error: AwsError) -> String {
    format!("{}: {error}", error.error_type())
}

/// The numbers of `step` (0-based) from when it was applied until the next
/// step was (or now); `None` before it was applied or when the ARNs are not
/// an Application Load Balancer's.
pub async fn step_evidence(
    context: &Context,
    deployment: &Deployment,
    step: usize,
) -> Option<Result<WindowEvidence, String>> {
    let (since, until) = deployment.step_window(step, context.now())?;
    let query = deployment.traffic_query(since, until)?;
    Some(
        context
            .ports
            .metrics()
            .window(&query)
            .await
            .map_err(unavailable),
    )
}

/// The minutes of `query`, for the latency part of a verdict: `None` when
/// they cannot be read (the rest of the verdict stands).
async fn minutes_of(context: &Context, query: &TrafficQuery) -> Option<Timeline> {
    match context.ports.metrics().timeline(query).await {
        Ok(timeline) => Some(timeline),
        Err(error) => {
            tracing::info!(%error, "the minutes could not be read; the verdict has no latency part");
            None
        }
    }
}

/// The line the email and the Slack message carry: the step before this
/// one (this one has only just begun when they are sent).
pub async fn request_evidence(context: &Context, deployment: &Deployment) -> Option<String> {
    let step = deployment.step?.checked_sub(1)?;
    let percent = deployment.request.steps.percentages().get(step).copied();
    let label = format!("step {} ({} %)", step + 1, percent.unwrap_or_default());
    Some(format!(
        "{label}: {}",
        step_verdict(context, deployment, step).await?
    ))
}

/// The verdict of `step` (0-based) so far, with its minutes' latency, or
/// why its numbers are unavailable; `None` before it was applied.
pub async fn step_verdict(
    context: &Context,
    deployment: &Deployment,
    step: usize,
) -> Option<String> {
    let limits = deployment.request.analysis_limits();
    Some(match step_evidence(context, deployment, step).await? {
        Ok(window) => {
            let minutes = match deployment.traffic_query(window.since, window.until) {
                Some(query) => minutes_of(context, &query).await,
                None => None,
            };
            window.verdict(&limits, minutes.as_ref())
        }
        Err(why) => format!("unavailable ({why})"),
    })
}

/// Everything the page shows, read now.
pub async fn page_evidence(context: &Context, deployment: &Deployment) -> PageEvidence {
    let now = context.now();
    let percentages = deployment.request.steps.percentages();
    let mut windows = Vec::new();
    if let Some(step) = deployment.step {
        for (which, step) in [
            ("This step", Some(step)),
            ("The step before", step.checked_sub(1)),
        ] {
            let Some(step) = step else { continue };
            if let Some(window) = step_evidence(context, deployment, step).await {
                let minutes = window.as_ref().map(window_minutes).unwrap_or_default();
                let label = format!(
                    "{which} ({} % new, {minutes} min)",
                    percentages.get(step).copied().unwrap_or_default()
                );
                windows.push((label, window));
            }
        }
    }
    let alarms = context
        .ports
        .alarms()
        .read(&deployment.request.alarms)
        .await
        .map_err(unavailable);
    let since = deployment
        .started_at
        .or_else(|| deployment.applied_at.first().copied())
        .unwrap_or(now);
    let timeline = match deployment.traffic_query(since, now) {
        None => Err("the load balancer's metrics cannot be named from its ARNs".to_string()),
        Some(query) => context
            .ports
            .metrics()
            .timeline(&query)
            .await
            .map_err(unavailable),
    };
    let limits = deployment.request.analysis_limits();
    page(
        windows,
        limits,
        alarms,
        timeline,
        &deployment.chart_marks(),
        (since, now),
    )
}

/// The page's evidence from its parts: the chart is drawn from the
/// minutes `since..now` (or says why there are none), which also give each
/// window's verdict its latency.
fn page(
    windows: Vec<(String, Result<WindowEvidence, String>)>,
    limits: AnalysisLimits,
    alarms: Result<Vec<AlarmReading>, String>,
    timeline: Result<Timeline, String>,
    marks: &[ChartMark],
    (since, now): (u64, u64),
) -> PageEvidence {
    PageEvidence {
        windows,
        limits,
        alarms,
        chart: timeline
            .as_ref()
            .map(|t| evidence_chart(t, marks, since, now))
            .map_err(Clone::clone),
        timeline: timeline.ok(),
    }
}

/// The automatic analysis, before traffic moves on from the current step:
/// `AnalysisFailed` when it is on and the step's numbers are over the
/// limit. Numbers that cannot be read let traffic move on (logged).
pub async fn check_analysis(
    context: &Context,
    deployment: &Deployment,
) -> Result<(), AnalysisError> {
    match analysed_step(context, deployment).await {
        Some((Ok(window), limits)) => window.analyse(&limits),
        Some((Err(why), _)) => {
            tracing::warn!(service = %deployment.request.service, %why, "the analysis could not read the numbers; traffic moves on");
            Ok(())
        }
        None => Ok(()),
    }
}

/// What the automatic analysis judges of a deployment's current step (on
/// approval, and every minute while it waits): its numbers so far, or why
/// there are none, and its limits. `None` when the analysis is off (no
/// `maxErrorRateIncrease`) or no step has been applied.
pub async fn analysed_step(
    context: &Context,
    deployment: &Deployment,
) -> Option<(Result<WindowEvidence, String>, AnalysisLimits)> {
    let limits = deployment.request.analysis_limits();
    limits.max_error_rate_increase?;
    let window = step_evidence(context, deployment, deployment.step?).await?;
    Some((window, limits))
}

/// The same for a pause of ECS's own deployment: the rollout's numbers so
/// far, against the service's own limits.
pub async fn analysed_pause(
    context: &Context,
    pause: &NativePause,
) -> Option<(Result<WindowEvidence, String>, AnalysisLimits)> {
    let limits = pause.settings.analysis_limits();
    limits.max_error_rate_increase?;
    Some((pause_window(context, pause).await, limits))
}

/// The numbers of a pause's rollout so far, read now, or why there are none.
async fn pause_window(context: &Context, pause: &NativePause) -> Result<WindowEvidence, String> {
    if let Some(why) = pause.without_numbers() {
        return Err(why.to_string());
    }
    let query = pause
        .traffic_query(context.now())
        .ok_or("the load balancer's metrics cannot be named from its ARNs")?;
    context
        .ports
        .metrics()
        .window(&query)
        .await
        .map_err(unavailable)
}

fn window_minutes(window: &WindowEvidence) -> u64 {
    (window.until - window.since) / 60
}

/// The line the email and the Slack message carry for a pause.
pub async fn pause_request_evidence(context: &Context, pause: &NativePause) -> String {
    match pause_window(context, pause).await {
        Ok(window) => {
            let minutes = match pause.traffic_query(window.until) {
                Some(query) => minutes_of(context, &query).await,
                None => None,
            };
            format!(
                "{}: {}",
                pause.window_label(window_minutes(&window)),
                window.verdict(&pause.settings.analysis_limits(), minutes.as_ref())
            )
        }
        Err(why) => format!("no numbers yet: {why}"),
    }
}

/// Everything the page shows for a pause, read now.
pub async fn pause_page_evidence(context: &Context, pause: &NativePause) -> PageEvidence {
    let now = context.now();
    let mut windows = Vec::new();
    if !pause.before_any_traffic() {
        let window = pause_window(context, pause).await;
        let minutes = window.as_ref().map(window_minutes).unwrap_or_default();
        windows.push((pause.window_label(minutes), window));
    }
    let alarms = context
        .ports
        .alarms()
        .read(&pause.settings.alarms)
        .await
        .map_err(unavailable);
    let (timeline, since) = match (pause.traffic_query(now), pause.without_numbers()) {
        (Some(query), _) => (
            context
                .ports
                .metrics()
                .timeline(&query)
                .await
                .map_err(unavailable),
            query.since,
        ),
        (None, why) => (
            Err(why
                .unwrap_or("the load balancer's metrics cannot be named from its ARNs")
                .to_string()),
            now,
        ),
    };
    let limits = pause.settings.analysis_limits();
    page(windows, limits, alarms, timeline, &[], (since, now))
}

/// The automatic analysis before ECS is told to continue: `AnalysisFailed`
/// when the service has a threshold and the rollout's numbers so far are
/// over it. Numbers that cannot be read let traffic move on (logged).
pub async fn check_pause_analysis(
    context: &Context,
    pause: &NativePause,
) -> Result<(), AnalysisError> {
    match analysed_pause(context, pause).await {
        Some((Ok(window), limits)) => window.analyse(&limits),
        Some((Err(why), _)) => {
            tracing::info!(service = %pause.service, %why, "no numbers for the analysis; traffic moves on");
            Ok(())
        }
        None => Ok(()),
    }
}
