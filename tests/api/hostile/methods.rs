//! Methods a route does not have, known and made up: 405, with `Allow`.

use super::{Case, method, refuse_all};
use crate::harness::TestApp;

pub fn cases() -> Vec<Case> {
    vec![
        method("PUT", "/api/tasks/{id}", 405),
        method("POST", "/api/tasks/{id}", 405),
        method("DELETE", "/api/tasks", 405),
        method("PATCH", "/api/tasks", 405),
        method("TRACE", "/api/tasks", 405),
        method("FOO", "/api/tasks", 405),
        method("POST", "/health", 405),
        method("DELETE", "/openapi.json", 405),
        method("POST", "/docs", 405),
    ]
}

async fn wrong_methods_get_405_with_allow_and_change_nothing(app: &TestApp) {
    refuse_all(app, "methods", cases()).await;
}

crate::api_tests!(wrong_methods_get_405_with_allow_and_change_nothing);
