//! What the simulator measures: latency per endpoint (HDR histograms, microseconds), errors by
//! problem code, and outcomes that are not errors (nothing to lease, a planted marker paused).

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// Latency figures of one set of requests, in milliseconds.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Latency {
    pub count: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

pub struct Recorder {
    all: Histogram<u64>,
    endpoints: BTreeMap<&'static str, Histogram<u64>>,
    pub errors: BTreeMap<String, u64>,
    pub outcomes: BTreeMap<&'static str, u64>,
}

fn histogram() -> Histogram<u64> {
    // 1 µs to 60 s at three significant figures.
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds")
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder {
            all: histogram(),
            endpoints: BTreeMap::new(),
            errors: BTreeMap::new(),
            outcomes: BTreeMap::new(),
        }
    }
}

impl Recorder {
    /// One request's latency; `counted` requests also enter the top-level figures.
    pub fn time(&mut self, endpoint: &'static str, took: Duration, counted: bool) {
        let us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX).clamp(1, 60_000_000);
        self.endpoints
            .entry(endpoint)
            .or_insert_with(histogram)
            .saturating_record(us);
        if counted {
            self.all.saturating_record(us);
        }
    }

    pub fn error(&mut self, code: &str) {
        *self.errors.entry(code.to_string()).or_default() += 1;
    }

    pub fn outcome(&mut self, what: &'static str) {
        *self.outcomes.entry(what).or_default() += 1;
    }

    pub fn merge(&mut self, other: &Recorder) {
        let _ = self.all.add(&other.all);
        for (k, h) in &other.endpoints {
            let _ = self.endpoints.entry(k).or_insert_with(histogram).add(h);
        }
        for (k, n) in &other.errors {
            *self.errors.entry(k.clone()).or_default() += n;
        }
        for (k, n) in &other.outcomes {
            *self.outcomes.entry(k).or_default() += n;
        }
    }

    pub fn overall(&self) -> Latency {
        figures(&self.all)
    }

    pub fn endpoints(&self) -> BTreeMap<String, Latency> {
        self.endpoints
            .iter()
            .map(|(k, h)| (k.to_string(), figures(h)))
            .collect()
    }

    pub fn count(&self, endpoint: &str) -> u64 {
        self.endpoints.get(endpoint).map_or(0, |h| h.len())
    }
}

fn figures(h: &Histogram<u64>) -> Latency {
    let ms = |q: f64| {
        if h.is_empty() {
            0.0
        } else {
            h.value_at_quantile(q) as f64 / 1000.0
        }
    };
    Latency {
        count: h.len(),
        p50_ms: ms(0.5),
        p90_ms: ms(0.9),
        p99_ms: ms(0.99),
        p999_ms: ms(0.999),
        max_ms: if h.is_empty() { 0.0 } else { h.max() as f64 / 1000.0 },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_come_from_what_was_recorded_and_merging_adds_up() {
        let mut a = Recorder::default();
        for ms in 1..=100u64 {
            a.time("lease", Duration::from_millis(ms), true);
        }
        let mut b = Recorder::default();
        b.time("score", Duration::from_millis(500), true);
        b.error("lease_expired");
        b.outcome("nothing_to_lease");
        a.merge(&b);
        let all = a.overall();
        assert_eq!(all.count, 101);
        assert!((all.p50_ms - 51.0).abs() < 0.1, "{all:?}");
        assert!((all.p99_ms - 100.0).abs() < 0.1, "{all:?}");
        assert!((all.max_ms - 500.0).abs() < 0.5, "{all:?}");
        assert_eq!(a.count("score"), 1);
        assert_eq!(a.errors["lease_expired"], 1);
        assert_eq!(a.outcomes["nothing_to_lease"], 1);
    }
}
