//! The per-exam marking parameters. Every figure the source speech or DESIGN.md gives is a
//! default here; an exam may override any of them, and later rules read them from here.

use serde::{Deserialize, Serialize};

use super::{RuleError, Score};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MarkingRules {
    /// Markers must be this age or younger on the first marking day (R2).
    #[serde(deserialize_with = "super::whole::deserialize")]
    pub marker_max_age: u32,
    /// Share of live tasks that are seeds after the first seed of the day.
    pub seed_rate: f64,
    /// A seed comes at a random position among the marker's first this-many tasks each day.
    #[serde(deserialize_with = "super::whole::deserialize")]
    pub first_seed_within: u32,
    /// Probability of re-serving a marker one of their own scripts (回评).
    pub self_check_rate: f64,
    /// Share of resolved scripts sampled into a leader's back-read queue (复评).
    pub backread_rate: f64,
    /// Seed misses: `seed_miss_limit` misses among the last `seed_miss_window` seeds pause a marker.
    #[serde(deserialize_with = "super::whole::deserialize")]
    pub seed_miss_window: u32,
    #[serde(deserialize_with = "super::whole::deserialize")]
    pub seed_miss_limit: u32,
    /// Severity trigger: |marker effect| at least this fraction of the question's tolerance.
    pub severity_limit_fraction: f64,
    /// Erratic trigger: residual SD at least this multiple of the pooled residual SD.
    pub erratic_sd_ratio: f64,
    /// Central tendency trigger: SD at most this multiple of the others' SD on the same scripts.
    pub central_sd_ratio: f64,
    /// Drift trigger: total change over the marker's work at least this fraction of the tolerance.
    pub drift_min_change_fraction: f64,
    /// Holm-adjusted p below which a statistical trigger fires.
    pub trigger_p: f64,
    /// Co-marked scripts a marker needs before the statistical triggers look at them.
    #[serde(deserialize_with = "super::whole::deserialize")]
    pub min_co_marked: u32,
    /// Default tolerance as a percentage of a question's maximum, rounded to its step.
    #[serde(deserialize_with = "super::whole::deserialize")]
    pub default_tolerance_percent: u32,
    /// Default unit finals are rounded to (half up), when the step allows it.
    pub default_final_step: Score,
    /// How long a marker holds a leased task.
    #[serde(deserialize_with = "super::whole::deserialize")]
    pub lease_minutes: u32,
    /// Qualification: this share of the calibration set must lie within the question's tolerance.
    pub qualification_pass_share: f64,
    /// Qualification: no score may lie further than this many tolerances from the definitive one.
    pub qualification_max_deviation_tolerances: f64,
    /// Qualification: attempts a marker has per question, each on a fresh random order.
    #[serde(deserialize_with = "super::whole::deserialize")]
    pub qualification_attempts: u32,
}

impl Default for MarkingRules {
    fn default() -> Self {
        MarkingRules {
            marker_max_age: 45,
            seed_rate: 0.05,
            first_seed_within: 5,
            self_check_rate: 0.01,
            backread_rate: 0.05,
            seed_miss_window: 5,
            seed_miss_limit: 2,
            severity_limit_fraction: 0.5,
            erratic_sd_ratio: 1.3,
            central_sd_ratio: 0.75,
            drift_min_change_fraction: 0.5,
            trigger_p: 0.01,
            min_co_marked: 20,
            default_tolerance_percent: 10,
            default_final_step: Score::from_hundredths(50),
            lease_minutes: 10,
            qualification_pass_share: 0.7,
            qualification_max_deviation_tolerances: 2.0,
            qualification_attempts: 2,
        }
    }
}

impl MarkingRules {
    /// Checks that every figure is one an administrator could mean.
    pub fn validate(&self) -> Result<(), RuleError> {
        let share = |name: &str, v: f64| {
            if (0.0..=1.0).contains(&v) {
                Ok(())
            } else {
                Err(RuleError::invalid(
                    "invalid_setting",
                    name,
                    format!("{name} must lie between 0 and 1"),
                ))
            }
        };
        share("seed_rate", self.seed_rate)?;
        share("self_check_rate", self.self_check_rate)?;
        share("backread_rate", self.backread_rate)?;
        share("severity_limit_fraction", self.severity_limit_fraction)?;
        share("central_sd_ratio", self.central_sd_ratio)?;
        share("drift_min_change_fraction", self.drift_min_change_fraction)?;
        share("qualification_pass_share", self.qualification_pass_share)?;
        if !(self.qualification_max_deviation_tolerances.is_finite()
            && self.qualification_max_deviation_tolerances >= 1.0)
        {
            return Err(RuleError::invalid(
                "invalid_setting",
                "qualification_max_deviation_tolerances",
                "qualification_max_deviation_tolerances must be at least 1",
            ));
        }
        if !(1..=10).contains(&self.qualification_attempts) {
            return Err(RuleError::invalid(
                "invalid_setting",
                "qualification_attempts",
                "qualification_attempts must be between 1 and 10",
            ));
        }
        if !(self.trigger_p > 0.0 && self.trigger_p < 1.0) {
            return Err(RuleError::invalid(
                "invalid_setting",
                "trigger_p",
                "trigger_p must lie strictly between 0 and 1",
            ));
        }
        if !(self.erratic_sd_ratio.is_finite() && self.erratic_sd_ratio >= 1.0) {
            return Err(RuleError::invalid(
                "invalid_setting",
                "erratic_sd_ratio",
                "erratic_sd_ratio must be at least 1",
            ));
        }
        if self.seed_miss_limit == 0 || self.seed_miss_limit > self.seed_miss_window {
            return Err(RuleError::invalid(
                "invalid_setting",
                "seed_miss_limit",
                "seed_miss_limit must be between 1 and seed_miss_window",
            ));
        }
        if !(18..=80).contains(&self.marker_max_age) {
            return Err(RuleError::invalid(
                "invalid_setting",
                "marker_max_age",
                "marker_max_age must be between 18 and 80",
            ));
        }
        if self.default_tolerance_percent > 100 {
            return Err(RuleError::invalid(
                "invalid_setting",
                "default_tolerance_percent",
                "at most 100",
            ));
        }
        if self.default_final_step <= Score::ZERO {
            return Err(RuleError::invalid(
                "invalid_setting",
                "default_final_step",
                "default_final_step must be positive",
            ));
        }
        if !(1..=240).contains(&self.lease_minutes) {
            return Err(RuleError::invalid(
                "invalid_setting",
                "lease_minutes",
                "lease_minutes must be between 1 and 240",
            ));
        }
        if self.min_co_marked < 2 || self.first_seed_within == 0 {
            return Err(RuleError::invalid(
                "invalid_setting",
                "min_co_marked",
                "min_co_marked must be at least 2 and first_seed_within at least 1",
            ));
        }
        Ok(())
    }

    /// The rules for one exam: these defaults with the exam's own overrides laid over them.
    /// An override names only the figures it changes; an unknown name is refused, not ignored.
    pub fn with_overrides(
        &self,
        overrides: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<MarkingRules, RuleError> {
        let mut merged =
            serde_json::to_value(self).map_err(|e| RuleError::invalid("invalid_setting", "settings", e.to_string()))?;
        if let Some(obj) = merged.as_object_mut() {
            for (k, v) in overrides {
                if !obj.contains_key(k) {
                    return Err(RuleError::invalid(
                        "unknown_setting",
                        format!("settings.{k}"),
                        format!("there is no exam setting named {k}"),
                    ));
                }
                obj.insert(k.clone(), v.clone());
            }
        }
        let rules: MarkingRules = serde_json::from_value(merged)
            .map_err(|e| RuleError::invalid("invalid_setting", "settings", format!("settings: {e}")))?;
        rules.validate().map_err(|e| match e {
            RuleError::Invalid { code, field, detail } => RuleError::Invalid {
                code,
                field: field.map(|f| format!("settings.{f}")),
                detail,
            },
            other => other,
        })?;
        Ok(rules)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_speech_and_design_figures() {
        let r = MarkingRules::default();
        assert_eq!(r.marker_max_age, 45);
        assert_eq!(r.seed_rate, 0.05);
        assert_eq!(r.self_check_rate, 0.01);
        assert_eq!(r.backread_rate, 0.05);
        assert_eq!(r.severity_limit_fraction, 0.5);
        assert_eq!(r.lease_minutes, 10);
        assert!(r.validate().is_ok());
    }

    #[test]
    fn overrides_change_only_what_they_name() {
        let mut o = serde_json::Map::new();
        o.insert("seed_rate".into(), serde_json::json!(0.1));
        let r = MarkingRules::default().with_overrides(&o).unwrap();
        assert_eq!(r.seed_rate, 0.1);
        assert_eq!(r.backread_rate, 0.05);
    }

    #[test]
    fn unknown_or_out_of_range_overrides_are_refused() {
        let mut o = serde_json::Map::new();
        o.insert("seedrate".into(), serde_json::json!(0.1));
        assert_eq!(
            MarkingRules::default().with_overrides(&o).unwrap_err().code(),
            "unknown_setting"
        );
        let mut o = serde_json::Map::new();
        o.insert("backread_rate".into(), serde_json::json!(1.5));
        let e = MarkingRules::default().with_overrides(&o).unwrap_err();
        assert!(matches!(e, RuleError::Invalid { field: Some(ref f), .. } if f == "settings.backread_rate"));
    }
}
