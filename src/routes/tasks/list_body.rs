//! A task list written out as it is serialised, a chunk at a time.
//!
//! A page can hold 500 tasks of 10 000 characters: about 5 MB of JSON. poem-openapi's
//! `Json` would first copy the whole page into a `serde_json::Value` and then into one
//! growing buffer, so a page held three to four times its size at once. Here each task
//! is serialised only when the socket is ready for more, and dropped once written: a
//! list in flight holds its tasks plus one chunk, and less as it goes.

use bytes::{BufMut, Bytes, BytesMut};
use poem::{Body, IntoResponse, Response};
use poem_openapi::payload::Payload;
use poem_openapi::registry::{MetaSchemaRef, Registry};
use poem_openapi::types::Type;

use super::dto::{TaskDto, TaskListDto};

/// How much JSON one chunk carries, give or take one task: large enough that the
/// per-chunk overhead does not show, small next to the per-connection write buffer.
const CHUNK_BYTES: usize = 16 * 1024;

/// The body of `GET /api/tasks`: documented as a `TaskList`, sent as chunks.
#[derive(Debug)]
pub struct TaskListJson(pub TaskListDto);

impl Payload for TaskListJson {
    const CONTENT_TYPE: &'static str = "application/json; charset=utf-8";

    fn schema_ref() -> MetaSchemaRef {
        TaskListDto::schema_ref()
    }

    fn register(registry: &mut Registry) {
        TaskListDto::register(registry);
    }
}

impl IntoResponse for TaskListJson {
    fn into_response(self) -> Response {
        let TaskListDto {
            items,
            total,
            limit,
            offset,
            next,
        } = self.0;
        // A cursor is base64url, but its JSON is written by serde all the same.
        let next = serde_json::Value::from(next);
        let chunks = Chunks::new(
            items,
            format!(r#"],"total":{total},"limit":{limit},"offset":{offset},"next":{next}}}"#),
        );
        Response::builder()
            .content_type(Self::CONTENT_TYPE)
            .body(Body::from_bytes_stream(futures_util::stream::iter(
                chunks.map(Ok::<_, std::io::Error>),
            )))
    }
}

/// What opens the page; until a task has gone out, also what comes before the tail.
const HEAD: &[u8] = br#"{"items":["#;

/// `{"items":[`, the tasks a chunk's worth at a time, then the totals.
struct Chunks {
    items: std::vec::IntoIter<TaskDto>,
    /// What closes the object; `None` once it has gone out.
    tail: Option<String>,
    /// What goes before the next task: [`HEAD`] before the first, then `,`.
    separator: &'static [u8],
}

impl Chunks {
    fn new(items: Vec<TaskDto>, tail: String) -> Self {
        Self {
            items: items.into_iter(),
            tail: Some(tail),
            separator: HEAD,
        }
    }
}

impl Iterator for Chunks {
    type Item = Bytes;

    fn next(&mut self) -> Option<Bytes> {
        let tail = self.tail.take()?;
        let mut chunk = BytesMut::with_capacity(CHUNK_BYTES + 1024).writer();
        for item in self.items.by_ref() {
            chunk.get_mut().put_slice(self.separator);
            self.separator = b",";
            // Writing strings and numbers into memory cannot fail.
            let _ = serde_json::to_writer(&mut chunk, &item);
            if chunk.get_ref().len() >= CHUNK_BYTES {
                self.tail = Some(tail);
                return Some(chunk.into_inner().freeze());
            }
        }
        let mut chunk = chunk.into_inner();
        if self.separator == HEAD {
            // An empty page.
            chunk.put_slice(HEAD);
        }
        chunk.put_slice(tail.as_bytes());
        Some(chunk.freeze())
    }
}

#[cfg(test)]
mod tests {
    use poem_openapi::types::ToJSON;

    use super::*;
    use crate::routes::tasks::TaskStatusDto;

    fn task(id: i64, description_len: usize) -> TaskDto {
        TaskDto {
            id,
            title: format!("task {id}"),
            description: Some("d".repeat(description_len)),
            status: TaskStatusDto::Todo,
            due_date: None,
            created_at: "2026-11-27T00:00:00.000Z".to_owned(),
            updated_at: "2026-11-27T00:00:00.000Z".to_owned(),
        }
    }

    fn page(items: Vec<TaskDto>) -> TaskListDto {
        TaskListDto {
            total: 1000,
            limit: 500,
            offset: 7,
            next: Some("AQEA".to_owned()),
            items,
        }
    }

    #[test]
    fn chunks_join_into_the_same_json_as_the_dto() {
        let cases: &[(&str, usize, usize)] = &[
            ("empty page", 0, 0),
            ("one small task", 1, 10),
            ("tasks that all fit one chunk", 5, 100),
            ("tasks that end exactly at a chunk boundary", 4, CHUNK_BYTES),
            ("a page of many chunks", 500, 10_000),
        ];
        for &(case, count, description_len) in cases {
            let expected = page(
                (1..=count as i64)
                    .map(|i| task(i, description_len))
                    .collect(),
            );
            let expected = expected.to_json().expect("a DTO serialises");
            let chunks = Chunks::new(
                (1..=count as i64)
                    .map(|i| task(i, description_len))
                    .collect(),
                r#"],"total":1000,"limit":500,"offset":7,"next":"AQEA"}"#.to_owned(),
            );
            let chunks: Vec<Bytes> = chunks.collect();
            let largest = chunks.iter().map(Bytes::len).max().unwrap_or(0);
            assert!(
                largest <= CHUNK_BYTES + description_len + 1024,
                "{case}: a chunk of {largest} bytes"
            );
            let joined: Vec<u8> = chunks.concat();
            let parsed: serde_json::Value = serde_json::from_slice(&joined)
                .unwrap_or_else(|err| panic!("{case}: not JSON ({err})"));
            assert_eq!(parsed, expected, "{case}");
        }
    }

    /// What goes out whole: the tail with `next` as a string or `null`.
    #[tokio::test]
    async fn the_body_is_the_dtos_json_with_or_without_a_next_page() {
        for next in [Some("AQEBAAAAAAAAAGTc2h5V".to_owned()), None] {
            let dto = || TaskListDto {
                total: 3,
                limit: 2,
                offset: 0,
                next: next.clone(),
                items: vec![task(1, 5), task(2, 5)],
            };
            let expected = dto().to_json().expect("a DTO serialises");
            let body = TaskListJson(dto())
                .into_response()
                .into_body()
                .into_bytes()
                .await
                .expect("the body");
            let parsed: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
            assert_eq!(parsed, expected, "next {next:?}");
        }
    }
}
