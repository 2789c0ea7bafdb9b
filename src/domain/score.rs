//! Exact scores. A score is held in hundredths of a point so that a mean, a tolerance or a
//! step is never disturbed by binary floating point: a child's 17.5 is 1750, not 17.499999.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer, de};

/// Largest score the room accepts anywhere (one million points), far above any real question.
const LIMIT_HUNDREDTHS: i64 = 100_000_000;

/// The key under which serde_json (feature `arbitrary_precision`) hands over a number's text.
const JSON_NUMBER_TOKEN: &str = "$serde_json::private::Number";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Score(i64);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScoreParseError {
    #[error("a score is a decimal number such as 12 or 12.5")]
    NotADecimal,
    #[error("a score has at most two decimals")]
    TooPrecise,
    #[error("a score may not be negative")]
    Negative,
    #[error("a score may not exceed 1000000")]
    TooLarge,
}

impl Score {
    pub const ZERO: Score = Score(0);

    pub const fn from_hundredths(h: i64) -> Score {
        Score(h)
    }

    pub const fn points(p: i64) -> Score {
        Score(p * 100)
    }

    pub const fn hundredths(self) -> i64 {
        self.0
    }

    /// Parses the decimal text of a JSON number exactly: digits, an optional point and at most
    /// two decimals. Exponents are refused rather than guessed at.
    pub fn parse(text: &str) -> Result<Score, ScoreParseError> {
        let text = text.trim();
        if let Some(rest) = text.strip_prefix('-') {
            return match Score::parse(rest) {
                Ok(s) if s.0 == 0 => Ok(Score::ZERO),
                Ok(_) => Err(ScoreParseError::Negative),
                Err(e) => Err(e),
            };
        }
        let (whole, frac) = match text.split_once('.') {
            Some((w, f)) => (w, f),
            None => (text, ""),
        };
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() || !digits(whole) || !digits(frac) || (text.contains('.') && frac.is_empty()) {
            return Err(ScoreParseError::NotADecimal);
        }
        let frac = frac.trim_end_matches('0');
        if frac.len() > 2 {
            return Err(ScoreParseError::TooPrecise);
        }
        let whole = whole.trim_start_matches('0');
        if whole.len() > 7 {
            return Err(ScoreParseError::TooLarge);
        }
        let whole: i64 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| ScoreParseError::NotADecimal)?
        };
        let mut cents: i64 = if frac.is_empty() {
            0
        } else {
            frac.parse().map_err(|_| ScoreParseError::NotADecimal)?
        };
        if frac.len() == 1 {
            cents *= 10;
        }
        let total = whole * 100 + cents;
        if total > LIMIT_HUNDREDTHS {
            return Err(ScoreParseError::TooLarge);
        }
        Ok(Score(total))
    }

    /// True when this score is a whole number of `unit`s (a zero unit divides nothing).
    pub fn is_multiple_of(self, unit: Score) -> bool {
        unit.0 > 0 && self.0 % unit.0 == 0
    }

    /// Rounds to the nearest multiple of `unit`, a tie going up (to the candidate).
    pub fn round_half_up_to(self, unit: Score) -> Score {
        debug_assert!(unit.0 > 0);
        Score((self.0 * 2 + unit.0).div_euclid(unit.0 * 2) * unit.0)
    }

    /// `fraction` of this score in exact hundredths, rounded half up; for defaults such as
    /// "10% of the maximum".
    pub fn percent(self, percent: i64) -> Score {
        Score((self.0 * percent * 2 + 100).div_euclid(200))
    }

    pub fn as_f64(self) -> f64 {
        self.0 as f64 / 100.0
    }
}

impl fmt::Display for Score {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (whole, cents) = (self.0 / 100, (self.0 % 100).abs());
        let sign = if self.0 < 0 && whole == 0 { "-" } else { "" };
        match cents {
            0 => write!(f, "{sign}{whole}"),
            c if c % 10 == 0 => write!(f, "{sign}{whole}.{}", c / 10),
            c => write!(f, "{sign}{whole}.{c:02}"),
        }
    }
}

/// Scores leave as JSON numbers. Dividing the exact hundredths by 100 gives the double nearest
/// the decimal, and serde_json prints the shortest text that reads back as that double, which is
/// the decimal itself.
impl Serialize for Score {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(self.as_f64())
    }
}

/// JSON numbers are read from their own text: with serde_json's `arbitrary_precision` a number
/// arrives as a one-entry map holding its digits, so no binary float is ever involved. Settings
/// files (TOML, environment) give integers or floats; a float is read back through its shortest
/// text. A string is not a score.
impl<'de> Deserialize<'de> for Score {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> de::Visitor<'de> for V {
            type Value = Score;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a score such as 0.5")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Score, E> {
                Score::parse(&v.to_string()).map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Score, E> {
                Score::parse(&v.to_string()).map_err(E::custom)
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Score, E> {
                Score::parse(&v.to_string()).map_err(E::custom)
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Score, A::Error> {
                match map.next_key::<String>()? {
                    Some(k) if k == JSON_NUMBER_TOKEN => {
                        let digits: String = map.next_value()?;
                        Score::parse(&digits).map_err(de::Error::custom)
                    }
                    _ => Err(de::Error::invalid_type(de::Unexpected::Map, &self)),
                }
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_exact_decimals() {
        assert_eq!(Score::parse("12"), Ok(Score(1200)));
        assert_eq!(Score::parse("12.5"), Ok(Score(1250)));
        assert_eq!(Score::parse("0.25"), Ok(Score(25)));
        assert_eq!(Score::parse("12.50"), Ok(Score(1250)));
        assert_eq!(Score::parse("12.500"), Ok(Score(1250)));
        assert_eq!(Score::parse("-0"), Ok(Score(0)));
        assert_eq!(Score::parse("12.345"), Err(ScoreParseError::TooPrecise));
        assert_eq!(Score::parse("-1"), Err(ScoreParseError::Negative));
        assert_eq!(Score::parse("1e2"), Err(ScoreParseError::NotADecimal));
        assert_eq!(Score::parse("1."), Err(ScoreParseError::NotADecimal));
        assert_eq!(Score::parse(".5"), Err(ScoreParseError::NotADecimal));
        assert_eq!(Score::parse("99999999"), Err(ScoreParseError::TooLarge));
    }

    #[test]
    fn rounds_half_up_to_the_candidate() {
        assert_eq!(Score(1225).round_half_up_to(Score(50)), Score(1250));
        assert_eq!(Score(1224).round_half_up_to(Score(50)), Score(1200));
        assert_eq!(Score(250).round_half_up_to(Score(100)), Score(300));
        assert_eq!(Score::points(25).percent(10), Score(250));
    }

    proptest! {
        #[test]
        fn display_then_parse_is_identity(h in 0i64..=LIMIT_HUNDREDTHS) {
            let s = Score(h);
            prop_assert_eq!(Score::parse(&s.to_string()), Ok(s));
        }

        #[test]
        fn json_number_round_trips(h in 0i64..=LIMIT_HUNDREDTHS) {
            let text = serde_json::to_string(&Score(h)).unwrap();
            prop_assert_eq!(Score::parse(&text), Ok(Score(h)));
        }

        #[test]
        fn json_text_parses_exactly(h in 0i64..=LIMIT_HUNDREDTHS) {
            let text = Score(h).to_string();
            prop_assert_eq!(serde_json::from_str::<Score>(&text).unwrap(), Score(h));
        }

        #[test]
        fn rounding_lands_on_the_unit_and_within_half(h in 0i64..1_000_000, unit in 1i64..500) {
            let r = Score(h).round_half_up_to(Score(unit));
            prop_assert!(r.is_multiple_of(Score(unit)) || r == Score::ZERO);
            prop_assert!((r.0 - h) * 2 <= unit && (h - r.0) * 2 < unit);
        }
    }
}
