use std::process::ExitCode;

fn main() -> ExitCode {
    tasks_backend::cli::run()
}
