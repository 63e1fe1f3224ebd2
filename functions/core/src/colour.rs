//! The two colours, and which is stable (the `StableStack` tag; none: Blue).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::{ErrorKind, ErrorName};

/// The service tag that names the last stable colour.
pub const STABLE_STACK_TAG: &str = "StableStack";

/// One of the two task sets of a blue/green service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Colour {
    Blue,
    Green,
}

impl Colour {
    pub const ALL: [Colour; 2] = [Colour::Blue, Colour::Green];

    /// The other colour.
    pub fn other(self) -> Colour {
        match self {
            Colour::Blue => Colour::Green,
            Colour::Green => Colour::Blue,
        }
    }

    /// The name as written in the `StableStack` tag and in output names.
    pub fn as_str(self) -> &'static str {
        match self {
            Colour::Blue => "Blue",
            Colour::Green => "Green",
        }
    }

    /// The colour named somewhere inside `text` (an ExternalId such as
    /// `OctopusBlueStack`, a logical id such as `GreenTaskSet`), if exactly
    /// one colour is named.
    pub fn named_in(text: &str) -> Option<Colour> {
        let lower = text.to_ascii_lowercase();
        match (lower.contains("blue"), lower.contains("green")) {
            (true, false) => Some(Colour::Blue),
            (false, true) => Some(Colour::Green),
            _ => None,
        }
    }
}

impl fmt::Display for Colour {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A tag value that is neither `Blue` nor `Green`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("the {STABLE_STACK_TAG} tag says {0:?}; it must be Blue or Green")]
pub struct ColourError(pub String);

impl ErrorName for ColourError {
    fn error_kind(&self) -> ErrorKind {
        ErrorKind::InvalidStableStackTag
    }
}

impl FromStr for Colour {
    type Err = ColourError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "blue" => Ok(Colour::Blue),
            "green" => Ok(Colour::Green),
            _ => Err(ColourError(s.to_string())),
        }
    }
}

/// Which colour is stable and which is the candidate of a deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Colours {
    pub stable: Colour,
    pub candidate: Colour,
}

impl Colours {
    pub fn with_stable(stable: Colour) -> Colours {
        Colours {
            stable,
            candidate: stable.other(),
        }
    }

    /// From the service's `StableStack` tag: no tag means Blue is stable
    /// (a first deployment); a tag naming no colour is an error.
    pub fn from_tag(tag: Option<&str>) -> Result<Colours, ColourError> {
        let stable = match tag {
            None => Colour::Blue,
            Some(value) => value.parse()?,
        };
        Ok(Colours::with_stable(stable))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_tag_means_blue_is_stable() {
        let colours = Colours::from_tag(None).unwrap();
        assert_eq!(colours.stable, Colour::Blue);
        assert_eq!(colours.candidate, Colour::Green);
    }

    #[test]
    fn tag_names_the_stable_colour_and_the_candidate_is_the_other() {
        let colours = Colours::from_tag(Some("Green")).unwrap();
        assert_eq!(
            colours,
            Colours {
                stable: Colour::Green,
                candidate: Colour::Blue
            }
        );
        assert_eq!(
            Colours::from_tag(Some(" blue ")).unwrap().stable,
            Colour::Blue
        );
    }

    #[test]
    fn tag_naming_no_colour_is_rejected_by_name() {
        let err = Colours::from_tag(Some("Purple")).unwrap_err();
        assert_eq!(err.error_type(), "InvalidStableStackTag");
        assert!(err.to_string().contains("Purple"));
        assert!(Colours::from_tag(Some("")).is_err());
    }

    #[test]
    fn colour_is_found_in_external_ids_and_logical_ids() {
        assert_eq!(Colour::named_in("OctopusBlueStack"), Some(Colour::Blue));
        assert_eq!(Colour::named_in("GreenTaskSet"), Some(Colour::Green));
        assert_eq!(Colour::named_in("BlueGreen"), None);
        assert_eq!(Colour::named_in("Primary"), None);
    }
}
