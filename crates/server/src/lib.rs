//! `server` is the process a new user runs first: one axum binary that serves the
//! workspace's libraries over HTTP. It builds one storage (`MemoryStorage`, or
//! `RedisAdapter` when configured), one `HealthMonitor` refreshing its checks in the
//! background, and one `FallbackManager` cascading on the monitor's latest state, and
//! every route reads those same instances, so readiness, state and the mode never
//! disagree.
//!
//! | Route | Answer |
//! |-------|--------|
//! | `GET /health/live`, `/livez` | 200 `{status: "alive", timestamp}` unless a critical check tagged `live` fails (none by default) |
//! | `GET /health/ready`, `/readyz` | 200 in every mode (`{status: "ready"}` when all is well, else with the mode and the degraded checks); 503 only while starting, while shutting down, or when a critical readiness check fails past its threshold |
//! | `GET /health/startup`, `/startupz` | 200 once every `startup` check passed and every critical readiness check ran, for good; 503 before |
//! | `GET /health/group/{name}` | a `[health.groups]` group: its members' statuses (their results with details shown), 503 when a critical member fails |
//! | `GET /health/state` | the monitor's cached state, `fallback: {mode, hold, cascade_log}`, `storage` (check messages and metadata, component errors and metadata hidden unless details are shown) |
//! | `GET /health/checks` | the latest check results (details as for the state) |
//! | `GET /health/cascade` | cascade now on the cached state (one tick of the loop): `{fallback_mode, previous_mode, changed, held, timestamp}` |
//! | `POST /health/cascade` | admin: re-run expired checks, cascade; the same answer |
//! | `GET /metrics`, `GET /health/metrics` | Prometheus text exposition |
//! | `GET /fallback/transitions?limit=N` | the newest transitions |
//! | `GET /fallback/metrics` | the manager's metrics |
//! | `GET /fallback/mode` | the current mode and the operator's hold |
//! | `POST /fallback/mode` | admin: `{mode, hold_seconds?}`, the operator's override: held until released (absent), one-shot (`0`) or for that long |
//! | `DELETE /fallback/mode` | admin: release the hold, cascade now, return the mode and what was released |
//! | `POST /fallback/evaluate` | admin: run the configured fallback rules on posted variables |
//! | `POST /monitoring/{provider}/webhook` | webhook secret: Datadog or New Relic alerts, 200 `{ingested: n}` |
//! | `POST /monitoring/register` | admin: `{provider, name, config}`, kept in storage |
//!
//! Bad input gets a 4xx with a JSON body `{"error": code, "detail": message}`, never a
//! 500: malformed JSON 400, missing or wrong credentials 401, unknown provider or route
//! 404, body over the limit (1 MiB) 413, wrong content type 415, valid JSON of the wrong
//! shape 422. A storage outage never fails a read route: answers come from memory and
//! say `storage: {status: "degraded"}`.
//!
//! Details (check messages and metadata with URLs and paths, alert texts) follow
//! `[health] show_details`, as Spring Boot's `show-details`: `never`, `when_authorized`
//! (the default: with the admin token) or `always`.
//!
//! An operator's hold (`POST /fallback/mode`) outranks everything automatic: no cascade
//! (the loop, a webhook's, `/health/cascade`) and no fallback rule changes a held mode.
//!
//! What it deliberately does not do: health, fallback or alert logic of its own (that
//! lives in the libraries; the server only wires them), TLS on its own listener (put it
//! behind a proxy or a mesh; it does speak TLS to `https://` downstream checks), or
//! coordinating the mode across replicas.
//!
//! The binary is `cargo run --release -p server` (see `server --help`); tests and
//! embedders read a [`Config`], [validate](Config::validate) it once into a [`Plan`],
//! and [`serve`] that:
//!
//! ```
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use server::{Config, serve};
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! // A busy machine's CPU must not send this example to SAFE (and readiness to 503).
//! let mut config =
//!     Config::from_toml_str("[cascade]\ninterval = \"1s\"\nsafe_on_critical_resources = false")?;
//! // Secrets come from the environment (here a stand-in for `std::env::var`).
//! config.apply_env(|name| (name == "RESILIENCE_ADMIN_TOKEN").then(|| "an-admin-token-for-the-docs".to_owned()));
//! let plan = config.validate()?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let address = listener.local_addr()?;
//! let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
//! let running = tokio::spawn(serve(plan, listener, async move { let _ = stopped.await; }));
//!
//! let mut stream = tokio::net::TcpStream::connect(address).await?;
//! stream
//!     .write_all(b"GET /health/ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
//!     .await?;
//! let mut answer = String::new();
//! stream.read_to_string(&mut answer).await?;
//! assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
//! assert!(answer.ends_with(r#"{"status":"ready"}"#));
//!
//! stop.send(()).ok();
//! running.await??;
//! # Ok(())
//! # }
//! ```
//!
//! The root is what an embedder needs, no more:
//!
//! | Name | What |
//! |------|------|
//! | [`Config`] | the configuration as written: TOML (or any serde format), the environment, overrides |
//! | [`Plan`] | the configuration checked once ([`Config::validate`]); what start-up runs |
//! | [`Server`], [`serve`] | start a plan, then serve it on a listener until a shutdown future completes |
//! | [`ServerError`] | why the configuration was refused, or start-up or serving failed |
//! | [`Secret`], [`GeneratedSecret`] | tokens and webhook secrets, compared in constant time, never printed |
//! | [`LogFormat`] | human or JSON log lines, for [`Config::set_log_format`] |
//!
//! The routes, the request telemetry and the wiring of the libraries are private; the
//! command line belongs to the binary.
//!
//! The crate has no cargo features.

mod app;

mod auth;
pub use auth::Secret;

mod config;
pub use config::{Config, GeneratedSecret, Plan};

mod error;
pub use error::ServerError;

mod http;

mod routes;

mod serve;
pub use serve::{Server, serve};

mod telemetry;
pub use telemetry::LogFormat;
