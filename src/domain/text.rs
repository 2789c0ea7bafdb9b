//! Free text people type into the record (reasons, notes, names of courses): one space between
//! words, and nothing a screen or a database would take for something else.

/// The text with runs of whitespace made one space and the ends trimmed.
pub fn tidy(raw: &str) -> String {
    raw.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// At most `max` characters, none of them a control character.
pub fn is_plain(text: &str, max: usize) -> bool {
    text.chars().count() <= max && !text.chars().any(char::is_control)
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
    }
}
