//! The `sipas` binary: logging set-up, then the command line.

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,actix_server=warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    match sipas::cli::run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lỗi (error): {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
