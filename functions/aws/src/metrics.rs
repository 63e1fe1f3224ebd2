//! The load balancer's numbers (CloudWatch GetMetricData on
//! `AWS/ApplicationELB`) for a deployment's two target groups.

use std::collections::BTreeMap;

use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat};
use aws_sdk_cloudwatch::Client;
use ecs_canary_core::{
    MinuteStats, Timeline, TrafficQuery, TrafficStats, WindowEvidence, ALB_NAMESPACE,
    ELB_5XX_METRIC, REQUESTS_METRIC, RESPONSE_TIME_METRIC, TARGET_5XX_METRIC,
};

use crate::error::Failure;
use crate::AwsError;

const GET_METRIC_DATA: &str = "cloudwatch:GetMetricData";

/// What is read of each target group: (query id suffix, metric, statistic).
/// How many metrics one read of a window requests (each is billed by
/// CloudWatch's GetMetricData): five for each target group.
pub const METRICS_PER_READ: usize = 2 * READ.len();

const READ: [(&str, &str, &str); 5] = [
    ("requests", REQUESTS_METRIC, "Sum"),
    ("target5xx", TARGET_5XX_METRIC, "Sum"),
    ("elb5xx", ELB_5XX_METRIC, "Sum"),
    ("p50", RESPONSE_TIME_METRIC, "p50"),
    ("p99", RESPONSE_TIME_METRIC, "p99"),
];

/// The load balancer's numbers for a deployment's two target groups
/// (GetMetricData on `AWS/ApplicationELB`).
#[derive(Debug, Clone)]
pub struct Metrics {
    client: Client,
}

/// One query's values by period start (epoch seconds).
type Series = BTreeMap<i64, f64>;

impl Metrics {
    pub fn new(client: Client) -> Metrics {
        Metrics { client }
    }

    /// Both target groups over the whole window.
    pub async fn window(&self, query: &TrafficQuery) -> Result<WindowEvidence, AwsError> {
        let (start, end) = query.minutes();
        let series = self.read(query, start, end, end - start).await?;
        let total = |group: &str| stats_at(&series, group, None);
        Ok(WindowEvidence {
            since: query.since,
            until: query.until,
            candidate: total("c"),
            stable: total("s"),
        })
    }

    /// Both target groups, minute by minute (minutes without requests are absent).
    pub async fn timeline(&self, query: &TrafficQuery) -> Result<Timeline, AwsError> {
        let (start, end) = query.minutes();
        let series = self.read(query, start, end, 60).await?;
        let minutes = |group: &str| {
            let mut starts: Vec<i64> = series
                .get(&format!("{group}requests"))
                .map(|s| s.keys().copied().collect())
                .unwrap_or_default();
            starts.sort_unstable();
            starts
                .into_iter()
                .map(|at| MinuteStats {
                    at: at.max(0) as u64,
                    stats: stats_at(&series, group, Some(at)),
                })
                .collect()
        };
        Ok(Timeline {
            candidate: minutes("c"),
            stable: minutes("s"),
        })
    }

    async fn read(
        &self,
        query: &TrafficQuery,
        start: u64,
        end: u64,
        period: u64,
    ) -> Result<BTreeMap<String, Series>, AwsError> {
        let mut queries = Vec::new();
        for (group, target_group) in [("c", &query.candidate), ("s", &query.stable)] {
            for (id, metric, stat) in READ {
                let metric = Metric::builder()
                    .namespace(ALB_NAMESPACE)
                    .metric_name(metric)
                    .dimensions(
                        Dimension::builder()
                            .name("LoadBalancer")
                            .value(&query.load_balancer)
                            .build(),
                    )
                    .dimensions(
                        Dimension::builder()
                            .name("TargetGroup")
                            .value(target_group)
                            .build(),
                    )
                    .build();
                queries.push(
                    MetricDataQuery::builder()
                        .id(format!("{group}{id}"))
                        .metric_stat(
                            MetricStat::builder()
                                .metric(metric)
                                .period(period.clamp(60, i32::MAX as u64) as i32)
                                .stat(stat)
                                .build(),
                        )
                        .return_data(true)
                        .build(),
                );
            }
        }
        let mut series: BTreeMap<String, Series> = BTreeMap::new();
        let mut token: Option<String> = None;
        loop {
            let output = self
                .client
                .get_metric_data()
                .set_metric_data_queries(Some(queries.clone()))
                .start_time(DateTime::from_secs(start as i64))
                .end_time(DateTime::from_secs(end as i64))
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| Failure::of(e).into_error(GET_METRIC_DATA))?;
            for result in output.metric_data_results() {
                let entry = series
                    .entry(result.id().unwrap_or_default().to_string())
                    .or_default();
                for (at, value) in result.timestamps().iter().zip(result.values()) {
                    entry.insert(at.secs(), *value);
                }
            }
            match output.next_token() {
                Some(next) if !next.is_empty() => token = Some(next.to_string()),
                _ => return Ok(series),
            }
        }
    }
}

/// A group's stats from the series, at one period start or summed over all
/// (percentiles: the only period's, when there is one).
fn stats_at(series: &BTreeMap<String, Series>, group: &str, at: Option<i64>) -> TrafficStats {
    let value = |id: &str| -> Option<f64> {
        let values = series.get(&format!("{group}{id}"))?;
        match at {
            Some(at) => values.get(&at).copied(),
            None if id.starts_with('p') => {
                // A percentile cannot be summed: the window is one period.
                values.values().next().copied()
            }
            // (From +0.0: an empty float sum is -0.0.)
            None => Some(values.values().fold(0.0, |sum, v| sum + v)),
        }
    };
    TrafficStats {
        requests: value("requests").unwrap_or_default(),
        target_5xx: value("target5xx").unwrap_or_default(),
        elb_5xx: value("elb5xx").unwrap_or_default(),
        p50_ms: value("p50").map(|s| s * 1000.0),
        p99_ms: value("p99").map(|s| s * 1000.0),
    }
}
