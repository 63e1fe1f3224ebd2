//! How the new version is doing: the load balancer's numbers for the
//! candidate and the stable target group, what they say at a glance, and the
//! optional automatic analysis that rejects a candidate whose 5xx rate is
//! clearly worse than stable's.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::{ErrorKind, ErrorName};

/// How many requests the candidate must have served before its numbers are
/// judged, unless the request says (`minRequests`).
pub const DEFAULT_MIN_REQUESTS: u64 = 100;

/// The CloudWatch namespace and metrics of an Application Load Balancer.
pub const ALB_NAMESPACE: &str = "AWS/ApplicationELB";
pub const REQUESTS_METRIC: &str = "RequestCount";
pub const TARGET_5XX_METRIC: &str = "HTTPCode_Target_5XX_Count";
pub const ELB_5XX_METRIC: &str = "HTTPCode_ELB_5XX_Count";
pub const RESPONSE_TIME_METRIC: &str = "TargetResponseTime";

/// A limit in percentage points, kept in thousandths so that a request
/// stays exactly comparable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct PercentagePoints(u32);

impl PercentagePoints {
    /// From a number of percentage points, 0 to 100.
    pub fn new(points: f64) -> Option<PercentagePoints> {
        (points.is_finite() && (0.0..=100.0).contains(&points))
            .then(|| PercentagePoints((points * 1000.0).round() as u32))
    }

    pub fn points(self) -> f64 {
        f64::from(self.0) / 1000.0
    }
}

impl<'de> Deserialize<'de> for PercentagePoints {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let points = f64::deserialize(deserializer)?;
        PercentagePoints::new(points).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "{points} is not a number of percentage points from 0 to 100"
            ))
        })
    }
}

impl Serialize for PercentagePoints {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_f64(self.points())
    }
}

/// The CloudWatch dimensions of a load balancer and a target group, from
/// their ARNs (`…:loadbalancer/app/<name>/<id>` or a listener rule's
/// `…:listener-rule/app/<name>/<id>/…`, and `…:targetgroup/<name>/<id>`).
pub fn load_balancer_dimension(arn: &str) -> Option<String> {
    let resource = arn.rsplit(':').next()?;
    let mut parts = resource.split('/');
    let kind = parts.next()?;
    if !matches!(kind, "loadbalancer" | "listener" | "listener-rule") {
        return None;
    }
    let (app, name, id) = (parts.next()?, parts.next()?, parts.next()?);
    (app == "app").then(|| format!("app/{name}/{id}"))
}

pub fn target_group_dimension(arn: &str) -> Option<String> {
    let resource = arn.rsplit(':').next()?;
    resource
        .starts_with("targetgroup/")
        .then(|| resource.to_string())
}

/// What to read from CloudWatch: the two target groups of one load balancer
/// over a window (epoch seconds, widened to whole minutes: the load
/// balancer reports per minute).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrafficQuery {
    /// The `LoadBalancer` dimension (`app/<name>/<id>`).
    pub load_balancer: String,
    /// The `TargetGroup` dimensions (`targetgroup/<name>/<id>`).
    pub candidate: String,
    pub stable: String,
    pub since: u64,
    pub until: u64,
}

impl TrafficQuery {
    /// For a deployment's target groups, from `since` to `until`; `None`
    /// when the ARNs do not name an Application Load Balancer's.
    pub fn new(
        weighted_rule: &str,
        candidate_group: &str,
        stable_group: &str,
        since: u64,
        until: u64,
    ) -> Option<TrafficQuery> {
        Some(TrafficQuery {
            load_balancer: load_balancer_dimension(weighted_rule)?,
            candidate: target_group_dimension(candidate_group)?,
            stable: target_group_dimension(stable_group)?,
            since,
            until,
        })
    }

    /// The window in whole minutes: from the start of the minute that holds
    /// `since` to the end of the one that holds `until` (CloudWatch's end is
    /// exclusive: numbers stamped at the very second `until` count too).
    pub fn minutes(&self) -> (u64, u64) {
        let start = self.since - self.since % 60;
        let end = (self.until.max(self.since) / 60 + 1) * 60;
        (start, end)
    }
}

/// One target group's traffic in one minute (`at`: its start).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MinuteStats {
    pub at: u64,
    pub stats: TrafficStats,
}

/// Both target groups, minute by minute.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Timeline {
    pub candidate: Vec<MinuteStats>,
    pub stable: Vec<MinuteStats>,
}

impl Timeline {
    /// The minutes that begin within `since..until` (epoch seconds).
    pub fn within(&self, since: u64, until: u64) -> Timeline {
        let keep = |minutes: &[MinuteStats]| {
            minutes
                .iter()
                .filter(|m| (since..until).contains(&m.at))
                .copied()
                .collect()
        };
        Timeline {
            candidate: keep(&self.candidate),
            stable: keep(&self.stable),
        }
    }
}

/// One target group's traffic over a window.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrafficStats {
    pub requests: f64,
    /// 5xx answered by the targets.
    pub target_5xx: f64,
    /// 5xx answered by the load balancer for this target group.
    pub elb_5xx: f64,
    /// Response time percentiles in milliseconds (none without traffic).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p50_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p99_ms: Option<f64>,
}

impl TrafficStats {
    pub fn errors(&self) -> f64 {
        self.target_5xx + self.elb_5xx
    }

    /// 5xx responses per 100 requests; `None` without requests.
    pub fn error_rate(&self) -> Option<f64> {
        (self.requests > 0.0).then(|| 100.0 * self.errors() / self.requests)
    }

    /// "1,204 requests, 0.4 % 5xx, p99 180 ms".
    pub fn describe(&self) -> String {
        let mut text = format!("{} requests", thousands(self.requests));
        if let Some(rate) = self.error_rate() {
            text.push_str(&format!(", {} 5xx", percent(rate)));
        }
        if let Some(p99) = self.p99_ms {
            text.push_str(&format!(", p99 {p99:.0} ms"));
        }
        text
    }
}

/// "1,204".
fn thousands(value: f64) -> String {
    // (Not `max`: an empty float sum is -0.0, and max(-0.0, 0.0) may keep
    // it, which prints "-0".)
    let digits = format!("{:.0}", if value > 0.0 { value } else { 0.0 });
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// "0.4 %", "12 %".
fn percent(rate: f64) -> String {
    if rate >= 10.0 {
        format!("{rate:.0} %")
    } else {
        format!("{rate:.1} %")
    }
}

/// The two target groups over one window (epoch seconds).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WindowEvidence {
    pub since: u64,
    pub until: u64,
    pub candidate: TrafficStats,
    pub stable: TrafficStats,
}

/// The optional automatic analysis of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnalysisLimits {
    pub max_error_rate_increase: Option<PercentagePoints>,
    pub min_requests: u64,
    /// The availability objective in percent (`sloTarget`): the verdict
    /// shows the error budget's burn rate.
    pub slo_target: Option<PercentagePoints>,
}

impl WindowEvidence {
    /// "new: 1,204 requests, 0.4 % 5xx, p99 180 ms · stable: 10,877 requests, 0.3 % 5xx, p99 170 ms".
    pub fn summary(&self) -> String {
        format!(
            "new: {} · stable: {}",
            self.candidate.describe(),
            self.stable.describe()
        )
    }

    /// The summary and the verdict: the 5xx interval, the latency bound
    /// when `timeline` has the minutes, and the recommendation.
    pub fn verdict(&self, limits: &AnalysisLimits, timeline: Option<&Timeline>) -> String {
        format!(
            "{} — {}",
            self.summary(),
            crate::judge(self, timeline, limits).describe()
        )
    }

    /// Fails when the analysis is on (`maxErrorRateIncrease`) and the
    /// interval of the 5xx difference lies wholly above it, on enough
    /// requests.
    pub fn analyse(&self, limits: &AnalysisLimits) -> Result<(), AnalysisError> {
        let Some(limit) = limits.max_error_rate_increase else {
            return Ok(());
        };
        let verdict = crate::judge(self, None, limits);
        if verdict.recommendation != crate::Recommendation::Reject {
            return Ok(());
        }
        Err(AnalysisError::AnalysisFailed {
            summary: self.summary(),
            increase: verdict.errors_text(),
            limit: points(limit.points()),
        })
    }
}

fn points(value: f64) -> String {
    let text = format!("{value:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// The automatic analysis found the candidate worse than stable.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AnalysisError {
    #[error("the new version's 5xx rate exceeds stable's by more than {limit} percentage points, however often one looks ({increase}): {summary}; traffic goes back to the stable colour")]
    AnalysisFailed {
        summary: String,
        increase: String,
        limit: String,
    },
}

impl ErrorName for AnalysisError {
    fn error_kind(&self) -> ErrorKind {
        ErrorKind::AnalysisFailed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn stats(requests: f64, errors: f64, p99: f64) -> TrafficStats {
        TrafficStats {
            requests,
            target_5xx: errors,
            elb_5xx: 0.0,
            p50_ms: Some(p99 / 2.0),
            p99_ms: Some(p99),
        }
    }

    fn limits(max: Option<f64>, min: u64) -> AnalysisLimits {
        AnalysisLimits {
            max_error_rate_increase: max.and_then(PercentagePoints::new),
            min_requests: min,
            slo_target: None,
        }
    }

    #[test]
    fn the_numbers_read_side_by_side() {
        let window = WindowEvidence {
            since: 0,
            until: 600,
            candidate: stats(1204.0, 5.0, 180.0),
            stable: stats(10877.0, 33.0, 170.0),
        };
        assert_eq!(
            window.summary(),
            "new: 1,204 requests, 0.4 % 5xx, p99 180 ms · stable: 10,877 requests, 0.3 % 5xx, p99 170 ms"
        );
        assert_eq!(
            window.verdict(&limits(None, 100), None),
            "new: 1,204 requests, 0.4 % 5xx, p99 180 ms · stable: 10,877 requests, 0.3 % 5xx, p99 170 ms — new 0.42 % 5xx vs stable 0.30 % — +0.11 points, 95 % interval −0.54 to +1.45 (valid however often you look) — wait for more traffic: at this traffic, enough to rule out an increase of +1.00 points, the advice's default in about 10 minutes"
        );
        let quiet = WindowEvidence {
            candidate: TrafficStats::default(),
            ..window.clone()
        };
        assert_eq!(
            quiet.verdict(&limits(None, 100), None),
            "new: 0 requests · stable: 10,877 requests, 0.3 % 5xx, p99 170 ms — no requests to the new version yet — wait for more traffic: the new version has served 0 of the 100 requests needed (none so far)"
        );
        assert_eq!(thousands(1_234_567.0), "1,234,567");
        assert_eq!(thousands(-0.0), "0");
        assert_eq!(thousands([0.0_f64; 0].iter().sum()), "0");
        assert_eq!(thousands(999.0), "999");
    }

    #[test]
    fn the_analysis_rejects_only_a_clearly_worse_candidate_on_enough_requests() {
        let failing = WindowEvidence {
            since: 0,
            until: 600,
            candidate: stats(500.0, 50.0, 900.0),
            stable: stats(5000.0, 10.0, 170.0),
        };
        let error = failing.analyse(&limits(Some(2.0), 100)).unwrap_err();
        assert_eq!(error.error_type(), "AnalysisFailed");
        assert!(
            error.to_string().starts_with(
                "the new version's 5xx rate exceeds stable's by more than 2 percentage points, however often one looks (new 10.00 % 5xx vs stable 0.20 % — +9.80 points, 95 % interval +"
            ),
            "{error}"
        );
        assert!(failing
            .verdict(&limits(Some(2.0), 100), None)
            .ends_with("— reject: the interval lies wholly above the tolerance of +2.00 points"));
        // Without the field nothing is automatic; on too few requests, nothing is judged.
        assert_eq!(failing.analyse(&limits(None, 100)), Ok(()));
        assert_eq!(failing.analyse(&limits(Some(2.0), 1000)), Ok(()));
        assert_eq!(failing.analyse(&limits(Some(10.0), 100)), Ok(()));
    }

    #[test]
    fn dimensions_come_from_the_arns() {
        let rule = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/my-lb/50dc6c495c0c9188/f2f7dc8efc522ab2/9683b2d02a6cabee";
        assert_eq!(
            load_balancer_dimension(rule).as_deref(),
            Some("app/my-lb/50dc6c495c0c9188")
        );
        let group =
            "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/blue/73e2d6bc24d8a067";
        assert_eq!(
            target_group_dimension(group).as_deref(),
            Some("targetgroup/blue/73e2d6bc24d8a067")
        );
        assert_eq!(load_balancer_dimension(group), None);
        assert_eq!(target_group_dimension(rule), None);
        assert_eq!(load_balancer_dimension("nonsense"), None);
    }

    #[test]
    fn a_window_is_read_in_whole_minutes() {
        let rule = "arn:aws:elasticloadbalancing:r:1:listener-rule/app/lb/1/2/3";
        let query = |since, until| {
            TrafficQuery::new(
                rule,
                "arn:x:targetgroup/g/1",
                "arn:x:targetgroup/b/2",
                since,
                until,
            )
            .unwrap()
        };
        assert_eq!(query(125, 170).minutes(), (120, 180));
        assert_eq!(
            query(120, 180).minutes(),
            (120, 240),
            "numbers stamped at the second the window ends are in it"
        );
        assert_eq!(query(120, 179).minutes(), (120, 180));
        assert_eq!(query(120, 120).minutes(), (120, 180), "at least a minute");
        assert_eq!(query(59, 61).minutes(), (0, 120));
        assert_eq!(
            TrafficQuery::new(
                "arn:x:targetgroup/g/1",
                "arn:x:targetgroup/g/1",
                "arn:x:targetgroup/b/2",
                0,
                1
            ),
            None
        );
    }

    #[test]
    fn a_limit_is_a_number_of_points_from_0_to_100() {
        assert_eq!(PercentagePoints::new(1.5).map(|p| p.points()), Some(1.5));
        assert_eq!(PercentagePoints::new(0.0).map(|p| p.points()), Some(0.0));
        for wrong in [-0.1, 100.5, f64::NAN, f64::INFINITY] {
            assert_eq!(PercentagePoints::new(wrong), None, "{wrong}");
        }
    }

    proptest! {
        /// The analysis fails exactly when it is on, the candidate served
        /// enough requests and the interval of its 5xx rate's increase lies
        /// wholly above the limit — and then the increase seen is over it.
        #[test]
        fn analysis_fails_exactly_when_the_rule_says(
            requests in 0u32..5000, errors in 0u32..500, stable_errors in 0u32..500,
            limit in proptest::option::of(0u32..20), min in 1u64..2000,
        ) {
            let candidate = stats(f64::from(requests), f64::from(errors.min(requests)), 100.0);
            let stable = stats(10_000.0, f64::from(stable_errors), 100.0);
            let window = WindowEvidence { since: 0, until: 60, candidate, stable };
            let limits = limits(limit.map(f64::from), min);
            let enough = f64::from(requests) >= min as f64;
            let increase = candidate.error_rate().unwrap_or_default() - stable.error_rate().unwrap_or_default();
            let over = limit.is_some_and(|l| increase > f64::from(l));
            let surely_over = limit.is_some_and(|l| crate::ErrorComparison::of(&window).low > f64::from(l));
            let failed = window.analyse(&limits).is_err();
            prop_assert_eq!(failed, enough && surely_over);
            prop_assert!(!failed || over);
        }
    }
}
