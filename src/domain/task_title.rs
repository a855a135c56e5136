use super::DomainError;

/// A task title: trimmed, 1 to 200 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskTitle(String);

impl TaskTitle {
    pub const MAX_CHARS: usize = 200;

    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let trimmed = raw.trim();
        let chars = trimmed.chars().count();
        if chars == 0 {
            return Err(DomainError::new("title", "must not be empty"));
        }
        if chars > Self::MAX_CHARS {
            return Err(DomainError::new(
                "title",
                format!(
                    "must be at most {} characters after trimming, got {chars}",
                    Self::MAX_CHARS
                ),
            ));
        }
        if trimmed.chars().any(char::is_control) {
            return Err(DomainError::new(
                "title",
                "must not contain control characters",
            ));
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::TaskTitle;

    #[test]
    fn a_title_is_trimmed() {
        assert_eq!(
            TaskTitle::parse("  buy milk \t").unwrap().as_str(),
            "buy milk"
        );
    }

    #[test]
    fn titles_are_accepted_or_refused_by_their_trimmed_length_in_characters() {
        let cases = [
            ("", false, "empty title"),
            ("   ", false, "blank title"),
            ("a", true, "one character"),
            (&"é".repeat(200), true, "200 two-byte characters"),
            (&"a".repeat(201), false, "201 characters"),
            (
                &format!("  {}  ", "a".repeat(200)),
                true,
                "200 characters plus padding",
            ),
            ("tab\tinside", false, "control character inside"),
            ("line\nbreak", false, "newline inside"),
            (
                "Robert'); DROP TABLE tasks;--",
                true,
                "SQL-looking text is just text",
            ),
        ];
        for (raw, ok, why) in cases {
            assert_eq!(TaskTitle::parse(raw).is_ok(), ok, "case: {why}");
        }
    }
}
