//! The time markroom reads. In service it is the system clock; tests move it forward, so
//! that lease, token, approval and lockout expiry are tested without waiting.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Duration, Utc};

/// The system clock plus an offset that only moves forward. Cloning shares the offset.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    offset_ms: Arc<AtomicI64>,
}

impl Clock {
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + Duration::milliseconds(self.offset_ms.load(Ordering::Relaxed))
    }

    /// Moves this clock (and every clone of it) forward; a negative step is ignored, since
    /// time that runs backwards would reopen what already expired.
    pub fn advance(&self, by: Duration) {
        let ms = by.num_milliseconds();
        if ms > 0 {
            self.offset_ms.fetch_add(ms, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advancing_moves_every_clone_and_never_back() {
        let a = Clock::default();
        let b = a.clone();
        a.advance(Duration::hours(2));
        a.advance(Duration::hours(-5));
        let gap = b.now() - Utc::now();
        assert!(gap >= Duration::minutes(119) && gap <= Duration::minutes(121), "{gap}");
    }
}
