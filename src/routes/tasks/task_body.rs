//! One task as a response body, serialised straight from the DTO.
//!
//! poem-openapi's `Json` first copies the DTO into a `serde_json::Value` (a map of
//! copied strings) and then writes that out; here serde writes the DTO itself, once
//! (bench/lean.sh). The document still says `Task`, and the tests below hold the
//! bytes to the same JSON as the DTO's `to_json`.

use poem::{IntoResponse, Response};
use poem_openapi::payload::Payload;
use poem_openapi::registry::{MetaSchemaRef, Registry};
use poem_openapi::types::Type;

use super::super::problem;
use super::dto::TaskDto;

/// The body of a task operation's success: documented as a `Task`.
#[derive(Debug)]
pub struct TaskJson(pub TaskDto);

impl Payload for TaskJson {
    const CONTENT_TYPE: &'static str = "application/json; charset=utf-8";

    fn schema_ref() -> MetaSchemaRef {
        TaskDto::schema_ref()
    }

    fn register(registry: &mut Registry) {
        TaskDto::register(registry);
    }
}

impl IntoResponse for TaskJson {
    fn into_response(self) -> Response {
        match serde_json::to_vec(&self.0) {
            Ok(body) => Response::builder()
                .content_type(Self::CONTENT_TYPE)
                .body(body),
            // Strings and numbers only: serde_json has nothing to refuse here.
            Err(err) => problem::problem_response(&poem::Error::new(
                err,
                poem::http::StatusCode::INTERNAL_SERVER_ERROR,
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use poem_openapi::types::ToJSON;

    use super::super::dto::TaskStatusDto;
    use super::*;

    #[tokio::test]
    async fn the_body_is_the_dtos_json() {
        let with_all = TaskDto {
            id: 7,
            title: "a \"quoted\" title \u{e9}".to_owned(),
            description: Some("line\nbreak\ttab".to_owned()),
            status: TaskStatusDto::InProgress,
            due_date: Some("2026-12-31".to_owned()),
            created_at: "2026-12-02T10:00:00.123Z".to_owned(),
            updated_at: "2026-12-02T11:00:00.000Z".to_owned(),
        };
        let without = TaskDto {
            id: 8,
            title: "t".to_owned(),
            description: None,
            status: TaskStatusDto::Done,
            due_date: None,
            created_at: "2026-12-02T10:00:00.000Z".to_owned(),
            updated_at: "2026-12-02T10:00:00.000Z".to_owned(),
        };
        for (name, dto) in [("every field", with_all), ("no optional field", without)] {
            let expected = dto.to_json().expect("a DTO serialises");
            let response = TaskJson(dto).into_response();
            assert_eq!(
                response.content_type(),
                Some(TaskJson::CONTENT_TYPE),
                "{name}"
            );
            let body = response.into_body().into_vec().await.expect("a body");
            let parsed: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
            assert_eq!(parsed, expected, "{name}");
        }
    }
}
