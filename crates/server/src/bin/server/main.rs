//! The `server` binary: parses the command line, loads the configuration (file,
//! environment, flags), installs the log subscriber, prints where it listens and any
//! generated secret once, and serves until SIGINT or SIGTERM. See the `server` library
//! for the routes, and `server --help` for the options.
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a command-line program prints its address, generated secrets and fatal errors"
)]

use std::process::ExitCode;
use std::time::Duration;

use server::{Plan, Server, ServerError};
use tokio::net::TcpListener;
use tokio::runtime::Runtime;

mod cli;
use cli::{Cli, Command, Failure, USAGE};

fn main() -> ExitCode {
    let command = match Command::parse(std::env::args().skip(1)) {
        Ok(command) => command,
        Err(failure) => return fail(&failure),
    };
    match command {
        Command::Help => {
            print!("{USAGE}");
            ExitCode::SUCCESS
        }
        Command::Version => {
            println!("server {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Command::Run(cli) => run(&cli),
    }
}

fn run(cli: &Cli) -> ExitCode {
    let plan = match cli.load_plan(|name| std::env::var(name).ok()) {
        Ok(plan) => plan,
        Err(error) => return fail(&error),
    };
    if cli.check_config {
        println!("configuration ok: {plan}");
        return ExitCode::SUCCESS;
    }
    if let Err(error) = plan.init_logging() {
        return fail(&error.into());
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(source) => return fail(&ServerError::Serve { source }.into()),
    };
    match run_to_end(runtime, start_and_serve(plan)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => fail(&error.into()),
    }
}

/// How long the exit waits for blocking tasks still running once serving ended.
const BLOCKING_TASKS_GRACE: Duration = Duration::from_secs(2);

/// Runs `future` to completion on `runtime`, then shuts the runtime down without waiting
/// more than [`BLOCKING_TASKS_GRACE`] for blocking tasks: a disk probe stuck on a dead
/// network mount never returns, and dropping the runtime would wait for it forever,
/// turning SIGTERM into a hang.
fn run_to_end<F: Future>(runtime: Runtime, future: F) -> F::Output {
    let output = runtime.block_on(future);
    runtime.shutdown_timeout(BLOCKING_TASKS_GRACE);
    output
}

async fn start_and_serve(mut plan: Plan) -> Result<(), ServerError> {
    let generated = plan.generate_missing_secrets()?;
    let address = plan.listen();
    let listener = TcpListener::bind(address)
        .await
        .map_err(|source| ServerError::Bind { address, source })?;
    let local = listener.local_addr().unwrap_or(address);
    let server = Server::start(plan).await?;
    for secret in &generated {
        // Shown once, here, never in a log line; set the variable to choose your own.
        println!(
            "generated {} (set {} to choose one; shown only now): {}",
            secret.purpose,
            secret.variable,
            secret.secret.expose()
        );
    }
    // Last, so that whoever waits for this line has seen the secrets too.
    println!("server listening on http://{local}");
    server.serve(listener, shutdown_signal()).await
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}

/// Prints `failure` with its causes and returns its exit code.
fn fail(failure: &Failure) -> ExitCode {
    eprintln!("server: {failure}");
    failure.exit_code()
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    #[test]
    fn a_stuck_blocking_task_does_not_keep_the_process_from_exiting() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        let started = Instant::now();
        // As a disk probe stuck on a dead network mount would.
        run_to_end(runtime, async {
            drop(tokio::task::spawn_blocking(|| {
                std::thread::sleep(Duration::from_secs(30));
            }));
        });
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "waited {:?} for a stuck blocking task",
            started.elapsed()
        );
    }
}
