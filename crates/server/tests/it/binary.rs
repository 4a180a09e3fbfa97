//! The real binary: start-up failures, `--check-config`, secrets kept out of logs,
//! SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::support::{JSON, Reply, request};

/// The environment variables the binary documents, spelled out: renaming one breaks
/// every deployment that sets it, so it must break this test too.
const ADMIN_TOKEN_VAR: &str = "RESILIENCE_ADMIN_TOKEN";
const DATADOG_SECRET_VAR: &str = "RESILIENCE_WEBHOOK_SECRET_DATADOG";
const NEWRELIC_SECRET_VAR: &str = "RESILIENCE_WEBHOOK_SECRET_NEWRELIC";
const REDIS_URL_VAR: &str = "RESILIENCE_REDIS_URL";
const REDIS_PASSWORD_VAR: &str = "RESILIENCE_REDIS_PASSWORD";
const VARIABLES: [&str; 5] = [
    ADMIN_TOKEN_VAR,
    DATADOG_SECRET_VAR,
    NEWRELIC_SECRET_VAR,
    REDIS_URL_VAR,
    REDIS_PASSWORD_VAR,
];

fn binary() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_server"));
    for variable in VARIABLES {
        command.env_remove(variable);
    }
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

/// A configuration file in a fresh temporary folder.
fn config_file(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("server-it-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("server.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Runs the binary to completion: exit code, stdout, stderr.
async fn run(args: &[&str]) -> (i32, String, String) {
    let output = tokio::time::timeout(Duration::from_secs(60), binary().args(args).output())
        .await
        .expect("the binary did not exit within 60 s")
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_configurations_stop_start_up_naming_the_key() {
    async fn check(name: &str, toml: &str, key: &str, detail: &str) {
        let path = config_file(name, toml);
        let path = path.to_str().unwrap();
        // Refused alike when starting and when only checking.
        for args in [
            vec!["--config", path, "--listen", "127.0.0.1:0"],
            vec!["--config", path, "--check-config"],
        ] {
            let (code, stdout, stderr) = run(&args).await;
            assert_eq!(code, 2, "{name} {args:?}: {stdout}{stderr}");
            assert!(stderr.contains(&format!("`{key}`")), "{name}: {stderr}");
            assert!(stderr.contains(detail), "{name}: {stderr} lacks {detail:?}");
            assert!(!stdout.contains("listening"), "{name} started: {stdout}");
            assert!(
                !stderr.contains("hunter2"),
                "{name}: a password in {stderr}"
            );
        }
    }
    check(
        "unknown-key",
        "[server]\nlisen = \"0.0.0.0:8000\"\n",
        "server.lisen",
        "unknown field `lisen`",
    )
    .await;
    check(
        "bad-condition",
        "[[fallbacks]]\nname = \"hot\"\ncondition = \"severity >= 0.8 and (step < 3\"\n",
        "fallbacks[0].condition",
        "expected ')'",
    )
    .await;
    check(
        "bad-value",
        "[cascade]\ninterval = -5\n",
        "cascade.interval",
        "cannot be negative",
    )
    .await;
    check(
        "redis-key",
        "[storage]\nredis_url = \"redis://:hunter2hunter2@127.0.0.1:1/0\"\ntimeout = \"soon\"\n",
        "storage.timeout",
        "\"soon\" is not a duration",
    )
    .await;

    let (code, _, stderr) = run(&["--listen", "nowhere"]).await;
    assert_eq!(code, 2);
    assert!(stderr.contains("--listen"), "{stderr}");
    let (code, _, stderr) = run(&["--config", "/nonexistent/server.toml"]).await;
    assert_eq!(code, 2);
    assert!(stderr.contains("/nonexistent/server.toml"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_config_validates_and_exits() {
    let path = config_file(
        "good",
        "[storage]\nredis_url = \"redis://:hunter2hunter2@127.0.0.1:6390/0\"\n[[checks.http]]\nname = \"billing\"\nurl = \"http://127.0.0.1:9/health\"\n",
    );
    let (code, stdout, stderr) = run(&["--config", path.to_str().unwrap(), "--check-config"]).await;
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.starts_with("configuration ok: listen 127.0.0.1:8000"),
        "{stdout}"
    );
    assert!(
        stdout.contains("storage redis at redis://:***@127.0.0.1:6390/0"),
        "{stdout}"
    );
    assert!(
        stdout.contains("checks [disk, storage, billing]"),
        "{stdout}"
    );
    assert!(!stdout.contains("hunter2") && !stderr.contains("hunter2"));
    let (code, stdout, _) = run(&["--help"]).await;
    assert_eq!(code, 0);
    assert!(stdout.contains("--check-config"));
    for variable in VARIABLES {
        assert!(
            stdout.contains(variable),
            "--help lacks {variable}: {stdout}"
        );
    }
}

/// A running binary and its output.
struct Running {
    child: Child,
    addr: SocketAddr,
    stdout: String,
}

/// Starts the binary with `args` and `env` and reads stdout up to the listening line.
async fn start(args: &[&str], env: &[(&str, &str)]) -> Running {
    let mut command = binary();
    command.args(args);
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command.spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut stdout = String::new();
    let addr = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            stdout.push_str(&line);
            stdout.push('\n');
            if let Some(addr) = line.strip_prefix("server listening on http://") {
                return addr.parse::<SocketAddr>().unwrap();
            }
        }
        panic!("the binary exited before listening: {stdout}");
    })
    .await
    .expect("the binary did not listen within 60 s");
    // Generated secrets come before the listening line: everything is read.
    Running {
        child,
        addr,
        stdout,
    }
}

impl Running {
    async fn post(&self, path: &str, headers: &[(&str, &str)], body: &str) -> Reply {
        request(
            self.addr,
            "POST",
            path,
            headers,
            Some(body.as_bytes().to_vec()),
        )
        .await
        .unwrap()
    }

    /// Sends SIGTERM and returns the exit code and everything written to stderr.
    async fn terminate(mut self) -> (i32, String) {
        let pid = self.child.id().unwrap();
        let status = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let mut stderr = String::new();
        self.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .await
            .unwrap();
        let status = tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .expect("no exit within 30 s of SIGTERM")
            .unwrap();
        (status.code().unwrap_or(-1), stderr)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_log_line_reveals_a_token_a_secret_or_the_redis_password() {
    let admin = "admin-token-never-logged-4f1c";
    let datadog = "datadog-secret-never-logged-77ab";
    let newrelic = "newrelic-secret-never-logged-9e02";
    let password = "redis-password-never-logged-c3d0";
    // Nothing listens on port 1: every storage call fails and gets logged.
    let running = start(
        &[
            "--listen",
            "127.0.0.1:0",
            "--log-level",
            "trace",
            "--log-format",
            "json",
        ],
        &[
            (ADMIN_TOKEN_VAR, admin),
            (DATADOG_SECRET_VAR, datadog),
            (NEWRELIC_SECRET_VAR, newrelic),
            (REDIS_URL_VAR, "redis://127.0.0.1:1/0"),
            (REDIS_PASSWORD_VAR, password),
        ],
    )
    .await;
    let bearer = format!("Bearer {admin}");
    let wrong = format!("Bearer {admin}-wrong");
    running
        .post(
            "/fallback/mode",
            &[JSON, ("authorization", &bearer)],
            r#"{"mode": "safe"}"#,
        )
        .await
        .expect(200);
    running
        .post(
            "/fallback/mode",
            &[JSON, ("authorization", &wrong)],
            r#"{"mode": "safe"}"#,
        )
        .await
        .expect(401);
    running
        .post(
            "/monitoring/register",
            &[JSON, ("authorization", &bearer)],
            r#"{"provider": "datadog", "name": "x"}"#,
        )
        .await
        .expect(503);
    running
        .post(
            "/monitoring/datadog/webhook",
            &[JSON, ("x-webhook-secret", datadog)],
            r#"{"alert_type": "error", "check": "db"}"#,
        )
        .await
        .expect(200);
    running
        .post(
            "/monitoring/newrelic/webhook",
            &[JSON, ("x-webhook-secret", datadog)],
            "{}",
        )
        .await
        .expect(401);
    let stdout = running.stdout.clone();
    let (code, stderr) = running.terminate().await;
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("shutting down"), "{stderr}");
    assert!(stderr.contains("\"stopped\""), "{stderr}");
    assert!(
        stderr.contains("storage is unreachable"),
        "the outage was logged: {stderr}"
    );
    assert!(
        stderr.contains("redis://:***@127.0.0.1:1/0"),
        "the redacted URL is logged: {stderr}"
    );
    for secret in [admin, datadog, newrelic, password] {
        assert!(!stderr.contains(secret), "{secret} in the logs: {stderr}");
        assert!(!stdout.contains(secret), "{secret} on stdout: {stdout}");
    }
    // Every line is JSON, as asked, with the request span on request events.
    for line in stderr.lines().filter(|line| !line.is_empty()) {
        let event: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|error| panic!("{error}: {line}"));
        assert!(
            event["timestamp"].is_string() && event["level"].is_string(),
            "{line}"
        );
    }
    assert!(
        stderr
            .lines()
            .any(|line| line.contains("\"request completed\"")
                && line.contains(r#""path":"/fallback/mode""#)
                && line.contains("\"status\":401")),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generated_admin_token_is_printed_once_and_works() {
    let running = start(&["--listen", "127.0.0.1:0"], &[]).await;
    let lines: Vec<&str> = running
        .stdout
        .lines()
        .filter(|line| line.starts_with("generated admin token"))
        .collect();
    assert_eq!(lines.len(), 1, "{}", running.stdout);
    let token = lines[0].rsplit(' ').next().unwrap().to_owned();
    assert_eq!(token.len(), 64);
    assert_eq!(running.stdout.matches(&token).count(), 1);
    assert!(running.stdout.contains("generated datadog webhook secret"));
    assert!(running.stdout.contains("generated newrelic webhook secret"));
    let bearer = format!("Bearer {token}");
    running
        .post(
            "/fallback/mode",
            &[JSON, ("authorization", &bearer)],
            r#"{"mode": "heuristic"}"#,
        )
        .await
        .expect(200);
    let (code, stderr) = running.terminate().await;
    assert_eq!(code, 0, "{stderr}");
    assert!(!stderr.contains(&token), "{stderr}");
}
