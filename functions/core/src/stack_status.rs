//! How a stack update stands, from CloudFormation's status.

use serde::{Deserialize, Serialize};

/// Where a CloudFormation stack operation stands, from its status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StackProgress {
    /// Still working (`*_IN_PROGRESS`, except rollbacks).
    InProgress,
    /// Done, and what was asked for is in place (`CREATE_COMPLETE`, `UPDATE_COMPLETE`).
    Complete,
    /// Rolling back, rolled back or failed: what was asked for is not in place.
    Failed,
}

impl StackProgress {
    /// Where the stack stands after an update this deployment asked for
    /// (`changed`), or after one that had nothing to change: then a stack
    /// that rolled back an earlier update (`UPDATE_ROLLBACK_COMPLETE`) is
    /// settled in exactly the template asked for, which is no failure.
    pub fn after_update(status: &str, changed: bool) -> StackProgress {
        if !changed && status == "UPDATE_ROLLBACK_COMPLETE" {
            StackProgress::Complete
        } else {
            StackProgress::of(status)
        }
    }

    pub fn of(status: &str) -> StackProgress {
        if status.contains("ROLLBACK")
            || status.ends_with("_FAILED")
            || status.starts_with("DELETE")
        {
            StackProgress::Failed
        } else if status.ends_with("_IN_PROGRESS") {
            StackProgress::InProgress
        } else if status.ends_with("_COMPLETE") {
            StackProgress::Complete
        } else {
            StackProgress::Failed
        }
    }
}

#[cfg(test)]
mod tests {
    use super::StackProgress::*;
    use super::*;

    #[test]
    fn a_no_op_update_on_a_rolled_back_stack_is_complete() {
        assert_eq!(
            StackProgress::after_update("UPDATE_ROLLBACK_COMPLETE", false),
            Complete
        );
        assert_eq!(
            StackProgress::after_update("UPDATE_ROLLBACK_COMPLETE", true),
            Failed
        );
        assert_eq!(
            StackProgress::after_update("UPDATE_ROLLBACK_FAILED", false),
            Failed
        );
        assert_eq!(
            StackProgress::after_update("UPDATE_COMPLETE", false),
            Complete
        );
        assert_eq!(
            StackProgress::after_update("UPDATE_IN_PROGRESS", true),
            InProgress
        );
    }

    #[test]
    fn every_cloudformation_status_is_classified() {
        for (status, expected) in [
            ("CREATE_IN_PROGRESS", InProgress),
            ("CREATE_COMPLETE", Complete),
            ("CREATE_FAILED", Failed),
            ("ROLLBACK_IN_PROGRESS", Failed),
            ("ROLLBACK_COMPLETE", Failed),
            ("ROLLBACK_FAILED", Failed),
            ("UPDATE_IN_PROGRESS", InProgress),
            ("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", InProgress),
            ("UPDATE_COMPLETE", Complete),
            ("UPDATE_FAILED", Failed),
            ("UPDATE_ROLLBACK_IN_PROGRESS", Failed),
            ("UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS", Failed),
            ("UPDATE_ROLLBACK_COMPLETE", Failed),
            ("UPDATE_ROLLBACK_FAILED", Failed),
            ("DELETE_IN_PROGRESS", Failed),
            ("DELETE_COMPLETE", Failed),
            ("IMPORT_COMPLETE", Complete),
            ("REVIEW_IN_PROGRESS", InProgress),
            ("SOMETHING_NEW", Failed),
        ] {
            assert_eq!(StackProgress::of(status), expected, "{status}");
        }
    }
}
