//! Secrets and the environment: the variables that set secrets and Redis (so they stay
//! out of files and process listings), and the secrets generated when none is set.

use super::Config;
use super::plan::{Plan, SecretSlot};
use crate::auth::Secret;
use crate::error::ServerError;

/// The environment variable of the admin token.
pub(crate) const ADMIN_TOKEN_VAR: &str = "RESILIENCE_ADMIN_TOKEN";
/// The environment variable of the Datadog webhook secret.
pub(crate) const DATADOG_SECRET_VAR: &str = "RESILIENCE_WEBHOOK_SECRET_DATADOG";
/// The environment variable of the New Relic webhook secret.
pub(crate) const NEWRELIC_SECRET_VAR: &str = "RESILIENCE_WEBHOOK_SECRET_NEWRELIC";
/// The environment variable of the Redis URL; setting it selects the Redis backend.
pub(crate) const REDIS_URL_VAR: &str = "RESILIENCE_REDIS_URL";
/// The environment variable of the Redis password, put into the Redis URL.
pub(crate) const REDIS_PASSWORD_VAR: &str = "RESILIENCE_REDIS_PASSWORD";

impl Config {
    /// Applies the environment on top of what is configured: the admin token
    /// (`RESILIENCE_ADMIN_TOKEN`), the webhook secrets
    /// (`RESILIENCE_WEBHOOK_SECRET_DATADOG`, `RESILIENCE_WEBHOOK_SECRET_NEWRELIC`), the
    /// Redis URL (`RESILIENCE_REDIS_URL`, which selects Redis) and password
    /// (`RESILIENCE_REDIS_PASSWORD`, put into the URL). An empty variable counts as
    /// unset. `lookup` is `|name| std::env::var(name).ok()` in the binary, a map in
    /// tests. The values are checked by [`validate`](Self::validate), like the file's.
    pub fn apply_env(&mut self, lookup: impl Fn(&str) -> Option<String>) {
        let present = |name: &str| lookup(name).filter(|value| !value.is_empty());
        if let Some(token) = present(ADMIN_TOKEN_VAR) {
            self.auth.admin_token = Some(Secret::new(token));
        }
        if let Some(secret) = present(DATADOG_SECRET_VAR) {
            self.auth.webhook_secrets.datadog = Some(Secret::new(secret));
        }
        if let Some(secret) = present(NEWRELIC_SECRET_VAR) {
            self.auth.webhook_secrets.newrelic = Some(Secret::new(secret));
        }
        if let Some(url) = present(REDIS_URL_VAR) {
            self.use_redis_storage(url);
        }
        if let Some(password) = present(REDIS_PASSWORD_VAR) {
            self.storage.password = Some(Secret::new(password));
        }
    }
}

/// A secret the server generated because none was configured; shown once, by whoever
/// asked for it ([`Plan::generate_missing_secrets`]).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct GeneratedSecret {
    /// What it is for, e.g. `admin token`.
    pub purpose: &'static str,
    /// Where it can be set instead, e.g. `RESILIENCE_ADMIN_TOKEN`.
    pub variable: &'static str,
    /// The secret.
    pub secret: Secret,
}

impl Plan {
    /// Generates every secret left unset (the admin token, each webhook secret) and
    /// returns them, so the caller can show them once. [`Server::start`](crate::Server::start)
    /// generates any still missing itself, and never shows them.
    ///
    /// # Errors
    ///
    /// [`ServerError::Startup`] if the operating system has no randomness to give.
    pub fn generate_missing_secrets(&mut self) -> Result<Vec<GeneratedSecret>, ServerError> {
        let auth = &mut self.auth;
        let slots = std::iter::once(&mut auth.admin_token).chain(
            auth.webhook_secrets
                .iter_mut()
                .map(|webhook| &mut webhook.secret),
        );
        let mut generated = Vec::new();
        for slot in slots {
            if let Some(secret) = fill(slot)? {
                generated.push(GeneratedSecret {
                    purpose: slot.purpose,
                    variable: slot.variable,
                    secret,
                });
            }
        }
        Ok(generated)
    }
}

/// Generates the secret of `slot` if it has none, and returns it.
fn fill(slot: &mut SecretSlot) -> Result<Option<Secret>, ServerError> {
    if slot.secret.is_some() {
        return Ok(None);
    }
    let secret =
        Secret::generate().map_err(|error| ServerError::startup("secret generation", error))?;
    slot.secret = Some(secret.clone());
    Ok(Some(secret))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_sets_secrets_and_redis() {
        let mut config = Config::default();
        config.apply_env(|name: &str| match name {
            ADMIN_TOKEN_VAR => Some("0123456789abcdef-admin".to_owned()),
            REDIS_URL_VAR => Some("redis://127.0.0.1:6390/0".to_owned()),
            REDIS_PASSWORD_VAR => Some("p@ss:word".to_owned()),
            NEWRELIC_SECRET_VAR => Some(String::new()),
            _ => None,
        });
        let plan = config.validate().unwrap();
        let admin = plan.auth.admin_token.secret.as_ref().unwrap();
        assert!(admin.matches("0123456789abcdef-admin"));
        assert!(
            plan.auth
                .webhook_secrets
                .iter()
                .all(|webhook| webhook.secret.secret.is_none()),
            "an empty variable is unset"
        );
        let debug = format!("{:?}", plan.storage.storage);
        assert!(debug.contains("redis://:***@127.0.0.1:6390/0"), "{debug}");
        assert!(!debug.contains("p%40ss"), "{debug}");

        let mut memory = Config::default();
        memory.apply_env(|name| (name == REDIS_PASSWORD_VAR).then(|| "x".to_owned()));
        let error = memory.validate().unwrap_err();
        assert_eq!(error.key(), Some("storage.redis_url"));
        assert!(!error.to_string().contains("\"x\""));

        let mut short = Config::default();
        short.apply_env(|name| (name == ADMIN_TOKEN_VAR).then(|| "short".to_owned()));
        let error = short.validate().unwrap_err();
        assert_eq!(error.key(), Some("auth.admin_token"));
        assert!(!error.to_string().contains("short\""));
    }

    #[test]
    fn the_redis_password_goes_into_the_url() {
        let mut config = Config::default();
        config.apply_env(|name: &str| match name {
            REDIS_URL_VAR => Some("redis://127.0.0.1:6390/0".to_owned()),
            REDIS_PASSWORD_VAR => Some("p@ss:word".to_owned()),
            _ => None,
        });
        let redis = super::super::validate::redis_config(&config.storage)
            .unwrap()
            .unwrap();
        assert_eq!(redis.redis_url, "redis://:p%40ss%3Aword@127.0.0.1:6390/0");
    }

    #[test]
    fn missing_secrets_are_generated_once() {
        let mut config =
            Config::from_toml_str("[auth]\nadmin_token = \"configured-token-0123\"").unwrap();
        config.apply_env(|_| None);
        let mut plan = config.validate().unwrap();
        let generated = plan.generate_missing_secrets().unwrap();
        let described: Vec<_> = generated
            .iter()
            .map(|secret| (secret.purpose, secret.variable))
            .collect();
        assert_eq!(
            described,
            [
                ("datadog webhook secret", DATADOG_SECRET_VAR),
                ("newrelic webhook secret", NEWRELIC_SECRET_VAR)
            ]
        );
        assert!(
            plan.auth
                .admin_token
                .secret
                .as_ref()
                .unwrap()
                .matches("configured-token-0123")
        );
        let datadog = &plan.auth.webhook_secrets[0].secret;
        assert!(
            datadog
                .secret
                .as_ref()
                .unwrap()
                .matches(generated[0].secret.expose())
        );
        assert!(plan.generate_missing_secrets().unwrap().is_empty());
    }
}
