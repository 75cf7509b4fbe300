use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    tune_allocator();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("the tokio runtime starts");
    runtime.block_on(async {
        runway::cli::init_tracing();
        match runway::cli::run(runway::cli::Cli::parse()).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(message) => {
                tracing::error!("{message}");
                eprintln!("runway: {message}");
                ExitCode::FAILURE
            }
        }
    })
}

/// glibc's malloc raises its mmap threshold after each large free and keeps freed memory in
/// one arena per thread: the 19 MiB argon2 buffer of every password hashed stayed resident in
/// each blocking thread that hashed one (100 MB after the demo's six people). A fixed
/// threshold hands such buffers back when freed; two arenas bound the rest. 8 MiB, not 1: the
/// compressor's few-MiB buffers of each page then come from the heap instead of being mapped,
/// faulted in and unmapped per response (a plan page: 215 pages/s at 1 MiB, 279 at 8, the same
/// 38 MB resident). Before any thread.
fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator settings; called before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 8 << 20);
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}
