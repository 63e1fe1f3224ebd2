//! Variables whose values are not shown.
//!
//! A release's environment travels far beyond the task definition: into every
//! state's output, the approval messages and page, the command line's
//! answers and the history. A variable whose name looks secret (it contains
//! `SECRET`, `TOKEN`, `PASSWORD`, `KEY` or `CREDENTIAL`, whatever the case;
//! the list is the stack's to change) keeps its value in the task definition
//! only: everywhere else it is "changed (value hidden)".

use std::collections::BTreeMap;

/// What a hidden value is replaced with.
pub const HIDDEN_VALUE: &str = "(value hidden)";

/// The name fragments that mark a variable secret by default.
pub const DEFAULT_SECRET_NAMES: [&str; 5] = ["SECRET", "TOKEN", "PASSWORD", "KEY", "CREDENTIAL"];

/// The fragments (compared without regard to case) that make a variable's
/// value secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretNames {
    fragments: Vec<String>,
}

impl Default for SecretNames {
    fn default() -> Self {
        SecretNames::new(DEFAULT_SECRET_NAMES)
    }
}

impl SecretNames {
    pub fn new<S: AsRef<str>>(fragments: impl IntoIterator<Item = S>) -> SecretNames {
        SecretNames {
            fragments: fragments
                .into_iter()
                .map(|f| f.as_ref().trim().to_ascii_uppercase())
                .filter(|f| !f.is_empty())
                .collect(),
        }
    }

    /// A comma-separated list (`SECRET,TOKEN,…`); an empty one hides nothing.
    pub fn parse(text: &str) -> SecretNames {
        SecretNames::new(text.split(','))
    }

    /// Whether the value of variable `name` is hidden.
    pub fn covers(&self, name: &str) -> bool {
        let name = name.to_ascii_uppercase();
        self.fragments.iter().any(|f| name.contains(f.as_str()))
    }

    /// `value`, or [`HIDDEN_VALUE`] when `name` is secret.
    pub fn shown<'a>(&self, name: &str, value: &'a str) -> &'a str {
        if self.covers(name) {
            HIDDEN_VALUE
        } else {
            value
        }
    }

    /// An environment with every secret value hidden.
    pub fn hide(&self, environment: &BTreeMap<String, String>) -> BTreeMap<String, String> {
        environment
            .iter()
            .map(|(name, value)| (name.clone(), self.shown(name, value).to_string()))
            .collect()
    }

    /// The same, for an environment in a task definition's order.
    pub fn hide_pairs(&self, environment: &[(String, String)]) -> Vec<(String, String)> {
        environment
            .iter()
            .map(|(name, value)| (name.clone(), self.shown(name, value).to_string()))
            .collect()
    }
}

impl SecretNames {
    /// An execution input (as given, valid or not) with the secret values of
    /// its `environment` hidden, for what is recorded of a refused one.
    pub fn hide_in_input(&self, input: &serde_json::Value) -> serde_json::Value {
        let mut input = input.clone();
        if let Some(environment) = input
            .get_mut("environment")
            .and_then(serde_json::Value::as_object_mut)
        {
            for (name, value) in environment.iter_mut() {
                if self.covers(name) {
                    *value = serde_json::Value::String(HIDDEN_VALUE.into());
                }
            }
        }
        input
    }
}

/// Whether an environment holds a hidden value (it cannot be deployed as it is).
pub fn hides_values(environment: &BTreeMap<String, String>) -> bool {
    environment.values().any(|v| v == HIDDEN_VALUE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn names_that_look_secret_are_hidden_whatever_their_case() {
        let names = SecretNames::default();
        for secret in [
            "DB_PASSWORD",
            "api_key",
            "GITHUB_TOKEN",
            "ClientSecret",
            "AWS_CREDENTIALS_FILE",
            "STRIPE_KEY_ID",
        ] {
            assert!(names.covers(secret), "{secret}");
        }
        for plain in ["APPVERSION", "MODE", "LOG_LEVEL", "PORT"] {
            assert!(!names.covers(plain), "{plain}");
        }
        let custom = SecretNames::parse(" pin , dsn,");
        assert!(custom.covers("SENTRY_DSN") && custom.covers("card_pin"));
        assert!(
            !custom.covers("DB_PASSWORD"),
            "the list replaces the default"
        );
        assert!(!SecretNames::parse("").covers("DB_PASSWORD"));
    }

    #[test]
    fn hiding_keeps_the_names_and_the_plain_values() {
        let names = SecretNames::default();
        let environment = BTreeMap::from([
            ("APPVERSION".to_string(), "1.0.1".to_string()),
            ("DB_PASSWORD".to_string(), "hunter2".to_string()),
        ]);
        let hidden = names.hide(&environment);
        assert_eq!(hidden["APPVERSION"], "1.0.1");
        assert_eq!(hidden["DB_PASSWORD"], HIDDEN_VALUE);
        assert!(hides_values(&hidden) && !hides_values(&environment));
    }

    #[test]
    fn a_recorded_input_keeps_no_secret_value() {
        let input =
            serde_json::json!({"service": "s", "environment": {"DB_PASSWORD": 7, "MODE": "x"}});
        let hidden = SecretNames::default().hide_in_input(&input);
        assert_eq!(hidden["environment"]["DB_PASSWORD"], HIDDEN_VALUE);
        assert_eq!(hidden["environment"]["MODE"], "x");
        assert_eq!(hidden["service"], "s");
        let odd = serde_json::json!(["not", "an", "object"]);
        assert_eq!(SecretNames::default().hide_in_input(&odd), odd);
    }

    proptest! {
        /// Whatever the values, no secret one survives hiding.
        #[test]
        fn no_secret_value_survives(
            pairs in proptest::collection::vec(("[A-Z_]{1,12}", "[ -~]{0,16}"), 0..8),
        ) {
            let names = SecretNames::default();
            let environment: BTreeMap<String, String> = pairs.into_iter().collect();
            let hidden = names.hide(&environment);
            for (name, value) in &environment {
                if names.covers(name) {
                    prop_assert_eq!(&hidden[name], HIDDEN_VALUE);
                } else {
                    prop_assert_eq!(&hidden[name], value);
                }
            }
        }
    }
}
