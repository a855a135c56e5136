mod cursor;
mod document;
mod dto;
mod hot_get;
mod json_string;
mod list_body;
mod task_body;

use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi};

pub use cursor::CursorError;
pub use document::{close_request_bodies, require_tokens};
pub use dto::{CreateTaskDto, TaskDto, TaskListDto, TaskStatusDto, UpdateTaskDto};
pub use hot_get::with_hot_get;
use list_body::TaskListJson;
use task_body::TaskJson;

use super::ApiTags;
use super::auth::ApiAuth;
use super::bounds::{bounded, bounded_list};
use super::problem::{ApiError, ProblemResponse};
use crate::db::{TaskQuery, TaskStore};
use crate::domain::{NewTask, TaskChanges};
use cursor::Cursor;

#[derive(Debug, ApiResponse)]
pub enum CreateTaskResponse {
    /// Created; `Location` is the new task's URL.
    #[oai(status = 201)]
    Created(TaskJson, #[oai(header = "Location")] String),
}

#[derive(Debug, ApiResponse)]
pub enum ListTasksResponse {
    /// A page. `Link` is the URL of the next page (`rel="next"`), absent on the last.
    #[oai(status = 200)]
    Ok(TaskListJson, #[oai(header = "Link")] Option<String>),
}

#[derive(Debug, ApiResponse)]
pub enum TaskResponse {
    #[oai(status = 200)]
    Ok(TaskJson),
}

#[derive(Debug, ApiResponse)]
pub enum DeleteTaskResponse {
    /// Deleted.
    #[oai(status = 204)]
    Deleted,
}

type ApiResult<T> = Result<T, ProblemResponse>;

/// The `Link` header of a page that has a next one. The cursor is base64url and
/// statuses are snake_case words, so nothing here needs escaping.
fn next_link(query: &TaskQuery, cursor: &str) -> String {
    let status = query
        .status
        .map(|s| format!("&status={}", s.as_str()))
        .unwrap_or_default();
    format!(
        "</api/tasks?limit={}{status}&after={cursor}>; rel=\"next\"",
        query.limit
    )
}

/// One task, as `get_task` answers it; `hot_get` answers a plain GET with this too.
async fn task_by_id(store: &TaskStore, id: i64) -> ApiResult<TaskResponse> {
    match store.get(id).await? {
        Some(task) => Ok(TaskResponse::Ok(TaskJson(task.into()))),
        None => Err(ApiError::TaskNotFound(id).into()),
    }
}

fn default_limit() -> u64 {
    50
}

pub struct TasksApi {
    pub store: TaskStore,
    /// The deepest `offset` served (MAX_LIST_OFFSET): an offset reads every row it skips.
    pub max_list_offset: u64,
}

// Every operation names its bounds (`transform`, see `bounds`) and declares the
// bearer scheme (`ApiAuth`, checked before by `auth::guard`).
#[OpenApi(prefix_path = "/api/tasks", tag = "ApiTags::Tasks")]
impl TasksApi {
    /// Create a task.
    #[oai(
        path = "/",
        method = "post",
        operation_id = "create_task",
        transform = "bounded"
    )]
    async fn create_task(
        &self,
        _auth: ApiAuth,
        body: Json<CreateTaskDto>,
    ) -> ApiResult<CreateTaskResponse> {
        let new = NewTask::try_from(body.0)?;
        let task = self.store.create(new).await?;
        let location = format!("/api/tasks/{}", task.id);
        Ok(CreateTaskResponse::Created(TaskJson(task.into()), location))
    }

    /// List tasks in id order, optionally only those with one status.
    ///
    /// Page by cursor: each page's `next` (also its `Link: rel="next"` header) is the
    /// `after` of the page that follows; `null` on the last page. A page by cursor
    /// costs the same wherever it is in the list, and a walk by cursor neither skips
    /// nor repeats a task that exists throughout, whatever is written meanwhile.
    /// `offset` is kept for older clients: it is slow (the tasks it skips are read)
    /// and bounded by the server's MAX_LIST_OFFSET (10 000 by default); past it, 400.
    #[oai(
        path = "/",
        method = "get",
        operation_id = "list_tasks",
        transform = "bounded_list"
    )]
    async fn list_tasks(
        &self,
        _auth: ApiAuth,
        status: Query<Option<TaskStatusDto>>,
        /// Page size, 1 to 500.
        #[oai(
            default = "default_limit",
            validator(minimum(value = "1"), maximum(value = "500"))
        )]
        limit: Query<u64>,
        /// The `next` of the page before: this page starts after it. Only valid with
        /// the same `status` as that page's request.
        // What `Cursor::encode` writes, as `cursor`'s tests hold it to. A value
        // of this shape that the server did not issue is still refused (400).
        #[oai(validator(pattern = "^[A-Za-z0-9_-]{20}$"))]
        after: Query<Option<String>>,
        /// Deprecated in favour of `after`: how many matching tasks to skip, at most
        /// the server's MAX_LIST_OFFSET (10 000 by default). Not with `after`.
        #[oai(
            default,
            deprecated,
            validator(minimum(value = "0"), maximum(value = "1000000000000"))
        )]
        offset: Query<u64>,
    ) -> ApiResult<ListTasksResponse> {
        let status = status.0.map(Into::into);
        let after = match after.0.as_deref() {
            None => None,
            Some(_) if offset.0 > 0 => return Err(ApiError::CursorWithOffset.into()),
            Some(raw) => Some(Cursor::parse_for(raw, status).map_err(ApiError::from)?),
        };
        if offset.0 > self.max_list_offset {
            return Err(ApiError::OffsetTooDeep {
                offset: offset.0,
                max: self.max_list_offset,
            }
            .into());
        }
        let query = TaskQuery {
            status,
            after,
            limit: limit.0,
            offset: offset.0,
        };
        let page = self.store.list(query).await?;
        let next = page
            .more
            .then(|| page.items.last().map(|task| task.id))
            .flatten()
            .map(|after_id| Cursor { status, after_id }.encode());
        let link = next.as_deref().map(|cursor| next_link(&query, cursor));
        let list = TaskListDto {
            items: page.items.into_iter().map(TaskDto::from).collect(),
            total: page.total,
            limit: query.limit,
            offset: query.offset,
            next,
        };
        Ok(ListTasksResponse::Ok(TaskListJson(list), link))
    }

    /// Get one task.
    // A plain GET is answered by `hot_get` before the router reaches this; this
    // declares it and answers the rest (HEAD, an id with a sign).
    #[oai(
        path = "/:id",
        method = "get",
        operation_id = "get_task",
        transform = "bounded"
    )]
    async fn get_task(&self, _auth: ApiAuth, id: Path<i64>) -> ApiResult<TaskResponse> {
        task_by_id(&self.store, id.0).await
    }

    /// Change some fields of a task.
    #[oai(
        path = "/:id",
        method = "patch",
        operation_id = "update_task",
        transform = "bounded"
    )]
    async fn update_task(
        &self,
        _auth: ApiAuth,
        id: Path<i64>,
        body: Json<UpdateTaskDto>,
    ) -> ApiResult<TaskResponse> {
        let changes = TaskChanges::try_from(body.0)?;
        match self.store.update(id.0, changes).await? {
            Some(task) => Ok(TaskResponse::Ok(TaskJson(task.into()))),
            None => Err(ApiError::TaskNotFound(id.0).into()),
        }
    }

    /// Delete a task.
    #[oai(
        path = "/:id",
        method = "delete",
        operation_id = "delete_task",
        transform = "bounded"
    )]
    async fn delete_task(&self, _auth: ApiAuth, id: Path<i64>) -> ApiResult<DeleteTaskResponse> {
        if self.store.delete(id.0).await? {
            Ok(DeleteTaskResponse::Deleted)
        } else {
            Err(ApiError::TaskNotFound(id.0).into())
        }
    }
}
