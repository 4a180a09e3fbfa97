use std::fmt;

use async_trait::async_trait;
use condition::{Condition, ConditionParser};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::{BoxError, Error, Result};

/// A verdict on one piece of data: `{"anomaly": bool, "confidence": 0.0..=1.0, "mode":
/// "...", ...}`, the original's dictionary, with detector-specific fields in `details`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Detection {
    /// Whether the data is anomalous.
    pub anomaly: bool,
    /// How sure the detector is, from 0.0 to 1.0.
    pub confidence: f64,
    /// Which path answered: the detector's own label (e.g. `"heuristic"`), or one of the
    /// manager's: [`Detection::SAFE`], [`Detection::PRIMARY_UNAVAILABLE`],
    /// [`Detection::HEURISTIC_UNAVAILABLE`], [`Detection::ERROR`].
    pub mode: String,
    /// What went wrong, when `mode` is [`Detection::ERROR`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Anything else the detector reports, flattened into the JSON object.
    #[serde(flatten)]
    pub details: Map<String, Value>,
}

impl Detection {
    /// The mode of the answer in SAFE mode, where no detector is asked.
    pub const SAFE: &'static str = "safe";
    /// The mode of the answer in PRIMARY mode without an anomaly detector.
    pub const PRIMARY_UNAVAILABLE: &'static str = "primary_unavailable";
    /// The mode of the answer in HEURISTIC mode without a heuristic detector.
    pub const HEURISTIC_UNAVAILABLE: &'static str = "heuristic_unavailable";
    /// The mode of the answer when the detector failed or panicked.
    pub const ERROR: &'static str = "error";

    /// A verdict with no details.
    #[must_use]
    pub fn new(anomaly: bool, confidence: f64, mode: impl Into<String>) -> Self {
        Self {
            anomaly,
            confidence,
            mode: mode.into(),
            error: None,
            details: Map::new(),
        }
    }

    /// "No anomaly, confidence 0.0" from `mode`: what the manager answers when it cannot
    /// or must not ask a detector.
    #[must_use]
    pub fn none(mode: impl Into<String>) -> Self {
        Self::new(false, 0.0, mode)
    }

    /// The answer for a detector that failed with `error`.
    #[must_use]
    pub fn error(error: impl Into<String>) -> Self {
        Self {
            error: Some(error.into()),
            ..Self::none(Self::ERROR)
        }
    }

    /// Adds a detail.
    #[must_use]
    pub fn with_detail(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.details.insert(key.into(), value.into());
        self
    }
}

/// Something that judges data: the ML model of PRIMARY mode, the rules of HEURISTIC mode.
///
/// An error is reported by the manager as a [`Detection`] with mode `"error"`; so is a
/// panic.
#[async_trait]
pub trait AnomalyDetector: Send + Sync + fmt::Debug {
    /// Judges `data`.
    ///
    /// # Errors
    ///
    /// Whatever keeps the detector from judging; the manager turns it into a
    /// [`Detection::error`].
    async fn detect_anomaly(&self, data: &Value) -> Result<Detection, BoxError>;
}

/// One rule of a [`RuleBasedDetector`]: when its condition holds, the data is anomalous
/// with its confidence.
#[derive(Debug, Clone)]
pub struct DetectionRule {
    name: String,
    condition: Condition,
    confidence: f64,
}

impl DetectionRule {
    /// The rule's name, reported in the detection's `rules` detail when it matches.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The parsed condition.
    #[must_use]
    pub const fn condition(&self) -> &Condition {
        &self.condition
    }

    /// The confidence of an anomaly found by this rule.
    #[must_use]
    pub const fn confidence(&self) -> f64 {
        self.confidence
    }
}

/// A heuristic detector whose rules are `condition` expressions over the fields of the
/// data object.
///
/// Every rule whose condition holds matches; the detection is anomalous when any rule
/// matches, with the highest confidence among them, and lists the matching rules' names
/// under `rules`. A rule that names a field the data lacks does not match (the condition
/// language needs every variable a condition names, even on an `or` branch it would not
/// take). Fields outside
/// the parser's whitelist are ignored; a whitelisted field that is neither a number nor a
/// string, data that is not an object, or a comparison of a string with a number make the
/// detection fail.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
/// use condition::ConditionParser;
/// use fallback::detection::{AnomalyDetector, RuleBasedDetector};
/// use serde_json::json;
///
/// let parser = ConditionParser::new().variables(["cpu_percent", "error_rate", "status"])?;
/// let detector = RuleBasedDetector::with_parser(parser)
///     .rule("cpu_saturated", "cpu_percent >= 95", 0.7)?
///     .rule("errors", "error_rate > 0.05 or status == 'failing'", 0.9)?;
///
/// let sample = json!({"cpu_percent": 97, "error_rate": 0.2, "status": "ok", "host": "db-1"});
/// let verdict = detector.detect_anomaly(&sample).await?;
/// assert!(verdict.anomaly);
/// assert_eq!(verdict.confidence, 0.9);
/// assert_eq!(verdict.mode, "heuristic");
/// assert_eq!(verdict.details["rules"], json!(["cpu_saturated", "errors"]));
///
/// let calm = detector.detect_anomaly(&json!({"cpu_percent": 20, "error_rate": 0.0, "status": "ok"})).await?;
/// assert!(!calm.anomaly);
/// assert_eq!(calm.confidence, 0.0);
///
/// // A rule naming a field the data lacks does not match: `errors` needs `status`.
/// let partial = detector.detect_anomaly(&json!({"cpu_percent": 97, "error_rate": 0.2})).await?;
/// assert_eq!(partial.details["rules"], json!(["cpu_saturated"]));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct RuleBasedDetector {
    parser: ConditionParser,
    rules: Vec<DetectionRule>,
    label: String,
}

impl RuleBasedDetector {
    /// The default label of its detections.
    pub const DEFAULT_LABEL: &'static str = "heuristic";

    /// A detector without rules over the default whitelist of `condition` (`severity`,
    /// `recurrence_count`, `confidence`, `step`, `duration`).
    #[must_use]
    pub fn new() -> Self {
        Self::with_parser(ConditionParser::new())
    }

    /// A detector without rules whose conditions are parsed by `parser` (its whitelist
    /// names the data fields rules may read).
    #[must_use]
    pub fn with_parser(parser: ConditionParser) -> Self {
        Self {
            parser,
            rules: Vec::new(),
            label: Self::DEFAULT_LABEL.to_owned(),
        }
    }

    /// Sets the `mode` its detections report (default `"heuristic"`).
    #[must_use]
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }

    /// Adds a rule, by value.
    ///
    /// # Errors
    ///
    /// As [`add_rule`](Self::add_rule).
    pub fn rule(
        mut self,
        name: impl Into<String>,
        condition: &str,
        confidence: f64,
    ) -> Result<Self> {
        self.add_rule(name, condition, confidence)?;
        Ok(self)
    }

    /// Adds a rule: parses `condition` and checks `confidence` at once.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRule`] for a condition that does not parse,
    /// [`Error::InvalidConfidence`] for a confidence outside 0.0..=1.0.
    pub fn add_rule(
        &mut self,
        name: impl Into<String>,
        condition: &str,
        confidence: f64,
    ) -> Result<()> {
        let name = name.into();
        if !(0.0..=1.0).contains(&confidence) {
            return Err(Error::InvalidConfidence { name, confidence });
        }
        let condition = self
            .parser
            .parse(condition)
            .map_err(|source| Error::InvalidRule {
                name: name.clone(),
                source,
            })?;
        self.rules.push(DetectionRule {
            name,
            condition,
            confidence,
        });
        Ok(())
    }

    /// The rules, in the order added.
    #[must_use]
    pub fn rules(&self) -> &[DetectionRule] {
        &self.rules
    }

    /// Judges `data` synchronously (what [`AnomalyDetector::detect_anomaly`] does).
    ///
    /// # Errors
    ///
    /// A [`condition::Error`] when `data` is not an object, a whitelisted field is neither
    /// a number nor a string, or a rule orders a string against a number.
    pub fn evaluate(&self, data: &Value) -> Result<Detection, condition::Error> {
        let mut context = self.parser.context();
        context.extend_json(data)?;
        let mut matched = Vec::new();
        let mut confidence: f64 = 0.0;
        for rule in &self.rules {
            match rule.condition.evaluate(&context) {
                Ok(true) => {
                    matched.push(Value::from(rule.name.as_str()));
                    confidence = confidence.max(rule.confidence);
                }
                Ok(false) | Err(condition::Error::MissingVariable { .. }) => {}
                Err(error) => return Err(error),
            }
        }
        Ok(
            Detection::new(!matched.is_empty(), confidence, self.label.as_str())
                .with_detail("rules", matched),
        )
    }
}

impl Default for RuleBasedDetector {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait]
impl AnomalyDetector for RuleBasedDetector {
    async fn detect_anomaly(&self, data: &Value) -> Result<Detection, BoxError> {
        Ok(self.evaluate(data)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn detector() -> RuleBasedDetector {
        RuleBasedDetector::new()
            .rule("severe", "severity >= 0.8", 0.9)
            .unwrap()
            .rule(
                "recurring",
                "recurrence_count >= 3 and step == 'analyze'",
                0.6,
            )
            .unwrap()
    }

    #[test]
    fn rules_match_on_the_data_fields() {
        fn check(data: &Value, anomaly: bool, confidence: f64, rules: &Value) {
            let verdict = detector().evaluate(data).unwrap();
            assert_eq!(verdict.anomaly, anomaly, "{data}");
            assert_eq!(verdict.confidence.to_bits(), confidence.to_bits(), "{data}");
            assert_eq!(&verdict.details["rules"], rules, "{data}");
            assert_eq!(verdict.mode, "heuristic");
        }
        check(&json!({"severity": 0.9}), true, 0.9, &json!(["severe"]));
        check(&json!({"severity": 0.1}), false, 0.0, &json!([]));
        check(
            &json!({"severity": 0.1, "recurrence_count": 4, "step": "analyze"}),
            true,
            0.6,
            &json!(["recurring"]),
        );
        check(
            &json!({"severity": 0.95, "recurrence_count": 4, "step": "analyze", "host": [1]}),
            true,
            0.9,
            &json!(["severe", "recurring"]),
        );
        check(&json!({}), false, 0.0, &json!([]));
    }

    #[test]
    fn bad_data_is_an_error_and_bad_rules_are_refused() {
        let detector = detector();
        assert!(matches!(
            detector.evaluate(&json!([1, 2])),
            Err(condition::Error::NotAnObject { .. })
        ));
        assert!(matches!(
            detector.evaluate(&json!({"severity": null})),
            Err(condition::Error::UnsupportedValue { .. })
        ));
        assert!(matches!(
            detector.evaluate(&json!({"severity": "high"})),
            Err(condition::Error::TypeMismatch { .. })
        ));
        assert!(matches!(
            RuleBasedDetector::new().rule("x", "severity >=", 0.5),
            Err(Error::InvalidRule { .. })
        ));
        assert!(matches!(
            RuleBasedDetector::new().rule("x", "cpu > 1", 0.5),
            Err(Error::InvalidRule { .. })
        ));
        for confidence in [-0.1, 1.5, f64::NAN] {
            assert!(matches!(
                RuleBasedDetector::new().rule("x", "severity > 1", confidence),
                Err(Error::InvalidConfidence { .. })
            ));
        }
    }

    #[test]
    fn detections_serialize_as_the_originals_dictionary() {
        let verdict = Detection::none("safe");
        assert_eq!(
            serde_json::to_value(&verdict).unwrap(),
            json!({"anomaly": false, "confidence": 0.0, "mode": "safe"})
        );
        let failed = Detection::error("model offline").with_detail("model", "v2");
        assert_eq!(
            serde_json::to_value(&failed).unwrap(),
            json!({"anomaly": false, "confidence": 0.0, "mode": "error", "error": "model offline", "model": "v2"})
        );
        let back: Detection = serde_json::from_value(
            json!({"anomaly": true, "confidence": 0.7, "mode": "primary", "score": 3}),
        )
        .unwrap();
        assert_eq!(back.details["score"], 3);
    }
}
