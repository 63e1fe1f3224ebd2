//! The load balancer's numbers, as tests write them: a minute of traffic
//! per target group in `AWS/ApplicationELB` (only tests write there; the
//! functions read it with GetMetricData).

use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum};
use ecs_canary_core::{load_balancer_dimension, target_group_dimension};

use crate::Emulator;

/// One minute of traffic of one target group.
pub struct Minute {
    pub requests: f64,
    pub errors: f64,
    /// Response times in seconds, with how many requests took each.
    pub latencies: &'static [(f64, f64)],
}

/// A healthy new version and its stable one (0.4 % and 0.3 % 5xx).
pub const HEALTHY_NEW: Minute = Minute {
    requests: 1204.0,
    errors: 5.0,
    latencies: &[(0.05, 1000.0), (0.12, 180.0), (0.18, 24.0)],
};
pub const HEALTHY_STABLE: Minute = Minute {
    requests: 10877.0,
    errors: 33.0,
    latencies: &[(0.05, 9000.0), (0.11, 1700.0), (0.17, 177.0)],
};
/// A busy minute of a version as good as its stable one (0.3 % 5xx each).
pub const EQUAL: Minute = Minute {
    requests: 40000.0,
    errors: 120.0,
    latencies: &[(0.05, 36000.0), (0.11, 3800.0), (0.17, 200.0)],
};
/// A failing new version (10 % 5xx) and its stable one (0.2 %).
pub const FAILING_NEW: Minute = Minute {
    requests: 500.0,
    errors: 50.0,
    latencies: &[(0.2, 400.0), (0.9, 100.0)],
};
pub const FAILING_STABLE: Minute = Minute {
    requests: 5000.0,
    errors: 10.0,
    latencies: &[(0.05, 4900.0), (0.17, 100.0)],
};

/// Writes a minute of traffic (now) for each `(target group ARN, minute)`
/// behind the load balancer of listener rule `rule`.
pub async fn write_minutes(emulator: &Emulator, rule: &str, minutes: &[(&str, &Minute)]) {
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&emulator.sdk_config().await);
    let load_balancer = load_balancer_dimension(rule).expect("an ALB rule");
    let now = DateTime::from_secs(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("time")
            .as_secs() as i64,
    );
    for (group, minute) in minutes {
        let dimensions = vec![
            Dimension::builder()
                .name("LoadBalancer")
                .value(&load_balancer)
                .build(),
            Dimension::builder()
                .name("TargetGroup")
                .value(target_group_dimension(group).expect("a target group"))
                .build(),
        ];
        let datum = |name: &str, value: f64| {
            MetricDatum::builder()
                .metric_name(name)
                .set_dimensions(Some(dimensions.clone()))
                .timestamp(now)
                .value(value)
                .build()
        };
        let latency = MetricDatum::builder()
            .metric_name("TargetResponseTime")
            .set_dimensions(Some(dimensions.clone()))
            .timestamp(now)
            .set_values(Some(minute.latencies.iter().map(|(v, _)| *v).collect()))
            .set_counts(Some(minute.latencies.iter().map(|(_, c)| *c).collect()))
            .build();
        cloudwatch
            .put_metric_data()
            .namespace("AWS/ApplicationELB")
            .metric_data(datum("RequestCount", minute.requests))
            .metric_data(datum("HTTPCode_Target_5XX_Count", minute.errors))
            .metric_data(latency)
            .send()
            .await
            .expect("put the load balancer's numbers");
    }
}
