//! CloudWatch alarms that guard a rollout: traffic moves towards the
//! candidate only while every one of them is quiet.

use thiserror::Error;

use crate::ErrorName;

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
    fn error_type(&self) -> &'static str {
        match self {
            AlarmError::AlarmNotFound(_) => "AlarmNotFound",
            AlarmError::AlarmTriggered { .. } => "AlarmTriggered",
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

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
