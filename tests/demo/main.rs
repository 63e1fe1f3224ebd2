//! `make demo`: the whole canary flow on the local emulator.
//! `DEMO_INTERACTIVE=1` waits for you to approve or reject in a browser.

#[tokio::main]
async fn main() {
    let interactive = std::env::var("DEMO_INTERACTIVE").is_ok_and(|v| v == "1");
    let mut out = std::io::stdout();
    let summary = ecs_canary_e2e::demo::run_demo(&mut out, interactive).await;
    let failed = summary
        .outcomes
        .iter()
        .filter(|(status, _)| status == "FAILED")
        .count();
    println!(
        "{} deployment(s): {} promoted, {} rolled back; StableStack = {}",
        summary.outcomes.len(),
        summary.outcomes.len() - failed,
        failed,
        summary.final_tag.as_deref().unwrap_or("-")
    );
}
