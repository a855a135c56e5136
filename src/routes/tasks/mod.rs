mod document;
mod dto;
mod json_string;
mod list_body;

use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi};

pub use document::close_request_bodies;
pub use dto::{CreateTaskDto, TaskDto, TaskListDto, TaskStatusDto, UpdateTaskDto};
use list_body::TaskListJson;

use super::ApiTags;
use super::bounds::{bounded, bounded_list};
use super::problem::{ApiError, ProblemResponse};
use crate::db::{TaskQuery, TaskStore};
use crate::domain::{NewTask, TaskChanges};

#[derive(Debug, ApiResponse)]
pub enum CreateTaskResponse {
    /// Created; `Location` is the new task's URL.
    #[oai(status = 201)]
    Created(Json<TaskDto>, #[oai(header = "Location")] String),
}

#[derive(Debug, ApiResponse)]
pub enum ListTasksResponse {
    #[oai(status = 200)]
    Ok(TaskListJson),
}

#[derive(Debug, ApiResponse)]
pub enum TaskResponse {
    #[oai(status = 200)]
    Ok(Json<TaskDto>),
}

#[derive(Debug, ApiResponse)]
pub enum DeleteTaskResponse {
    /// Deleted.
    #[oai(status = 204)]
    Deleted,
}

type ApiResult<T> = Result<T, ProblemResponse>;

fn default_limit() -> u64 {
    50
}

pub struct TasksApi {
    pub store: TaskStore,
}

// Every operation names its bounds (`transform`, see `bounds`).
#[OpenApi(prefix_path = "/api/tasks", tag = "ApiTags::Tasks")]
impl TasksApi {
    /// Create a task.
    #[oai(
        path = "/",
        method = "post",
        operation_id = "create_task",
        transform = "bounded"
    )]
    async fn create_task(&self, body: Json<CreateTaskDto>) -> ApiResult<CreateTaskResponse> {
        let new = NewTask::try_from(body.0)?;
        let task = self.store.create(new).await?;
        let location = format!("/api/tasks/{}", task.id);
        Ok(CreateTaskResponse::Created(Json(task.into()), location))
    }

    /// List tasks in id order, optionally only those with one status.
    #[oai(
        path = "/",
        method = "get",
        operation_id = "list_tasks",
        transform = "bounded_list"
    )]
    async fn list_tasks(
        &self,
        status: Query<Option<TaskStatusDto>>,
        /// Page size, 1 to 500.
        #[oai(
            default = "default_limit",
            validator(minimum(value = "1"), maximum(value = "500"))
        )]
        limit: Query<u64>,
        /// How many matching tasks to skip.
        #[oai(
            default,
            validator(minimum(value = "0"), maximum(value = "1000000000000"))
        )]
        offset: Query<u64>,
    ) -> ApiResult<ListTasksResponse> {
        let query = TaskQuery {
            status: status.0.map(Into::into),
            limit: limit.0,
            offset: offset.0,
        };
        let page = self.store.list(query).await?;
        Ok(ListTasksResponse::Ok(TaskListJson(TaskListDto {
            items: page.items.into_iter().map(TaskDto::from).collect(),
            total: page.total,
            limit: query.limit,
            offset: query.offset,
        })))
    }

    /// Get one task.
    #[oai(
        path = "/:id",
        method = "get",
        operation_id = "get_task",
        transform = "bounded"
    )]
    async fn get_task(&self, id: Path<i64>) -> ApiResult<TaskResponse> {
        match self.store.get(id.0).await? {
            Some(task) => Ok(TaskResponse::Ok(Json(task.into()))),
            None => Err(ApiError::TaskNotFound(id.0).into()),
        }
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
        id: Path<i64>,
        body: Json<UpdateTaskDto>,
    ) -> ApiResult<TaskResponse> {
        let changes = TaskChanges::try_from(body.0)?;
        match self.store.update(id.0, changes).await? {
            Some(task) => Ok(TaskResponse::Ok(Json(task.into()))),
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
    async fn delete_task(&self, id: Path<i64>) -> ApiResult<DeleteTaskResponse> {
        if self.store.delete(id.0).await? {
            Ok(DeleteTaskResponse::Deleted)
        } else {
            Err(ApiError::TaskNotFound(id.0).into())
        }
    }
}
