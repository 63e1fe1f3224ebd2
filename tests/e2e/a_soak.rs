//! The soak, short (`make test`: every fate once, over four services); `make
//! soak` runs the long one (30 deployments over 10 services).

use ecs_canary_e2e::soak::{run_soak, SoakPlan};

#[tokio::test]
async fn deployments_with_every_fate_on_a_bad_day_leave_every_service_at_rest() {
    let plan = SoakPlan::from_env(9, 4);
    let report = run_soak(plan).await;
    println!("{report}");
    assert!(
        report.violations.is_empty(),
        "invariant violations:\n{report}"
    );
    assert_eq!(
        report.rows.values().map(|row| row.0).sum::<usize>(),
        plan.deployments,
        "every deployment ended"
    );
}
