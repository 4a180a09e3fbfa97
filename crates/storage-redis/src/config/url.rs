//! Passwords in Redis URLs: hidden from messages, set from the environment.

/// Replaces the password of a `redis://user:password@host` URL, and a `pass=` query
/// parameter (how `redis+unix://` URLs carry it), with `***`.
///
/// ```
/// use storage_redis::redact_url;
///
/// assert_eq!(redact_url("redis://:hunter2@db:6379/0"), "redis://:***@db:6379/0");
/// assert_eq!(redact_url("rediss://app:s3cret@db"), "rediss://app:***@db");
/// assert_eq!(redact_url("redis://db:6379"), "redis://db:6379");
/// assert_eq!(redact_url("redis+unix:///run/redis.sock?pass=s3cret"), "redis+unix:///run/redis.sock?pass=***");
/// ```
#[must_use]
pub fn redact_url(url: &str) -> String {
    // Without `//` there is no user-info, but a query may still carry a password
    // (`unix:/run/redis.sock?pass=...` is a valid socket URL).
    let (scheme, rest) = url
        .find("://")
        .map_or(("", url), |index| url.split_at(index + 3));
    let mut redacted = String::with_capacity(url.len());
    redacted.push_str(scheme);
    // The credentials end at the last `@`: a password may hold `@`, or an unencoded `/`,
    // `?` or `#` (the URL then fails to parse, and its error shows it). Erring this way
    // hides more than needed only if a path or query holds `@`. A URL that starts with a
    // path (a Unix socket) has no credentials there.
    let location = match rest.rfind('@') {
        Some(at) if !scheme.is_empty() && !rest.starts_with('/') => {
            let credentials = &rest[..at];
            match credentials.find(':') {
                Some(colon) => {
                    redacted.push_str(&credentials[..colon]);
                    redacted.push_str(":***");
                }
                // `redis://secret@host`: a lone user-info part is a password to Redis.
                None => redacted.push_str("***"),
            }
            &rest[at..]
        }
        _ => rest,
    };
    let Some((before_query, query)) = location.split_once('?') else {
        redacted.push_str(location);
        return redacted;
    };
    redacted.push_str(before_query);
    redacted.push('?');
    for (index, pair) in query.split('&').enumerate() {
        if index > 0 {
            redacted.push('&');
        }
        match pair.split_once('=') {
            Some((name, _))
                if name.eq_ignore_ascii_case("pass") || name.eq_ignore_ascii_case("password") =>
            {
                redacted.push_str(name);
                redacted.push_str("=***");
            }
            _ => redacted.push_str(pair),
        }
    }
    redacted
}

/// The URL schemes whose password is the `pass` query parameter (redis-rs reads Unix
/// socket URLs' credentials from the query, TCP URLs' from the user-info).
const UNIX_SCHEMES: [&str; 3] = ["unix", "redis+unix", "valkey+unix"];

/// `url` with its password set to `password`; see [`RedisConfig::set_password`].
pub(super) fn with_password(url: &str, password: &str) -> String {
    let encoded = percent_encode(password);
    let Some((scheme, _)) = url.split_once(':') else {
        return url.to_owned();
    };
    if UNIX_SCHEMES
        .iter()
        .any(|unix| unix.eq_ignore_ascii_case(scheme))
    {
        return with_pass_parameter(url, &encoded);
    }
    let Some(scheme_end) = url.find("://").map(|index| index + 3) else {
        return url.to_owned();
    };
    let (scheme, rest) = url.split_at(scheme_end);
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    // As in `redact_url`, the credentials end at the last `@` of the authority.
    let (user, host) = match rest[..authority_end].rfind('@') {
        Some(at) => {
            let credentials = &rest[..at];
            let user = credentials
                .split_once(':')
                .map_or(credentials, |(user, _)| user);
            (user, &rest[at + 1..])
        }
        None => ("", rest),
    };
    format!("{scheme}{user}:{encoded}@{host}")
}

/// `url` with every `pass` query parameter removed and `pass=<encoded>` appended: the
/// client keeps the last of several, so one left behind could win.
fn with_pass_parameter(url: &str, encoded: &str) -> String {
    let (before_fragment, fragment) = url.split_at(url.find('#').unwrap_or(url.len()));
    let (path, query) = before_fragment
        .split_once('?')
        .unwrap_or((before_fragment, ""));
    let mut result = String::with_capacity(url.len() + encoded.len() + 6);
    result.push_str(path);
    result.push('?');
    for pair in query.split('&') {
        let name = pair.split_once('=').map_or(pair, |(name, _)| name);
        if !pair.is_empty() && name != "pass" {
            result.push_str(pair);
            result.push('&');
        }
    }
    result.push_str("pass=");
    result.push_str(encoded);
    result.push_str(fragment);
    result
}

/// `text` with every byte but the unreserved ones (RFC 3986) as `%XX`: safe in a
/// user-info and in a query, where the client decodes it.
fn percent_encode(text: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push('%');
            encoded.push(char::from(HEX[usize::from(byte >> 4)]));
            encoded.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RedisConfig;

    #[test]
    fn redaction_table() {
        for (url, expected) in [
            ("redis://:p@h:1/0", "redis://:***@h:1/0"),
            ("redis://u:p@ss@h", "redis://u:***@h"),
            ("redis://p@h", "redis://***@h"),
            (
                "redis://h:1/0?protocol=resp3",
                "redis://h:1/0?protocol=resp3",
            ),
            (
                "redis+unix:///tmp/redis.sock",
                "redis+unix:///tmp/redis.sock",
            ),
            ("not a url", "not a url"),
            // Unencoded `/`, `?` or `#` in a password: the URL is invalid, and its
            // error message must still not show the password.
            ("redis://u:pa/ss@h:1/0", "redis://u:***@h:1/0"),
            ("redis://:p?w@h/0", "redis://:***@h/0"),
            ("redis://:p#w@h", "redis://:***@h"),
            // Unix sockets carry the password in the query.
            (
                "redis+unix:///tmp/redis.sock?db=1&pass=hunter2",
                "redis+unix:///tmp/redis.sock?db=1&pass=***",
            ),
            (
                "unix:///run/r.sock?pass=p&user=app",
                "unix:///run/r.sock?pass=***&user=app",
            ),
            ("redis+unix:///tmp/a@b.sock", "redis+unix:///tmp/a@b.sock"),
            // A socket URL without `//` still carries its password in the query.
            ("unix:/run/r.sock?pass=p", "unix:/run/r.sock?pass=***"),
        ] {
            assert_eq!(redact_url(url), expected, "{url}");
        }
    }

    #[test]
    fn passwords_replace_or_join_the_url_credentials() {
        fn check(url: &str, password: &str, expected: &str) {
            let mut config = RedisConfig::new(url);
            config.set_password(password);
            assert_eq!(config.redis_url, expected, "{url}");
            // The client reads back exactly the password given, and logs never show it.
            // (It refuses `rediss://` without a TLS feature; the user-info reads the same.)
            let parseable = expected.replacen("rediss://", "redis://", 1);
            let info = redis::IntoConnectionInfo::into_connection_info(parseable.as_str())
                .unwrap_or_else(|error| panic!("{expected}: {error}"));
            assert_eq!(info.redis_settings().password(), Some(password), "{url}");
            let redacted = config.redacted_url();
            assert!(
                !redacted.contains(&percent_encode(password)),
                "{url}: {redacted}"
            );
        }
        // TCP: the user-info, the user kept.
        check("redis://host:6379/0", "pw", "redis://:pw@host:6379/0");
        check("redis://user@host", "pw", "redis://user:pw@host");
        check(
            "redis://user:old@host/1",
            "new pw",
            "redis://user:new%20pw@host/1",
        );
        check("rediss://:old@host", "a/b", "rediss://:a%2Fb@host");
        check(
            "redis://u:p@ss@h:1",
            "p@ss:word",
            "redis://u:p%40ss%3Aword@h:1",
        );
        check(
            "valkey://h/2?protocol=resp3",
            "pw",
            "valkey://:pw@h/2?protocol=resp3",
        );
        // Unix sockets: the `pass` query parameter, never a user-info the client refuses.
        check(
            "redis+unix:///run/redis.sock",
            "pw",
            "redis+unix:///run/redis.sock?pass=pw",
        );
        check(
            "redis+unix:///run/redis.sock?db=2&user=app",
            "p&w+ #=",
            "redis+unix:///run/redis.sock?db=2&user=app&pass=p%26w%2B%20%23%3D",
        );
        check(
            "unix:///run/r.sock?pass=old&db=1",
            "new",
            "unix:///run/r.sock?db=1&pass=new",
        );
        check(
            "valkey+unix:///s.sock?pass=a&pass=b&pass",
            "new",
            "valkey+unix:///s.sock?pass=new",
        );
        check("unix:/run/r.sock", "pw", "unix:/run/r.sock?pass=pw");
        check(
            "REDIS+UNIX:///r.sock?",
            "pw",
            "REDIS+UNIX:///r.sock?pass=pw",
        );
    }
}
