//! Free text people type into the record (reasons, notes, names of courses): one space between
//! words, and nothing a screen or a database would take for something else.

/// The text with runs of whitespace made one space and the ends trimmed.
pub fn tidy(raw: &str) -> String {
    raw.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// At most `max` characters as typed, none of them a control character other than whitespace
/// (which `tidy` makes a space). Checked on the text as sent, so that the OpenAPI document's
/// `maxLength` and pattern (see `http::schemas`) say exactly what passes.
pub fn is_plain(raw: &str, max: usize) -> bool {
    raw.chars().count() <= max && !raw.chars().any(|c| c.is_control() && !c.is_whitespace())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whitespace_is_one_space_and_control_characters_are_refused() {
        assert_eq!(tidy("  read \t again\n "), "read again");
        assert!(is_plain("read again", 10));
        assert!(!is_plain("read again", 9));
        assert!(!is_plain("a\u{0}b", 10));
        assert!(is_plain("read\tagain\n", 12), "whitespace controls become spaces");
        assert!(
            !is_plain("a\u{1c}b", 10),
            "not whitespace to Rust, though it is to some"
        );
    }
}
