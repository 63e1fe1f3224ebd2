//! What a release changes, relative to what is stable now.
//!
//! The candidate's task definition is always the stable task set's live task
//! definition with only the requested image and environment applied to one
//! container — never whatever a template last held (that may be a release
//! that was rolled back). The change is also what approvers are shown: image
//! before → after, and each variable added or changed.

use serde::{Deserialize, Serialize};

use crate::{SecretNames, TemplateError, HIDDEN_VALUE};

/// What the candidate gets: a new image and/or environment for one container.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CandidateRelease {
    pub image: Option<String>,
    pub environment: Vec<(String, String)>,
    /// The container to change; `None` means the task definition's only one.
    pub container: Option<String>,
}

/// A container of a live task definition, as far as a release touches it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerSpec {
    pub name: String,
    pub image: String,
    /// In the task definition's order.
    pub environment: Vec<(String, String)>,
}

/// One environment variable a release sets: `before` is `None` when it is new.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VariableChange {
    pub name: String,
    pub before: Option<String>,
    pub after: String,
}

/// The container a release changes, and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReleaseChange {
    pub container: String,
    pub image_before: String,
    pub image_after: String,
    /// The tag the new image was pushed as, when it is pinned by digest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_tag: Option<String>,
    /// The container's whole environment after the release, in order:
    /// existing variables keep their place, new ones are appended.
    pub environment_after: Vec<(String, String)>,
    /// Only the variables whose value differs from stable.
    pub variables: Vec<VariableChange>,
}

impl ReleaseChange {
    /// Applies `release` to the stable task definition's containers.
    pub fn plan(
        stable: &[ContainerSpec],
        release: &CandidateRelease,
        image_tag: Option<&str>,
    ) -> Result<ReleaseChange, TemplateError> {
        let container = match &release.container {
            Some(wanted) => stable
                .iter()
                .find(|c| &c.name == wanted)
                .ok_or_else(|| TemplateError::ContainerNotFound(wanted.clone()))?,
            None => match stable {
                [only] => only,
                [] => return Err(TemplateError::ContainerNotFound(String::new())),
                several => {
                    return Err(TemplateError::AmbiguousContainer(
                        several.iter().map(|c| c.name.clone()).collect(),
                    ))
                }
            },
        };
        let mut environment_after = container.environment.clone();
        let mut variables = Vec::new();
        for (name, value) in &release.environment {
            match environment_after.iter_mut().find(|(n, _)| n == name) {
                Some((_, existing)) if existing == value => {}
                Some((_, existing)) => {
                    variables.push(VariableChange {
                        name: name.clone(),
                        before: Some(existing.clone()),
                        after: value.clone(),
                    });
                    *existing = value.clone();
                }
                None => {
                    variables.push(VariableChange {
                        name: name.clone(),
                        before: None,
                        after: value.clone(),
                    });
                    environment_after.push((name.clone(), value.clone()));
                }
            }
        }
        Ok(ReleaseChange {
            container: container.name.clone(),
            image_before: container.image.clone(),
            image_after: release
                .image
                .clone()
                .unwrap_or_else(|| container.image.clone()),
            image_tag: image_tag
                .filter(|_| release.image.is_some())
                .map(str::to_string),
            environment_after,
            variables,
        })
    }

    /// The same change with every secret value hidden (see
    /// [`SecretNames`]): what the state machine carries and people see. The
    /// task definition gets the values from the live one and the input.
    pub fn redacted(&self, secrets: &SecretNames) -> ReleaseChange {
        ReleaseChange {
            environment_after: secrets.hide_pairs(&self.environment_after),
            variables: self
                .variables
                .iter()
                .map(|v| VariableChange {
                    name: v.name.clone(),
                    before: v
                        .before
                        .as_deref()
                        .map(|b| secrets.shown(&v.name, b).to_string()),
                    after: secrets.shown(&v.name, &v.after).to_string(),
                })
                .collect(),
            ..self.clone()
        }
    }

    /// The difference from stable, one line per change, for people.
    pub fn lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if self.image_before != self.image_after {
            let tag = self
                .image_tag
                .as_ref()
                .map(|t| format!(" (tag {t})"))
                .unwrap_or_default();
            lines.push(format!(
                "{}: image {} → {}{tag}",
                self.container, self.image_before, self.image_after
            ));
        }
        for v in &self.variables {
            lines.push(match (&v.before, v.after == HIDDEN_VALUE) {
                (Some(_), true) => format!("{}: {} changed {HIDDEN_VALUE}", self.container, v.name),
                (None, true) => format!("{}: {} added {HIDDEN_VALUE}", self.container, v.name),
                (Some(before), false) => {
                    format!("{}: {} {before} → {}", self.container, v.name, v.after)
                }
                (None, false) => format!("{}: {} added = {}", self.container, v.name, v.after),
            });
        }
        if lines.is_empty() {
            lines.push(format!(
                "{}: no change from stable (same image {} and variables)",
                self.container, self.image_before
            ));
        }
        lines
    }

    /// [`ReleaseChange::lines`] on one line.
    pub fn summary(&self) -> String {
        self.lines().join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorName;
    use proptest::prelude::*;

    fn stable() -> Vec<ContainerSpec> {
        vec![
            ContainerSpec {
                name: "app".into(),
                image: "repo/app:2.0.0".into(),
                environment: vec![
                    ("APPVERSION".into(), "2.0.0".into()),
                    ("MODE".into(), "live".into()),
                ],
            },
            ContainerSpec {
                name: "sidecar".into(),
                image: "envoy:1".into(),
                environment: vec![],
            },
        ]
    }

    fn release(image: Option<&str>, environment: &[(&str, &str)]) -> CandidateRelease {
        CandidateRelease {
            image: image.map(str::to_string),
            environment: environment
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            container: Some("app".into()),
        }
    }

    #[test]
    fn an_environment_only_release_keeps_the_stable_image() {
        let change =
            ReleaseChange::plan(&stable(), &release(None, &[("FEATURE_Y", "1")]), None).unwrap();
        assert_eq!(change.image_after, "repo/app:2.0.0");
        assert_eq!(
            change.environment_after,
            vec![
                ("APPVERSION".into(), "2.0.0".into()),
                ("MODE".into(), "live".into()),
                ("FEATURE_Y".into(), "1".into())
            ]
        );
        assert_eq!(change.lines(), vec!["app: FEATURE_Y added = 1"]);
    }

    #[test]
    fn secret_values_are_hidden_in_what_people_see_but_not_in_the_plan() {
        let mut containers = stable();
        containers[0]
            .environment
            .push(("DB_PASSWORD".into(), "old-hunter2".into()));
        let change = ReleaseChange::plan(
            &containers,
            &release(
                None,
                &[
                    ("DB_PASSWORD", "new-hunter2"),
                    ("API_TOKEN", "tok-123"),
                    ("MODE", "dark"),
                ],
            ),
            None,
        )
        .unwrap();
        assert!(change
            .environment_after
            .contains(&("DB_PASSWORD".into(), "new-hunter2".into())));
        let shown = change.redacted(&SecretNames::default());
        let text = format!("{shown:?} {}", shown.summary());
        for secret in ["old-hunter2", "new-hunter2", "tok-123"] {
            assert!(!text.contains(secret), "{text}");
        }
        assert_eq!(
            shown.lines(),
            vec![
                "app: DB_PASSWORD changed (value hidden)",
                "app: API_TOKEN added (value hidden)",
                "app: MODE live → dark",
            ]
        );
        assert!(shown
            .environment_after
            .contains(&("APPVERSION".into(), "2.0.0".into())));
    }

    #[test]
    fn an_image_only_release_keeps_the_stable_variables() {
        let change = ReleaseChange::plan(
            &stable(),
            &release(Some("repo/app@sha256:ab"), &[]),
            Some("2.1.0"),
        )
        .unwrap();
        assert_eq!(change.environment_after, stable()[0].environment);
        assert_eq!(
            change.summary(),
            "app: image repo/app:2.0.0 → repo/app@sha256:ab (tag 2.1.0)"
        );
    }

    #[test]
    fn changed_variables_show_before_and_after() {
        let change = ReleaseChange::plan(
            &stable(),
            &release(
                Some("repo/app:2.2.0"),
                &[("APPVERSION", "2.2.0"), ("MODE", "live")],
            ),
            None,
        )
        .unwrap();
        assert_eq!(
            change.lines(),
            vec![
                "app: image repo/app:2.0.0 → repo/app:2.2.0",
                "app: APPVERSION 2.0.0 → 2.2.0"
            ]
        );
        let same =
            ReleaseChange::plan(&stable(), &release(None, &[("MODE", "live")]), None).unwrap();
        assert!(
            same.summary().contains("no change from stable"),
            "{}",
            same.summary()
        );
    }

    #[test]
    fn the_container_must_be_named_when_there_are_several() {
        let unnamed = CandidateRelease {
            container: None,
            ..release(None, &[("A", "1")])
        };
        let err = ReleaseChange::plan(&stable(), &unnamed, None).unwrap_err();
        assert_eq!(err.error_type(), "AmbiguousContainer");
        let missing = CandidateRelease {
            container: Some("nope".into()),
            ..release(None, &[("A", "1")])
        };
        assert_eq!(
            ReleaseChange::plan(&stable(), &missing, None).unwrap_err(),
            TemplateError::ContainerNotFound("nope".into())
        );
        assert_eq!(
            ReleaseChange::plan(&[], &unnamed, None)
                .unwrap_err()
                .error_type(),
            "ContainerNotFound"
        );
        let only = vec![stable()[0].clone()];
        assert_eq!(
            ReleaseChange::plan(&only, &unnamed, None)
                .unwrap()
                .container,
            "app"
        );
    }

    proptest! {
        /// Whatever the release: every stable variable survives unless the
        /// release sets it, every requested variable is set, and the image
        /// is the requested one or stable's.
        #[test]
        fn a_release_changes_only_what_it_names(
            set in proptest::collection::btree_map("[A-Z]{1,3}", "[a-z0-9]{0,3}", 0..5),
            image in proptest::option::of("[a-z]{1,5}:[0-9]"),
        ) {
            let request = CandidateRelease {
                image: image.clone(),
                environment: set.clone().into_iter().collect(),
                container: Some("app".into()),
            };
            let change = ReleaseChange::plan(&stable(), &request, None).unwrap();
            for (name, value) in &stable()[0].environment {
                let expected = set.get(name).unwrap_or(value);
                prop_assert!(change.environment_after.contains(&(name.clone(), expected.clone())));
            }
            for (name, value) in &set {
                prop_assert!(change.environment_after.contains(&(name.clone(), value.clone())));
            }
            prop_assert_eq!(change.image_after, image.unwrap_or_else(|| "repo/app:2.0.0".into()));
            prop_assert_eq!(change.variables.len(), set.iter().filter(|(n, v)| {
                stable()[0].environment.iter().find(|(k, _)| k == *n).map(|(_, x)| x) != Some(*v)
            }).count());
        }
    }
}
