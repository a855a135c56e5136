use super::DomainError;

/// Where a task stands. Stored and shown as `todo`, `in_progress`, `done`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TaskStatus {
    #[default]
    Todo,
    InProgress,
    Done,
}

impl TaskStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Todo => "todo",
            Self::InProgress => "in_progress",
            Self::Done => "done",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        match raw {
            "todo" => Ok(Self::Todo),
            "in_progress" => Ok(Self::InProgress),
            "done" => Ok(Self::Done),
            other => Err(DomainError::new(
                "status",
                format!("must be one of todo, in_progress, done; got {other:?}"),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::TaskStatus;

    #[test]
    fn every_status_round_trips_through_its_text() {
        for status in [TaskStatus::Todo, TaskStatus::InProgress, TaskStatus::Done] {
            assert_eq!(TaskStatus::parse(status.as_str()), Ok(status), "{status:?}");
        }
    }

    #[test]
    fn unknown_or_differently_cased_statuses_are_refused() {
        for raw in ["", "TODO", "in-progress", "finished"] {
            assert!(TaskStatus::parse(raw).is_err(), "{raw:?} should be refused");
        }
    }
}
