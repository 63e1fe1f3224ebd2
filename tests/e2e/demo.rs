//! The `make demo` flow, run non-interactively.

use ecs_canary_e2e::demo::run_demo;

#[tokio::test]
async fn the_demo_promotes_one_release_rolls_back_the_next_and_gates_an_ecs_deployment() {
    let mut out = Vec::new();
    let summary = run_demo(&mut out, false).await;
    let printed = String::from_utf8_lossy(&out).to_string();
    assert_eq!(
        summary.outcomes,
        vec![
            ("SUCCEEDED".to_string(), None),
            ("FAILED".to_string(), Some("Rejected".to_string()))
        ],
        "{printed}"
    );
    assert_eq!(summary.final_tag.as_deref(), Some("Green"));
    assert_eq!(summary.final_split, (100, 0));
    // The traffic each approval was asked about: 10 %, 50 %, then 10 % of 1.0.2.
    let splits: Vec<&str> = summary
        .rows
        .iter()
        .filter(|r| r.step != "end" && !r.release.contains("ECS"))
        .map(|r| r.split.as_str())
        .collect();
    assert_eq!(
        splits,
        vec![
            "Blue 90 / Green 10",
            "Blue 50 / Green 50",
            "Green 90 / Blue 10"
        ],
        "{printed}"
    );
    // ECS's own deployment: approved at 0 % and 25 %, rejected at 50 %;
    // ECS rolls back and production is all on the source revision again.
    let native: Vec<(&str, &str)> = summary
        .rows
        .iter()
        .filter(|r| r.release.contains("ECS"))
        .map(|r| (r.split.as_str(), r.decision.as_str()))
        .collect();
    assert_eq!(
        native,
        vec![
            ("1.0 100 / 2.0 0", "approved (email link)"),
            ("1.0 75 / 2.0 25", "approved (email link)"),
            ("1.0 50 / 2.0 50", "rejected (email link)"),
            ("1.0 100 / 2.0 0", "rollback_successful"),
        ],
        "{printed}"
    );
    assert_eq!(summary.native_status, "ROLLBACK_SUCCESSFUL");
    assert_eq!(summary.native_split, [100, 0]);
    assert!(
        printed.contains("| release | step | split | decision | duration |"),
        "{printed}"
    );
    assert!(printed.contains("/approvals/"), "{printed}");
}
