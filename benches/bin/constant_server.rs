//! The floor of `cargo xtask e2e-bench`: a bare axum server whose one route returns a
//! constant, the same body `/health/ready` returns. Whatever the resilience server adds
//! on top (state, JSON, the request span, metrics) shows as the difference.
//!
//! It also answers `/bare` (the constant as a routed handler) and `/layered` (the same
//! with the `web` crate's `ResilienceLayer`), to measure the layer alone:
//! `e2e-load --url URL --floor URL --routes /bare,/layered`.
//!
//! Usage: `constant-server [--listen ADDR]` (default `127.0.0.1:0`); prints
//! `listening on http://ADDR` once it accepts connections.
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a command-line tool prints its address and errors"
)]

use std::process::ExitCode;
use std::sync::Arc;

use axum::Router;
use axum::http::header;
use axum::routing::get;
use axum::serve::ListenerExt;
use health::HealthMonitor;
use storage::MemoryStorage;
use web::ResilienceState;
use web::layer::ResilienceLayer;

#[tokio::main]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut listen = "127.0.0.1:0".to_owned();
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--listen", Some(address)) => listen = address,
            _ => {
                eprintln!("usage: constant-server [--listen ADDR]");
                return ExitCode::from(2);
            }
        }
    }
    match serve(&listen).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("constant-server: {error}");
            ExitCode::FAILURE
        }
    }
}

/// The constant answer.
async fn constant() -> ([(header::HeaderName, &'static str); 1], &'static str) {
    (
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"status":"ready"}"#,
    )
}

async fn serve(listen: &str) -> std::io::Result<()> {
    // `/bare` and `/layered`: the same handler as a route, without and with the `web`
    // crate's ResilienceLayer (on a MemoryStorage state, every route essential): the
    // layer's own cost is their difference.
    let state = ResilienceState::builder(Arc::new(MemoryStorage::new()))
        .monitor(HealthMonitor::builder().without_resources())
        .build()
        .map_err(std::io::Error::other)?;
    let router = Router::new()
        .route("/bare", get(constant))
        .route(
            "/layered",
            get(constant).layer(ResilienceLayer::new(&state)),
        )
        .fallback(get(constant));
    let listener = tokio::net::TcpListener::bind(listen).await?;
    println!("listening on http://{}", listener.local_addr()?);
    // As the resilience server does, so both are measured alike.
    let listener = listener.tap_io(|stream| {
        let _ = stream.set_nodelay(true);
    });
    axum::serve(listener, router).await
}
