//! Whole numbers as JSON may write them: `5` or `5.0` (JSON Schema's `integer` allows both),
//! never `5.5`. Used with `#[serde(deserialize_with = …)]` on counts and page numbers.

use serde::de::Error;
use serde::{Deserialize, Deserializer};

fn whole(n: &serde_json::Number) -> Option<u32> {
    if let Some(v) = n.as_u64() {
        return u32::try_from(v).ok();
    }
    // The number's own text (serde_json keeps it exactly): digits, then only zeros after a point.
    let text = n.to_string();
    let (int, frac) = text.split_once('.')?;
    if frac.is_empty() || !frac.bytes().all(|b| b == b'0') || !int.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    int.parse().ok()
}

pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let n = serde_json::Number::deserialize(d)?;
    whole(&n).ok_or_else(|| D::Error::custom(format!("expected a whole number from 0 to {}, got {n}", u32::MAX)))
}

pub fn option<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    match Option::<serde_json::Number>::deserialize(d)? {
        None => Ok(None),
        Some(n) => whole(&n)
            .map(Some)
            .ok_or_else(|| D::Error::custom(format!("expected a whole number from 0 to {}, got {n}", u32::MAX))),
    }
}

#[cfg(test)]
mod tests {
    #[derive(serde::Deserialize)]
    struct W {
        #[serde(deserialize_with = "super::deserialize")]
        n: u32,
    }

    fn read(text: &str) -> Option<u32> {
        serde_json::from_str::<W>(&format!("{{\"n\": {text}}}"))
            .ok()
            .map(|w| w.n)
    }

    #[test]
    fn whole_numbers_however_written() {
        assert_eq!(read("5"), Some(5));
        assert_eq!(read("5.0"), Some(5));
        assert_eq!(read("5.00"), Some(5));
        assert_eq!(read("5.5"), None);
        assert_eq!(read("-1"), None);
        assert_eq!(read("1e3"), None);
        assert_eq!(read("\"5\""), None);
        assert_eq!(read("4294967296"), None);
    }
}
