//! The evidence on the approval page: the numbers of this step and the one
//! before, the guarding alarms, and a chart — per-minute 5xx rate and p99
//! response time, the new version against stable, since the rollout began,
//! with the step changes marked. Inline SVG drawn on the server: no script,
//! no external asset.

use crate::approval::html_escape;
use crate::{AlarmReading, AlarmState, AnalysisLimits, MinuteStats, Timeline, WindowEvidence};

/// What the approval page shows of the evidence; each part may be
/// unavailable (the reason is shown instead), which never blocks a decision.
#[derive(Debug, Clone, PartialEq)]
pub struct PageEvidence {
    /// (label, the window's numbers or why they could not be read).
    pub windows: Vec<(String, Result<WindowEvidence, String>)>,
    pub limits: AnalysisLimits,
    /// The guarding alarms (empty: none), or why they could not be read.
    pub alarms: Result<Vec<AlarmReading>, String>,
    /// The chart (SVG), or why there is none.
    pub chart: Result<String, String>,
    /// The minutes the chart draws, when they could be read: the latency
    /// part of each window's verdict.
    pub timeline: Option<Timeline>,
}

/// The evidence section of the approval page.
pub fn evidence_html(evidence: &PageEvidence) -> String {
    let e = html_escape;
    let mut html = String::from("<section id=\"evidence\"><h2>Evidence</h2>");
    if evidence.windows.is_empty() {
        html.push_str("<p>No traffic has reached the new version yet.</p>");
    }
    let minutes = |window: &WindowEvidence| {
        evidence
            .timeline
            .as_ref()
            .map(|t| t.within(window.since, window.until))
    };
    for (label, window) in &evidence.windows {
        let text = match window {
            Ok(window) => window.verdict(&evidence.limits, minutes(window).as_ref()),
            Err(why) => format!("unavailable: {why}"),
        };
        html.push_str(&format!(
            "<p class=\"window\"><strong>{}</strong>: {}</p>",
            e(label),
            e(&text)
        ));
    }
    match &evidence.alarms {
        Ok(alarms) if alarms.is_empty() => {}
        Ok(alarms) => {
            html.push_str("<ul id=\"alarms\">");
            for alarm in alarms {
                let class = if alarm.state == AlarmState::Alarm {
                    "firing"
                } else {
                    "quiet"
                };
                html.push_str(&format!(
                    "<li class=\"{class}\">{} — {}</li>",
                    e(&alarm.name),
                    alarm.state.as_str()
                ));
            }
            html.push_str("</ul>");
        }
        Err(why) => html.push_str(&format!("<p>Alarms unavailable: {}</p>", e(why))),
    }
    // The first window's recommendation, beside the chart.
    if let Some((label, Ok(window))) = evidence.windows.first() {
        let verdict = crate::judge(window, minutes(window).as_ref(), &evidence.limits);
        html.push_str(&format!(
            "<p id=\"verdict\" data-recommendation=\"{}\"><strong>{}: {}</strong></p>",
            verdict.recommendation.as_str(),
            e(label),
            e(&verdict.recommendation_text())
        ));
    }
    match &evidence.chart {
        Ok(svg) => html.push_str(&format!("<figure>{svg}</figure>")),
        Err(why) => html.push_str(&format!("<p>Chart unavailable: {}</p>", e(why))),
    }
    if let Some(limit) = evidence.limits.max_error_rate_increase {
        html.push_str(&format!(
            "<p>Automatic analysis: this step is rejected by itself, traffic back on stable, once the 95 % interval of the 5xx difference lies wholly above +{} points on at least {} requests (checked every minute while it waits, and on approval).</p>",
            limit.points(),
            evidence.limits.min_requests
        ));
    }
    html.push_str("</section>");
    html
}

const WIDTH: f64 = 640.0;
const PANEL: f64 = 150.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 24.0;
const GAP: f64 = 40.0;
const NEW_COLOUR: &str = "#c2410c";
const STABLE_COLOUR: &str = "#1d4ed8";

/// A moment marked on the chart (a step applied): epoch seconds and a label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChartMark {
    pub at: u64,
    pub label: String,
}

/// One panel's value of a minute.
type Measure = fn(&MinuteStats) -> Option<f64>;

fn error_rate(minute: &MinuteStats) -> Option<f64> {
    minute.stats.error_rate()
}

fn p99(minute: &MinuteStats) -> Option<f64> {
    minute.stats.p99_ms
}

/// The chart from `since` to `until` (epoch seconds).
pub fn evidence_chart(timeline: &Timeline, marks: &[ChartMark], since: u64, until: u64) -> String {
    let until = until.max(since + 60);
    let x = |at: u64| {
        LEFT + (WIDTH - LEFT - RIGHT) * (at.saturating_sub(since)) as f64 / (until - since) as f64
    };
    let height = TOP + 2.0 * PANEL + GAP + 28.0;
    let mut svg = format!(
        "<svg id=\"evidence-chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {WIDTH} {height}\" \
         role=\"img\" aria-label=\"5xx rate and p99 response time per minute, new version against stable\" \
         font-family=\"sans-serif\" font-size=\"11\">"
    );
    svg.push_str(&format!(
        "<text x=\"{LEFT}\" y=\"14\" fill=\"{NEW_COLOUR}\">━ new</text>\
         <text x=\"{}\" y=\"14\" fill=\"{STABLE_COLOUR}\">━ stable</text>",
        LEFT + 60.0
    ));
    let panels: [(&str, &str, Measure); 2] = [
        ("5xx rate", "%", error_rate),
        ("p99 response time", "ms", p99),
    ];
    for (index, (title, unit, measure)) in panels.into_iter().enumerate() {
        let top = TOP + index as f64 * (PANEL + GAP);
        let bottom = top + PANEL;
        let max = timeline
            .candidate
            .iter()
            .chain(&timeline.stable)
            .filter_map(measure)
            .fold(0.0_f64, f64::max);
        let max = if max > 0.0 { max * 1.1 } else { 1.0 };
        let y = |value: f64| bottom - PANEL * value / max;
        svg.push_str(&format!(
            "<g class=\"panel\" data-panel=\"{title}\">\
             <rect x=\"{LEFT}\" y=\"{top}\" width=\"{}\" height=\"{PANEL}\" fill=\"#f8fafc\" stroke=\"#cbd5e1\"/>\
             <text x=\"{LEFT}\" y=\"{}\" fill=\"#334155\">{title} ({unit})</text>\
             <text x=\"{}\" y=\"{}\" text-anchor=\"end\" fill=\"#64748b\">{}</text>\
             <text x=\"{}\" y=\"{bottom}\" text-anchor=\"end\" fill=\"#64748b\">0</text>",
            WIDTH - LEFT - RIGHT,
            top - 4.0,
            LEFT - 4.0,
            top + 10.0,
            axis_value(max),
            LEFT - 4.0,
        ));
        for mark in marks {
            let at = x(mark.at.clamp(since, until));
            svg.push_str(&format!(
                "<line class=\"step-mark\" x1=\"{at:.1}\" y1=\"{top}\" x2=\"{at:.1}\" y2=\"{bottom}\" stroke=\"#94a3b8\" stroke-dasharray=\"4 3\"/>"
            ));
            if index == 0 {
                svg.push_str(&format!(
                    "<text x=\"{:.1}\" y=\"{}\" fill=\"#475569\">{}</text>",
                    at + 3.0,
                    top + 12.0,
                    html_escape(&mark.label)
                ));
            }
        }
        for (series, colour, name) in [
            (&timeline.stable, STABLE_COLOUR, "stable"),
            (&timeline.candidate, NEW_COLOUR, "new"),
        ] {
            let points: Vec<String> = series
                .iter()
                .filter(|m| m.at >= since.saturating_sub(60) && m.at <= until)
                .filter_map(|m| {
                    measure(m).map(|v| format!("{:.1},{:.1}", x(m.at.max(since)), y(v)))
                })
                .collect();
            if !points.is_empty() {
                svg.push_str(&format!(
                    "<polyline class=\"series\" data-series=\"{name}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\" points=\"{}\"/>",
                    points.join(" ")
                ));
            }
        }
        svg.push_str("</g>");
    }
    let minutes = (until - since).div_ceil(60);
    svg.push_str(&format!(
        "<text x=\"{LEFT}\" y=\"{}\" fill=\"#64748b\">rollout start</text>\
         <text x=\"{}\" y=\"{}\" text-anchor=\"end\" fill=\"#64748b\">now (+{minutes} min)</text></svg>",
        height - 6.0,
        WIDTH - RIGHT,
        height - 6.0
    ));
    svg
}

/// "12", "0.4", "1,250".
fn axis_value(value: f64) -> String {
    if value >= 10.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.1}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TrafficStats;

    fn minute(at: u64, requests: f64, errors: f64, p99: f64) -> MinuteStats {
        MinuteStats {
            at,
            stats: TrafficStats {
                requests,
                target_5xx: errors,
                elb_5xx: 0.0,
                p50_ms: Some(p99 / 3.0),
                p99_ms: Some(p99),
            },
        }
    }

    #[test]
    fn the_evidence_section_says_what_it_has_and_what_it_lacks() {
        let window = WindowEvidence {
            since: 0,
            until: 60,
            candidate: minute(0, 200.0, 20.0, 900.0).stats,
            stable: minute(0, 2000.0, 2.0, 150.0).stats,
        };
        let evidence = PageEvidence {
            windows: vec![
                ("This step (10 %), 1 min".into(), Ok(window)),
                (
                    "The step before".into(),
                    Err("AccessDenied: not authorised".into()),
                ),
            ],
            limits: AnalysisLimits {
                max_error_rate_increase: crate::PercentagePoints::new(2.0),
                min_requests: 100,
                slo_target: None,
            },
            alarms: Ok(vec![AlarmReading {
                name: "web-5xx".into(),
                state: AlarmState::Alarm,
                reason: "x".into(),
            }]),
            chart: Err("Throttled".into()),
            timeline: None,
        };
        let html = evidence_html(&evidence);
        assert!(
            html.contains("new: 200 requests, 10 % 5xx, p99 900 ms"),
            "{html}"
        );
        assert!(
            html.contains("reject: the interval lies wholly above the tolerance of +2.00 points")
                && html.contains("<p id=\"verdict\" data-recommendation=\"reject\">"),
            "{html}"
        );
        assert!(html.contains("unavailable: AccessDenied: not authorised"));
        assert!(html.contains("<li class=\"firing\">web-5xx — ALARM</li>"));
        assert!(html.contains("Chart unavailable: Throttled"));
        assert!(html.contains("wholly above +2 points on at least 100 requests"));
    }

    #[test]
    fn the_chart_draws_both_versions_in_both_panels_with_the_steps_marked() {
        let timeline = Timeline {
            candidate: vec![
                minute(60, 10.0, 1.0, 400.0),
                minute(120, 100.0, 20.0, 900.0),
            ],
            stable: vec![
                minute(0, 900.0, 1.0, 150.0),
                minute(60, 900.0, 2.0, 160.0),
                minute(120, 500.0, 1.0, 150.0),
            ],
        };
        let marks = [
            ChartMark {
                at: 60,
                label: "step 1: 10 %".into(),
            },
            ChartMark {
                at: 120,
                label: "step 2 <50 %>".into(),
            },
        ];
        let svg = evidence_chart(&timeline, &marks, 0, 180);
        assert!(svg.starts_with("<svg id=\"evidence-chart\""));
        assert!(svg.ends_with("</svg>"));
        assert_eq!(svg.matches("<polyline").count(), 4, "{svg}");
        assert_eq!(
            svg.matches("class=\"step-mark\"").count(),
            4,
            "two marks, both panels"
        );
        assert!(svg.contains("step 2 &lt;50 %&gt;"), "labels are escaped");
        assert!(svg.contains("5xx rate (%)") && svg.contains("p99 response time (ms)"));
        assert!(!svg.contains("<script"));
        // No data: the panels and marks, no lines.
        let empty = evidence_chart(&Timeline::default(), &marks, 0, 0);
        assert_eq!(empty.matches("<polyline").count(), 0);
        assert_eq!(empty.matches("class=\"panel\"").count(), 2);
    }
}
