//! The same checks against the image, as users run it: a container of
//! `TASKS_TEST_IMAGE` with its tokens file mounted read-only as a secret. Run by
//! `scripts/test/image-api.sh IMAGE` (a CI stage per image), which asserts that
//! every test here ran; `rust_tests` skips this module (`--skip in_image::`), since
//! no image exists yet when it runs.

use crate::harness::spawn_image_with;
use crate::tokens::{
    MountedSecret, TokenFile, every_operation_answers_each_credential_as_documented,
    rotation_under_load_loses_no_request,
};

/// Where the tests mount a secret's directory, as Kubernetes and Docker do.
const SECRET_DIR: &str = "/run/secrets/tasks";
const SECRET_FILE: &str = "/run/secrets/tasks/tokens";

#[tokio::test]
#[ignore = "needs TASKS_TEST_IMAGE: run by scripts/test/image-api.sh"]
async fn tokens_every_operation_answers_each_credential_as_documented() {
    let tokens = TokenFile::new();
    let app = spawn_image_with(
        &[("API_TOKENS_FILE", SECRET_FILE)],
        &[(tokens.open_to_the_image(), SECRET_DIR)],
    )
    .await;
    every_operation_answers_each_credential_as_documented(&app, &tokens).await;
}

#[tokio::test]
#[ignore = "needs TASKS_TEST_IMAGE: run by scripts/test/image-api.sh"]
async fn tokens_rotation_under_load_loses_no_request_with_a_valid_token() {
    let mut secret = MountedSecret::for_rotation();
    let app = spawn_image_with(
        &[("API_TOKENS_FILE", SECRET_FILE)],
        &[(secret.dir(), SECRET_DIR)],
    )
    .await;
    rotation_under_load_loses_no_request(app, &mut secret).await;
}
