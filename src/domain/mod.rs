//! Domain rules for tasks, and for who may call the API: values that exist only
//! once they have been parsed.

mod api_token;
mod due_date;
mod task;
mod task_description;
mod task_status;
mod task_title;

pub use api_token::{
    Scope, TokenEntry, TokenFileError, TokenHash, TokenName, TokenSet, generate_token,
};
pub use due_date::DueDate;
pub use task::{NewTask, Task, TaskChanges};
pub use task_description::TaskDescription;
pub use task_status::TaskStatus;
pub use task_title::TaskTitle;

/// Why a value was refused; the message is shown to API clients as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct DomainError {
    pub field: &'static str,
    pub reason: String,
}

impl DomainError {
    fn new(field: &'static str, reason: impl Into<String>) -> Self {
        Self {
            field,
            reason: reason.into(),
        }
    }
}
