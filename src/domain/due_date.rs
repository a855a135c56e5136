use chrono::NaiveDate;

use super::DomainError;

/// A calendar date written exactly as `YYYY-MM-DD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DueDate(NaiveDate);

impl DueDate {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let refuse = || {
            DomainError::new(
                "due_date",
                format!("must be a date as YYYY-MM-DD, got {raw:?}"),
            )
        };
        // chrono alone accepts forms like `2024-1-5` or `+2024-01-05`; the API promises one form.
        let shape_ok = raw.len() == 10
            && raw.bytes().enumerate().all(|(i, b)| match i {
                4 | 7 => b == b'-',
                _ => b.is_ascii_digit(),
            });
        if !shape_ok {
            return Err(refuse());
        }
        NaiveDate::parse_from_str(raw, "%Y-%m-%d")
            .map(Self)
            .map_err(|_| refuse())
    }

    pub fn from_date(date: NaiveDate) -> Self {
        Self(date)
    }

    pub fn date(self) -> NaiveDate {
        self.0
    }

    pub fn to_iso(self) -> String {
        self.0.format("%Y-%m-%d").to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::DueDate;

    #[test]
    fn due_dates_are_accepted_only_as_real_yyyy_mm_dd_dates() {
        let cases = [
            ("2026-11-26", true, "an ordinary date"),
            ("2024-02-29", true, "a leap day"),
            ("2025-02-29", false, "no leap day in 2025"),
            ("2026-1-5", false, "missing zero padding"),
            ("+2026-01-05", false, "a sign"),
            ("2026-13-01", false, "month 13"),
            ("26-11-2026", false, "day first"),
            ("2026-11-26T00:00:00Z", false, "a timestamp"),
            ("", false, "empty"),
        ];
        for (raw, ok, why) in cases {
            assert_eq!(DueDate::parse(raw).is_ok(), ok, "case: {why}");
        }
    }

    #[test]
    fn a_due_date_prints_as_it_was_written() {
        assert_eq!(DueDate::parse("2026-01-05").unwrap().to_iso(), "2026-01-05");
    }
}
