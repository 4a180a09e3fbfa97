//! The command line, parsed by hand: six flags do not justify a parser dependency.
//! The binary's own: the library knows nothing of flags.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use server::{Config, LogFormat, Plan, ServerError};

/// The help text of `server --help`.
pub(crate) const USAGE: &str = "\
usage: server [options]

Serves health, readiness, state, Prometheus metrics, the fallback mode and alert
webhooks over HTTP. With no options it runs the embedded default: MemoryStorage, a
disk check on /, a storage check, a cascade every 5 s, on 127.0.0.1:8000.

options:
  --config PATH        read this TOML configuration file
  --listen ADDR        listen on ADDR (e.g. 0.0.0.0:8000), overrides server.listen
  --storage BACKEND    `memory` or a redis:// URL (no TLS), overrides [storage]
  --log-format FORMAT  `human` or `json`, overrides log.format
  --log-level FILTER   e.g. `info` or `info,server=debug`, overrides log.level
  --check-config       validate the configuration, print a summary and exit
  -h, --help           print this help
  -V, --version        print the version

environment (secrets stay out of files and process listings):
  RESILIENCE_ADMIN_TOKEN               bearer token of the write routes
  RESILIENCE_WEBHOOK_SECRET_DATADOG    shared secret of /monitoring/datadog/webhook
  RESILIENCE_WEBHOOK_SECRET_NEWRELIC   shared secret of /monitoring/newrelic/webhook
  RESILIENCE_REDIS_URL                 selects Redis at this URL
  RESILIENCE_REDIS_PASSWORD            the Redis password, put into the URL
A secret left unset is generated at start-up and printed once.
";

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Command {
    /// Run (or with `check_config`, only validate) with these options.
    Run(Cli),
    /// Print [`USAGE`].
    Help,
    /// Print the version.
    Version,
}

/// The options of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Cli {
    /// `--config PATH`.
    pub(crate) config: Option<PathBuf>,
    /// `--listen ADDR`.
    pub(crate) listen: Option<SocketAddr>,
    /// `--storage BACKEND`.
    pub(crate) storage: Option<String>,
    /// `--log-format FORMAT`.
    pub(crate) log_format: Option<LogFormat>,
    /// `--log-level FILTER`.
    pub(crate) log_level: Option<String>,
    /// `--check-config`.
    pub(crate) check_config: bool,
}

/// Why the binary stops: a command line it cannot use, or the library's error.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The command line could not be understood; the message has a hint.
    Usage(String),
    /// Reading, validating, starting or serving failed.
    Server(ServerError),
}

impl From<ServerError> for Failure {
    fn from(error: ServerError) -> Self {
        Self::Server(error)
    }
}

impl Failure {
    /// The exit code: 2 for the command line and the configuration, 1 for the rest.
    pub(crate) fn exit_code(&self) -> ExitCode {
        match self {
            Self::Usage(_)
            | Self::Server(
                ServerError::Config { .. }
                | ServerError::ConfigSyntax { .. }
                | ServerError::ConfigFile { .. },
            ) => ExitCode::from(2),
            Self::Server(_) => ExitCode::FAILURE,
        }
    }
}

/// The message, with every cause of a library error.
impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Usage(message) => f.write_str(message),
            Self::Server(error) => error.report().fmt(f),
        }
    }
}

impl Command {
    /// Parses the arguments after the program name. Each option takes its value as the
    /// next argument or after `=` (`--listen=0.0.0.0:8000`).
    ///
    /// Errors are [`Failure::Usage`] naming the flag for an unknown flag, a missing value
    /// or a value that does not parse.
    pub(crate) fn parse<I, S>(args: I) -> Result<Self, Failure>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut cli = Cli::default();
        let mut args = args.into_iter().map(Into::into);
        while let Some(arg) = args.next() {
            let (flag, inline) = match arg.split_once('=') {
                Some((flag, value)) if flag.starts_with("--") => {
                    (flag.to_owned(), Some(value.to_owned()))
                }
                _ => (arg, None),
            };
            let mut value = |flag: &str| {
                inline
                    .clone()
                    .or_else(|| args.next())
                    .ok_or_else(|| usage(format!("{flag} needs a value")))
            };
            match flag.as_str() {
                "-h" | "--help" => return Ok(Self::Help),
                "-V" | "--version" => return Ok(Self::Version),
                "--check-config" => cli.check_config = true,
                "--config" => cli.config = Some(PathBuf::from(value("--config")?)),
                "--listen" => {
                    let text = value("--listen")?;
                    cli.listen = Some(text.parse().map_err(|_| {
                        usage(format!(
                            "--listen: {text:?} is not an address such as 127.0.0.1:8000"
                        ))
                    })?);
                }
                "--storage" => cli.storage = Some(value("--storage")?),
                "--log-format" => {
                    let text = value("--log-format")?;
                    cli.log_format = Some(
                        text.parse()
                            .map_err(|message| usage(format!("--log-format: {message}")))?,
                    );
                }
                "--log-level" => cli.log_level = Some(value("--log-level")?),
                other => {
                    return Err(usage(format!("unknown option {other:?} (see --help)")));
                }
            }
        }
        Ok(Self::Run(cli))
    }
}

impl Cli {
    /// The configuration: the file (or the embedded default), then the environment
    /// through `env`, then these flags, validated into the plan; an error about the key
    /// a flag set names the flag.
    pub(crate) fn load_plan(&self, env: impl Fn(&str) -> Option<String>) -> Result<Plan, Failure> {
        let mut config = match &self.config {
            Some(path) => Config::from_file(path)?,
            None => Config::default(),
        };
        config.apply_env(env);
        if let Some(listen) = self.listen {
            config.set_listen(listen);
        }
        if let Some(storage) = &self.storage {
            if storage == "memory" {
                config.use_memory_storage();
            } else if storage.starts_with("redis://") || storage.starts_with("rediss://") {
                config.use_redis_storage(storage.clone());
            } else {
                return Err(usage(
                    "--storage: expected `memory` or a redis:// URL".to_owned(),
                ));
            }
        }
        if let Some(format) = self.log_format {
            config.set_log_format(format);
        }
        if let Some(level) = &self.log_level {
            config.set_log_level(level.clone());
        }
        config.validate().map_err(|error| {
            let flag = match error.key() {
                Some("log.level") if self.log_level.is_some() => "--log-level",
                Some("storage.redis_url") if self.storage.is_some() => "--storage",
                _ => return Failure::Server(error),
            };
            let message = match &error {
                ServerError::Config { message, .. } => message.clone(),
                other => other.to_string(),
            };
            usage(format!("{flag}: {message}"))
        })
    }
}

fn usage(message: String) -> Failure {
    Failure::Usage(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Cli {
        match Command::parse(args.iter().copied()).unwrap() {
            Command::Run(cli) => cli,
            other => panic!("{other:?}"),
        }
    }

    fn check_usage(args: &[&str], message: &str) {
        let error = Command::parse(args.iter().copied()).unwrap_err();
        assert!(matches!(error, Failure::Usage(_)), "{error:?}");
        assert!(error.to_string().contains(message), "{args:?}: {error}");
        assert_eq!(error.exit_code(), ExitCode::from(2));
    }

    #[test]
    fn flags_take_values_after_a_space_or_an_equals_sign() {
        let cli = run(&[
            "--config",
            "a.toml",
            "--listen=0.0.0.0:9000",
            "--storage",
            "memory",
        ]);
        assert_eq!(cli.config, Some(PathBuf::from("a.toml")));
        assert_eq!(cli.listen.unwrap().to_string(), "0.0.0.0:9000");
        assert_eq!(cli.storage.as_deref(), Some("memory"));
        let cli = run(&[
            "--log-format",
            "json",
            "--log-level=debug",
            "--check-config",
        ]);
        assert_eq!(cli.log_format, Some(LogFormat::Json));
        assert_eq!(cli.log_level.as_deref(), Some("debug"));
        assert!(cli.check_config);
        assert_eq!(run(&[]), Cli::default());
        assert_eq!(Command::parse(["-h"]).unwrap(), Command::Help);
        assert_eq!(Command::parse(["--version"]).unwrap(), Command::Version);
    }

    #[test]
    fn bad_flags_are_named() {
        check_usage(&["--listen"], "--listen needs a value");
        check_usage(&["--listen", "localhost"], "--listen: \"localhost\"");
        check_usage(&["--log-format", "xml"], "--log-format: unknown log format");
        check_usage(&["--verbose"], "unknown option \"--verbose\"");
        check_usage(&["serve"], "unknown option \"serve\"");
    }

    #[test]
    fn flags_override_the_environment_which_overrides_the_file() {
        let cli = run(&[
            "--storage",
            "redis://127.0.0.1:6390/0",
            "--listen",
            "127.0.0.1:0",
        ]);
        let plan = cli.load_plan(|_| None).unwrap();
        assert!(
            plan.to_string()
                .contains("storage redis at redis://127.0.0.1:6390/0"),
            "{plan}"
        );
        assert_eq!(plan.listen().port(), 0);

        let memory = run(&["--storage", "memory"]);
        let plan = memory
            .load_plan(|name| {
                (name == "RESILIENCE_REDIS_URL").then(|| "redis://127.0.0.1:1/0".to_owned())
            })
            .unwrap();
        assert!(plan.to_string().contains("storage memory"), "{plan}");

        let error = run(&["--storage", "etcd://x"])
            .load_plan(|_| None)
            .unwrap_err();
        assert!(error.to_string().contains("--storage"), "{error}");
        let error = run(&["--log-level", "loud"])
            .load_plan(|_| None)
            .unwrap_err();
        assert!(error.to_string().contains("--log-level"), "{error}");
        let error = run(&["--config", "/nonexistent/server.toml"])
            .load_plan(|_| None)
            .unwrap_err();
        assert!(
            matches!(error, Failure::Server(ServerError::ConfigFile { .. })),
            "{error}"
        );
        assert_eq!(error.exit_code(), ExitCode::from(2));
    }
}
