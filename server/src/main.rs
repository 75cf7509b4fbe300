use clap::Parser;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    runway::cli::init_tracing();
    match runway::cli::run(runway::cli::Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            tracing::error!("{message}");
            eprintln!("runway: {message}");
            ExitCode::FAILURE
        }
    }
}
