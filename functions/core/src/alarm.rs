//! CloudWatch alarms that guard a rollout: traffic moves towards the
//! candidate only while every one of them is quiet.

use serde_json::Value;
use thiserror::Error;

use crate::{ErrorKind, ErrorName};

/// An alarm's state, as CloudWatch reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlarmState {
    Ok,
    Alarm,
    InsufficientData,
}

impl AlarmState {
    pub fn parse(state: &str) -> Option<AlarmState> {
        match state {
            "OK" => Some(AlarmState::Ok),
            "ALARM" => Some(AlarmState::Alarm),
            "INSUFFICIENT_DATA" => Some(AlarmState::InsufficientData),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AlarmState::Ok => "OK",
            AlarmState::Alarm => "ALARM",
            AlarmState::InsufficientData => "INSUFFICIENT_DATA",
        }
    }
}

/// An alarm as read: its name, state and CloudWatch's reason for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlarmReading {
    pub name: String,
    pub state: AlarmState,
    pub reason: String,
}

/// Why the alarms stop a rollout. Nothing moves towards the candidate when
/// one is returned.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AlarmError {
    #[error("no CloudWatch alarm is named {}: check `alarms` in the execution input", .0.join(", "))]
    AlarmNotFound(Vec<String>),
    #[error("the alarm {alarm} is in ALARM ({reason}): traffic goes back to the stable colour")]
    AlarmTriggered { alarm: String, reason: String },
}

impl ErrorName for AlarmError {
    fn error_kind(&self) -> ErrorKind {
        match self {
            AlarmError::AlarmNotFound(_) => ErrorKind::AlarmNotFound,
            AlarmError::AlarmTriggered { .. } => ErrorKind::AlarmTriggered,
        }
    }
}

/// Checks what was read against the alarms the rollout names: every one must
/// exist, and none may be in `ALARM` (`OK` and `INSUFFICIENT_DATA` let traffic
/// move on — an alarm without data has seen nothing wrong).
pub fn check_alarms(wanted: &[String], readings: &[AlarmReading]) -> Result<(), AlarmError> {
    let missing: Vec<String> = wanted
        .iter()
        .filter(|name| !readings.iter().any(|r| &r.name == *name))
        .cloned()
        .collect();
    if !missing.is_empty() {
        return Err(AlarmError::AlarmNotFound(missing));
    }
    match wanted
        .iter()
        .filter_map(|name| readings.iter().find(|r| &r.name == name))
        .find(|r| r.state == AlarmState::Alarm)
    {
        Some(firing) => Err(AlarmError::AlarmTriggered {
            alarm: firing.name.clone(),
            reason: firing.reason.clone(),
        }),
        None => Ok(()),
    }
}

/// The part of EventBridge's "CloudWatch Alarm State Change" (its `detail`)
/// that decides whether deployments must stop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlarmChange {
    pub alarm: String,
    /// The state entered; `None` for a state this version does not know.
    pub state: Option<AlarmState>,
    pub previous: Option<AlarmState>,
    /// CloudWatch's reason for the new state.
    pub reason: String,
}

impl AlarmChange {
    /// From the event's `detail`; `None` when it is not an alarm's change.
    pub fn from_detail(detail: &Value) -> Option<AlarmChange> {
        let text = |pointer: &str| detail.pointer(pointer).and_then(Value::as_str);
        Some(AlarmChange {
            alarm: text("/alarmName").filter(|n| !n.is_empty())?.to_string(),
            state: text("/state/value").and_then(AlarmState::parse),
            previous: text("/previousState/value").and_then(AlarmState::parse),
            reason: text("/state/reason").unwrap_or_default().to_string(),
        })
    }

    /// The alarm has just entered `ALARM`: every deployment it guards stops.
    pub fn fired(&self) -> bool {
        self.state == Some(AlarmState::Alarm) && self.previous != Some(AlarmState::Alarm)
    }

    /// The error the deployments it stops end with.
    pub fn error(&self) -> AlarmError {
        AlarmError::AlarmTriggered {
            alarm: self.alarm.clone(),
            reason: self.reason.clone(),
        }
    }
}

/// How an alarm that fired stops one deployment it guards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlarmAbort {
    /// A person is being asked: traffic goes to stable at once, the links are
    /// void, and the waiting step fails `AlarmTriggered` (the state machine's
    /// own rollback then finishes, finding the traffic already there).
    FailWaitingStep,
    /// Between gates (deploying, waiting for the candidate, moving traffic):
    /// the execution is stopped with `AlarmTriggered`, and the reconciler
    /// puts the service back at rest and tells the approval channels.
    StopExecution,
    /// An alarm already failed its waiting step and its own rollback is
    /// running (a second alarm, or the same event delivered again): stopping
    /// it now would only interrupt that rollback.
    AlreadyRollingBack,
}

impl AlarmAbort {
    /// `rolling_back`: an alarm has already failed the deployment's waiting
    /// step; `waiting`: it has an approval waiting for a decision, stored
    /// with the deployment as it was when it asked.
    pub fn decide(rolling_back: bool, waiting: bool) -> AlarmAbort {
        match (waiting, rolling_back) {
            (true, _) => AlarmAbort::FailWaitingStep,
            (false, true) => AlarmAbort::AlreadyRollingBack,
            (false, false) => AlarmAbort::StopExecution,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AlarmAbort::FailWaitingStep => "failWaitingStep",
            AlarmAbort::StopExecution => "stopExecution",
            AlarmAbort::AlreadyRollingBack => "alreadyRollingBack",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn an_alarm_fires_when_it_enters_alarm_and_names_itself() {
        let detail = json!({
            "alarmName": "checkout-5xx",
            "state": {"value": "ALARM", "reason": "Threshold Crossed: 1 datapoint [12.0] > 5.0"},
            "previousState": {"value": "OK"}
        });
        let change = AlarmChange::from_detail(&detail).unwrap();
        assert!(change.fired());
        let error = change.error();
        assert_eq!(error.error_type(), "AlarmTriggered");
        assert!(error
            .to_string()
            .contains("checkout-5xx is in ALARM (Threshold Crossed"));
        for (state, previous) in [
            ("OK", "ALARM"),
            ("ALARM", "ALARM"),
            ("INSUFFICIENT_DATA", "OK"),
            ("SOMETHING", "OK"),
        ] {
            let detail = json!({"alarmName": "a", "state": {"value": state}, "previousState": {"value": previous}});
            assert!(
                !AlarmChange::from_detail(&detail).unwrap().fired(),
                "{state} after {previous}"
            );
        }
        let first = json!({"alarmName": "a", "state": {"value": "ALARM"}});
        assert!(AlarmChange::from_detail(&first).unwrap().fired());
        assert_eq!(
            AlarmChange::from_detail(&json!({"state": {"value": "ALARM"}})),
            None
        );
        assert_eq!(AlarmChange::from_detail(&json!("ALARM")), None);
    }

    #[test]
    fn a_waiting_deployment_fails_its_step_a_rolling_back_one_is_left_any_other_is_stopped() {
        assert_eq!(AlarmAbort::decide(false, true), AlarmAbort::FailWaitingStep);
        // A step failed but not yet marked is failed again (it says "not waiting").
        assert_eq!(AlarmAbort::decide(true, true), AlarmAbort::FailWaitingStep);
        assert_eq!(
            AlarmAbort::decide(true, false),
            AlarmAbort::AlreadyRollingBack
        );
        assert_eq!(AlarmAbort::decide(false, false), AlarmAbort::StopExecution);
    }

    fn reading(name: &str, state: AlarmState) -> AlarmReading {
        AlarmReading {
            name: name.into(),
            state,
            reason: format!("{name} is {}", state.as_str()),
        }
    }

    #[test]
    fn a_missing_alarm_is_named_before_a_firing_one() {
        let wanted = vec!["a".to_string(), "b".to_string(), "c".to_string()];
        let read = [
            reading("a", AlarmState::Alarm),
            reading("b", AlarmState::Ok),
        ];
        let error = check_alarms(&wanted, &read).unwrap_err();
        assert_eq!(error, AlarmError::AlarmNotFound(vec!["c".into()]));
        assert_eq!(error.error_type(), "AlarmNotFound");
        let read = [
            reading("a", AlarmState::Ok),
            reading("b", AlarmState::InsufficientData),
            reading("c", AlarmState::Alarm),
        ];
        let error = check_alarms(&wanted, &read).unwrap_err();
        assert_eq!(error.error_type(), "AlarmTriggered");
        assert!(
            error
                .to_string()
                .contains("the alarm c is in ALARM (c is ALARM)"),
            "{error}"
        );
        assert_eq!(check_alarms(&[], &[]), Ok(()));
    }

    proptest! {
        /// Traffic moves on exactly when every named alarm exists and none fires.
        #[test]
        fn moves_on_only_when_every_alarm_is_quiet(states in proptest::collection::vec(0u8..4, 0..6)) {
            let wanted: Vec<String> = (0..states.len()).map(|i| format!("alarm-{i}")).collect();
            let read: Vec<AlarmReading> = states.iter().enumerate().filter_map(|(i, s)| {
                let state = match s { 0 => AlarmState::Ok, 1 => AlarmState::InsufficientData, 2 => AlarmState::Alarm, _ => return None };
                Some(reading(&format!("alarm-{i}"), state))
            }).collect();
            let quiet = states.iter().all(|s| *s < 2);
            prop_assert_eq!(check_alarms(&wanted, &read).is_ok(), quiet);
        }
    }
}
