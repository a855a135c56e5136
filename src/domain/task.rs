use chrono::{DateTime, Utc};

use super::{DueDate, TaskDescription, TaskStatus, TaskTitle};

/// A stored task, as the rest of the program sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    pub id: i64,
    pub title: TaskTitle,
    pub description: Option<TaskDescription>,
    pub status: TaskStatus,
    pub due_date: Option<DueDate>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Everything needed to create a task; only parsed values get here.
#[derive(Debug, Clone)]
pub struct NewTask {
    pub title: TaskTitle,
    pub description: Option<TaskDescription>,
    pub status: TaskStatus,
    pub due_date: Option<DueDate>,
}

/// A partial update: `None` leaves a field alone, `Some(None)` clears an optional one.
#[derive(Debug, Clone, Default)]
pub struct TaskChanges {
    pub title: Option<TaskTitle>,
    pub description: Option<Option<TaskDescription>>,
    pub status: Option<TaskStatus>,
    pub due_date: Option<Option<DueDate>>,
}

impl TaskChanges {
    pub fn is_empty(&self) -> bool {
        self.title.is_none()
            && self.description.is_none()
            && self.status.is_none()
            && self.due_date.is_none()
    }
}
