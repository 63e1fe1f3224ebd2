//! A task set as a deployment sees it, and when it is steady.

use serde::{Deserialize, Serialize};

/// The `stabilityStatus` ECS reports once a task set runs what it should.
pub const STEADY_STATE: &str = "STEADY_STATE";

/// A task set as ECS describes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskSet {
    pub id: String,
    pub arn: String,
    pub external_id: Option<String>,
    pub task_definition: String,
    /// `PRIMARY`, `ACTIVE` or `DRAINING`.
    pub status: String,
    /// `STEADY_STATE` or `STABILIZING`.
    pub stability_status: String,
    pub target_groups: Vec<String>,
    /// Its scale, in percent of the service's desired count (0: scaled in).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_percent: Option<f64>,
}

impl TaskSet {
    pub fn is_steady(&self) -> bool {
        self.stability_status == STEADY_STATE
    }
}
