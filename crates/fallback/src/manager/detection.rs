//! Anomaly detection: [`Detectors`] holds the detector of each mode and asks the one of
//! the current mode, isolated.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::FallbackManager;
use crate::detection::{AnomalyDetector, Detection};
use crate::{FallbackMode, isolate};

/// The detector asked in PRIMARY (the original's ML anomaly detector) and the one asked
/// in HEURISTIC (for example a [`RuleBasedDetector`](crate::detection::RuleBasedDetector)); in SAFE
/// none is asked. Each call is isolated: an error, a panic (while building the call's
/// future too) or running longer than the timeout becomes a [`Detection::error`].
#[derive(Debug)]
pub(super) struct Detectors {
    anomaly: Option<Arc<dyn AnomalyDetector>>,
    heuristic: Option<Arc<dyn AnomalyDetector>>,
    timeout: Duration,
}

impl Detectors {
    pub(super) const fn new(
        anomaly: Option<Arc<dyn AnomalyDetector>>,
        heuristic: Option<Arc<dyn AnomalyDetector>>,
        timeout: Duration,
    ) -> Self {
        Self {
            anomaly,
            heuristic,
            timeout,
        }
    }

    pub(super) const fn anomaly(&self) -> Option<&Arc<dyn AnomalyDetector>> {
        self.anomaly.as_ref()
    }

    pub(super) const fn heuristic(&self) -> Option<&Arc<dyn AnomalyDetector>> {
        self.heuristic.as_ref()
    }

    /// Judges `data` with the detector of `mode`; never fails.
    pub(super) async fn detect(&self, mode: FallbackMode, data: &Value) -> Detection {
        let (detector, unavailable) = match mode {
            FallbackMode::Primary => (&self.anomaly, Detection::PRIMARY_UNAVAILABLE),
            FallbackMode::Heuristic => (&self.heuristic, Detection::HEURISTIC_UNAVAILABLE),
            FallbackMode::Safe => return Detection::none(Detection::SAFE),
        };
        let Some(detector) = detector else {
            return Detection::none(unavailable);
        };
        match isolate::catch(|| detector.detect_anomaly(data), self.timeout).await {
            Ok(Ok(detection)) => detection,
            Ok(Err(error)) => {
                tracing::warn!(%error, "anomaly detector failed");
                Detection::error(error.to_string())
            }
            Err(outcome) => {
                tracing::warn!(%outcome, "anomaly detector did not complete");
                Detection::error(format!("detector {outcome}"))
            }
        }
    }
}

impl FallbackManager {
    /// The detector asked in PRIMARY mode, if any.
    #[must_use]
    pub fn anomaly_detector(&self) -> Option<&Arc<dyn AnomalyDetector>> {
        self.detectors.anomaly()
    }

    /// The detector asked in HEURISTIC mode, if any.
    #[must_use]
    pub fn heuristic_detector(&self) -> Option<&Arc<dyn AnomalyDetector>> {
        self.detectors.heuristic()
    }

    /// Judges `data` with the detector of the current mode: the anomaly detector in
    /// PRIMARY, the heuristic detector in HEURISTIC. In SAFE no detector is asked and the
    /// answer is `{anomaly: false, confidence: 0.0, mode: "safe"}`.
    ///
    /// Never fails: a missing detector answers mode `"primary_unavailable"` or
    /// `"heuristic_unavailable"`; a detector that fails, panics or runs longer than
    /// [`FallbackConfig::callback_timeout`] answers mode `"error"` with the message.
    ///
    /// [`FallbackConfig::callback_timeout`]: crate::FallbackConfig::callback_timeout
    pub async fn detect_anomaly(&self, data: &Value) -> Detection {
        self.detectors.detect(self.get_current_mode(), data).await
    }
}

#[cfg(test)]
mod tests {
    use async_trait::async_trait;
    use serde_json::json;

    use super::*;
    use crate::BoxError;

    /// Answers with its label, fails, panics or hangs, as told.
    #[derive(Debug)]
    enum Scripted {
        Answers(&'static str),
        Fails,
        Panics,
        Hangs,
    }

    #[async_trait]
    impl AnomalyDetector for Scripted {
        async fn detect_anomaly(&self, data: &Value) -> Result<Detection, BoxError> {
            match self {
                Self::Answers(label) => {
                    Ok(Detection::new(true, 0.5, *label).with_detail("seen", data.clone()))
                }
                Self::Fails => Err("model offline".into()),
                Self::Panics => panic!("detector bug"),
                Self::Hangs => std::future::pending().await,
            }
        }
    }

    fn detectors(anomaly: Option<Scripted>, heuristic: Option<Scripted>) -> Detectors {
        let arc = |detector: Scripted| Arc::new(detector) as Arc<dyn AnomalyDetector>;
        Detectors::new(anomaly.map(arc), heuristic.map(arc), Duration::from_secs(1))
    }

    #[tokio::test]
    async fn each_mode_asks_its_own_detector_or_none() {
        let both = detectors(
            Some(Scripted::Answers("ml")),
            Some(Scripted::Answers("rules")),
        );
        let data = json!({"x": 1});
        let primary = both.detect(FallbackMode::Primary, &data).await;
        assert_eq!((primary.mode.as_str(), primary.anomaly), ("ml", true));
        assert_eq!(primary.details["seen"], data);
        assert_eq!(
            both.detect(FallbackMode::Heuristic, &data).await.mode,
            "rules"
        );
        assert_eq!(
            both.detect(FallbackMode::Safe, &data).await,
            Detection::none(Detection::SAFE)
        );

        let neither = detectors(None, None);
        assert!(neither.anomaly().is_none() && neither.heuristic().is_none());
        assert_eq!(
            neither.detect(FallbackMode::Primary, &data).await,
            Detection::none(Detection::PRIMARY_UNAVAILABLE)
        );
        assert_eq!(
            neither.detect(FallbackMode::Heuristic, &data).await,
            Detection::none(Detection::HEURISTIC_UNAVAILABLE)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_failing_panicking_or_hanging_detector_answers_an_error() {
        fn check(detection: &Detection, expected: &str) {
            assert_eq!(detection.mode, Detection::ERROR);
            assert_eq!(detection.error.as_deref(), Some(expected));
            assert!(!detection.anomaly);
        }
        let data = json!({});
        for (detector, expected) in [
            (Scripted::Fails, "model offline"),
            (Scripted::Panics, "detector panicked: detector bug"),
            (Scripted::Hangs, "detector timed out"),
        ] {
            let detection = detectors(Some(detector), None)
                .detect(FallbackMode::Primary, &data)
                .await;
            check(&detection, expected);
        }
    }
}
