//! The JSON shapes of the tasks API. They are separate from the database model and
//! from the domain types: converting a request DTO is where input gets parsed.

use chrono::SecondsFormat;
use poem_openapi::types::MaybeUndefined;
use poem_openapi::{Enum, Object};
use serde::Serialize;

use super::json_string::{Date, Description, JsonString, TextSchema, Title};
use crate::domain::{
    DomainError, DueDate, NewTask, Task, TaskChanges, TaskDescription, TaskStatus, TaskTitle,
};

// Serialize: a task's body is written by serde straight from the DTO (`task_body`),
// as the same JSON as poem-openapi's (the tests there and in `list_body` hold it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, Serialize)]
#[oai(rename = "TaskStatus", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum TaskStatusDto {
    Todo,
    InProgress,
    Done,
}

/// A new task. `status` defaults to `todo` when left out (`null` is refused there);
/// `null` for `description` or `due_date` is the same as leaving it out. Unknown
/// fields are refused.
#[derive(Debug, Object)]
#[oai(rename = "CreateTask", deny_unknown_fields)]
pub struct CreateTaskDto {
    /// 1 to 200 characters once trimmed; no control characters.
    pub title: JsonString<Title>,
    /// Up to 10 000 characters; no control characters but tab and line breaks.
    #[oai(nullable)]
    pub description: Option<JsonString<Description>>,
    // No doc comment on purpose: a field's own description turns the `$ref` into
    // `allOf: [$ref, {description}]`, which generators such as openapi-python-client
    // refuse. The words are on the object above.
    pub status: MaybeUndefined<TaskStatusDto>,
    /// A date as `YYYY-MM-DD`.
    #[oai(nullable)]
    pub due_date: Option<JsonString<Date>>,
}

/// A partial update: absent fields stay as they are; `null` clears `description`
/// or `due_date` (and is refused for `title` and `status`). Unknown fields are refused.
#[derive(Debug, Object)]
#[oai(rename = "UpdateTask", deny_unknown_fields)]
pub struct UpdateTaskDto {
    /// 1 to 200 characters once trimmed; no control characters.
    pub title: MaybeUndefined<JsonString<Title>>,
    /// Up to 10 000 characters; no control characters but tab and line breaks;
    /// `null` clears it.
    #[oai(nullable)]
    pub description: MaybeUndefined<JsonString<Description>>,
    pub status: MaybeUndefined<TaskStatusDto>,
    /// A date as `YYYY-MM-DD`; `null` clears it.
    #[oai(nullable)]
    pub due_date: MaybeUndefined<JsonString<Date>>,
}

#[derive(Debug, Object, Serialize)]
#[oai(rename = "Task")]
pub struct TaskDto {
    pub id: i64,
    pub title: String,
    /// Absent when the task has none.
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub status: TaskStatusDto,
    /// `YYYY-MM-DD`; absent when the task has none.
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub due_date: Option<String>,
    /// RFC 3339, UTC, millisecond precision.
    pub created_at: String,
    /// RFC 3339, UTC, millisecond precision.
    pub updated_at: String,
}

#[derive(Debug, Object)]
#[oai(rename = "TaskList")]
pub struct TaskListDto {
    pub items: Vec<TaskDto>,
    /// How many tasks match the filter, across all pages.
    pub total: u64,
    pub limit: u64,
    pub offset: u64,
    /// The cursor of the next page, to pass as `after`; `null` on the last page.
    #[oai(nullable)]
    pub next: Option<String>,
}

impl From<TaskStatusDto> for TaskStatus {
    fn from(dto: TaskStatusDto) -> Self {
        match dto {
            TaskStatusDto::Todo => Self::Todo,
            TaskStatusDto::InProgress => Self::InProgress,
            TaskStatusDto::Done => Self::Done,
        }
    }
}

impl From<TaskStatus> for TaskStatusDto {
    fn from(status: TaskStatus) -> Self {
        match status {
            TaskStatus::Todo => Self::Todo,
            TaskStatus::InProgress => Self::InProgress,
            TaskStatus::Done => Self::Done,
        }
    }
}

impl TryFrom<CreateTaskDto> for NewTask {
    type Error = DomainError;

    fn try_from(dto: CreateTaskDto) -> Result<Self, Self::Error> {
        Ok(Self {
            title: TaskTitle::parse(&dto.title.0)?,
            description: dto
                .description
                .map(|d| TaskDescription::parse(&d.0))
                .transpose()?,
            status: required("status", dto.status)?
                .map(TaskStatus::from)
                .unwrap_or_default(),
            due_date: dto.due_date.map(|d| DueDate::parse(&d.0)).transpose()?,
        })
    }
}

impl TryFrom<UpdateTaskDto> for TaskChanges {
    type Error = DomainError;

    fn try_from(dto: UpdateTaskDto) -> Result<Self, Self::Error> {
        Ok(Self {
            title: required("title", dto.title)?
                .map(|t| TaskTitle::parse(&t.0))
                .transpose()?,
            description: clearable(dto.description, TaskDescription::parse)?,
            status: required("status", dto.status)?.map(TaskStatus::from),
            due_date: clearable(dto.due_date, DueDate::parse)?,
        })
    }
}

/// A field that may be left out but not set to `null`.
fn required<T>(field: &'static str, value: MaybeUndefined<T>) -> Result<Option<T>, DomainError> {
    match value {
        MaybeUndefined::Undefined => Ok(None),
        MaybeUndefined::Null => Err(DomainError {
            field,
            reason: "must not be null".to_owned(),
        }),
        MaybeUndefined::Value(v) => Ok(Some(v)),
    }
}

/// A field that may be left out (unchanged), `null` (cleared) or set.
fn clearable<S: TextSchema, T>(
    value: MaybeUndefined<JsonString<S>>,
    parse: impl Fn(&str) -> Result<T, DomainError>,
) -> Result<Option<Option<T>>, DomainError> {
    match value {
        MaybeUndefined::Undefined => Ok(None),
        MaybeUndefined::Null => Ok(Some(None)),
        MaybeUndefined::Value(v) => parse(&v.0).map(|parsed| Some(Some(parsed))),
    }
}

impl From<Task> for TaskDto {
    fn from(task: Task) -> Self {
        Self {
            id: task.id,
            title: task.title.into_inner(),
            description: task.description.map(TaskDescription::into_inner),
            status: task.status.into(),
            due_date: task.due_date.map(DueDate::to_iso),
            created_at: task.created_at.to_rfc3339_opts(SecondsFormat::Millis, true),
            updated_at: task.updated_at.to_rfc3339_opts(SecondsFormat::Millis, true),
        }
    }
}
