use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::Error;

/// How much of the service is running: the full path, a cheaper heuristic path, or the
/// safe minimum.
///
/// Modes are ordered by degradation: `Primary < Heuristic < Safe`. They print, parse and
/// serialize as `"primary"`, `"heuristic"` and `"safe"`; parsing ignores case.
///
/// ```
/// use fallback::FallbackMode;
///
/// let mode: FallbackMode = "SAFE".parse()?;
/// assert_eq!(mode, FallbackMode::Safe);
/// assert_eq!(mode.as_str(), "safe");
/// assert!(FallbackMode::Primary < FallbackMode::Heuristic);
/// assert_eq!(serde_json::to_value(FallbackMode::Heuristic)?, "heuristic");
/// assert!("degraded".parse::<FallbackMode>().is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum FallbackMode {
    /// Everything works: the full path (e.g. the ML anomaly detector).
    #[default]
    Primary,
    /// A dependency is shaky: a cheaper, rule-based path.
    Heuristic,
    /// Several things failed: the safe minimum.
    Safe,
}

impl FallbackMode {
    /// Every mode, healthiest first.
    pub const ALL: [Self; 3] = [Self::Primary, Self::Heuristic, Self::Safe];

    /// `"primary"`, `"heuristic"` or `"safe"`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Primary => "primary",
            Self::Heuristic => "heuristic",
            Self::Safe => "safe",
        }
    }

    /// The mode's level, as the mode gauge reports it: 0, 1 or 2.
    #[must_use]
    pub const fn level(self) -> u8 {
        self as u8
    }

    /// The mode of a [`level`](Self::level); levels above 2 are [`FallbackMode::Safe`].
    #[must_use]
    pub const fn from_level(level: u8) -> Self {
        match level {
            0 => Self::Primary,
            1 => Self::Heuristic,
            _ => Self::Safe,
        }
    }

    /// Whether this is anything but [`FallbackMode::Primary`].
    #[must_use]
    pub const fn is_degraded(self) -> bool {
        !matches!(self, Self::Primary)
    }

    /// The next healthier mode (one step towards PRIMARY); PRIMARY stays PRIMARY.
    #[must_use]
    pub const fn healthier(self) -> Self {
        match self {
            Self::Primary | Self::Heuristic => Self::Primary,
            Self::Safe => Self::Heuristic,
        }
    }
}

impl fmt::Display for FallbackMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for FallbackMode {
    type Err = Error;

    /// Parses a mode name, ignoring ASCII case.
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|mode| mode.as_str().eq_ignore_ascii_case(name))
            .ok_or_else(|| Error::InvalidMode {
                name: name.to_owned(),
            })
    }
}

impl Serialize for FallbackMode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for FallbackMode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_case_and_refuses_other_names() {
        fn check(name: &str, expected: Option<FallbackMode>) {
            assert_eq!(name.parse::<FallbackMode>().ok(), expected, "{name:?}");
        }
        check("primary", Some(FallbackMode::Primary));
        check("Primary", Some(FallbackMode::Primary));
        check("HEURISTIC", Some(FallbackMode::Heuristic));
        check("sAfE", Some(FallbackMode::Safe));
        check("", None);
        check("safe ", None);
        check("degraded", None);
        check("FallbackMode.SAFE", None);
        assert_eq!(
            "nope".parse::<FallbackMode>().unwrap_err().to_string(),
            "\"nope\" is not a fallback mode: expected primary, heuristic or safe"
        );
    }

    #[test]
    fn round_trips_through_strings_levels_and_json() {
        for mode in FallbackMode::ALL {
            assert_eq!(mode.to_string().parse::<FallbackMode>().unwrap(), mode);
            assert_eq!(FallbackMode::from_level(mode.level()), mode);
            let json = serde_json::to_value(mode).unwrap();
            assert_eq!(json, mode.as_str());
            assert_eq!(serde_json::from_value::<FallbackMode>(json).unwrap(), mode);
        }
        assert_eq!(
            serde_json::from_value::<FallbackMode>(serde_json::json!("SAFE")).unwrap(),
            FallbackMode::Safe
        );
        assert!(serde_json::from_value::<FallbackMode>(serde_json::json!(1)).is_err());
        assert_eq!(
            [0, 1, 2].map(|level| FallbackMode::from_level(level).as_str()),
            ["primary", "heuristic", "safe"]
        );
    }

    #[test]
    fn healthier_steps_one_mode_towards_primary() {
        assert_eq!(FallbackMode::Safe.healthier(), FallbackMode::Heuristic);
        assert_eq!(FallbackMode::Heuristic.healthier(), FallbackMode::Primary);
        assert_eq!(FallbackMode::Primary.healthier(), FallbackMode::Primary);
        assert!(!FallbackMode::Primary.is_degraded());
        assert!(FallbackMode::Heuristic.is_degraded() && FallbackMode::Safe.is_degraded());
    }
}
