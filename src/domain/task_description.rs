use super::DomainError;

/// Free text up to 10 000 characters; line breaks and tabs are allowed,
/// other control characters are not (they break terminals and logs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskDescription(String);

impl TaskDescription {
    pub const MAX_CHARS: usize = 10_000;

    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let chars = raw.chars().count();
        if chars > Self::MAX_CHARS {
            return Err(DomainError::new(
                "description",
                format!(
                    "must be at most {} characters, got {chars}",
                    Self::MAX_CHARS
                ),
            ));
        }
        if raw
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        {
            return Err(DomainError::new(
                "description",
                "must not contain control characters other than tab and line breaks",
            ));
        }
        Ok(Self(raw.to_owned()))
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
    use super::TaskDescription;

    #[test]
    fn descriptions_are_accepted_or_refused_by_length_and_content() {
        let cases = [
            ("", true, "empty description"),
            ("two\nlines\tand a tab", true, "line breaks and tabs"),
            (&"x".repeat(10_000), true, "exactly 10 000 characters"),
            (&"x".repeat(10_001), false, "10 001 characters"),
            ("bell\u{7}", false, "a bell character"),
            ("nul\u{0}", false, "a NUL character"),
        ];
        for (raw, ok, why) in cases {
            assert_eq!(TaskDescription::parse(raw).is_ok(), ok, "case: {why}");
        }
    }
}
