use std::fmt;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer};

/// A token or shared secret: compared in constant time, never shown by `Debug` or
/// `Display`.
///
/// ```
/// use server::Secret;
///
/// let token = Secret::new("correct horse battery staple");
/// assert!(token.matches("correct horse battery staple"));
/// assert!(!token.matches("correct horse battery stapl"));
/// assert_eq!(format!("{token:?}"), "Secret(***)");
/// ```
// No `PartialEq`: `==` on secrets would be a comparison whose time leaks the matching
// prefix; `matches` is the one way to compare.
#[derive(Clone)]
pub struct Secret(String);

/// The shortest secret the configuration accepts, in bytes.
pub(crate) const MIN_SECRET_LEN: usize = 16;

impl Secret {
    /// Wraps `value`.
    #[must_use]
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// A random secret: 32 bytes from the operating system, as 64 hex digits.
    ///
    /// # Errors
    ///
    /// If the operating system has no randomness to give.
    pub fn generate() -> Result<Self, getrandom::Error> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes)?;
        let mut hex = String::with_capacity(64);
        for byte in bytes {
            hex.push(char::from(HEX[usize::from(byte >> 4)]));
            hex.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
        Ok(Self(hex))
    }

    /// The secret itself, for the one place it must be shown (start-up output of a
    /// generated token) or sent.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether `candidate` equals the secret, in time that depends only on the secret's
    /// length, never on where the first difference is or on the candidate's length.
    #[must_use]
    pub fn matches(&self, candidate: &str) -> bool {
        constant_time_eq(self.0.as_bytes(), candidate.as_bytes())
    }

    /// The length in bytes.
    #[must_use]
    pub const fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the secret is empty.
    #[must_use]
    pub const fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_string(SecretVisitor)
    }
}

/// Takes a string; refuses anything else without quoting it, as serde's own messages
/// would (`invalid type: integer `1234...``), since a numeric token is still a token.
struct SecretVisitor;

impl SecretVisitor {
    fn number<E: de::Error>(&self) -> Result<Secret, E> {
        Err(E::invalid_type(de::Unexpected::Other("a number"), self))
    }
}

impl Visitor<'_> for SecretVisitor {
    type Value = Secret;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a string")
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Secret, E> {
        Ok(Secret(value.to_owned()))
    }

    fn visit_string<E: de::Error>(self, value: String) -> Result<Secret, E> {
        Ok(Secret(value))
    }

    fn visit_i64<E: de::Error>(self, _value: i64) -> Result<Secret, E> {
        self.number()
    }

    fn visit_u64<E: de::Error>(self, _value: u64) -> Result<Secret, E> {
        self.number()
    }

    fn visit_i128<E: de::Error>(self, _value: i128) -> Result<Secret, E> {
        self.number()
    }

    fn visit_u128<E: de::Error>(self, _value: u128) -> Result<Secret, E> {
        self.number()
    }

    fn visit_f64<E: de::Error>(self, _value: f64) -> Result<Secret, E> {
        self.number()
    }
}

/// Compares `expected` with `candidate` touching every byte of `expected` whatever the
/// candidate is, so the time taken does not reveal a matching prefix. The loop length is
/// the expected secret's, which the caller already knows is not the secret.
fn constant_time_eq(expected: &[u8], candidate: &[u8]) -> bool {
    let mut difference = u8::from(expected.len() != candidate.len());
    for (index, byte) in expected.iter().enumerate() {
        let other = candidate.get(index).copied().unwrap_or(!*byte);
        difference |= std::hint::black_box(byte ^ other);
    }
    std::hint::black_box(difference) == 0
}

/// The value of an `Authorization: Bearer <token>` header, if that is its form.
pub(crate) fn bearer(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|token| !token.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_eq_is_plain_equality() {
        fn check(expected: &str, candidate: &str, equal: bool) {
            assert_eq!(
                constant_time_eq(expected.as_bytes(), candidate.as_bytes()),
                equal,
                "{expected:?} vs {candidate:?}"
            );
        }
        check("secret", "secret", true);
        check("secret", "secreT", false);
        check("secret", "secre", false);
        check("secret", "secrets", false);
        check("secret", "", false);
        check("", "", true);
        check("", "x", false);
        // A candidate whose missing tail would match zero bytes is still refused.
        check("ab\0", "ab", false);
    }

    #[test]
    fn generated_secrets_are_64_hex_digits_and_differ() {
        let first = Secret::generate().unwrap();
        let second = Secret::generate().unwrap();
        assert_eq!(first.len(), 64);
        assert!(first.expose().bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(first.expose(), second.expose());
        assert!(first.matches(first.expose()));
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let secret = Secret::new("hunter2hunter2hunter2");
        assert!(!format!("{secret:?}").contains("hunter2"));
    }

    #[test]
    fn bearer_tokens_are_read_case_insensitively() {
        fn check(header: &str, expected: Option<&str>) {
            assert_eq!(bearer(header), expected, "{header:?}");
        }
        check("Bearer abc", Some("abc"));
        check("bearer abc", Some("abc"));
        check("BEARER  abc ", Some("abc"));
        check("Basic abc", None);
        check("Bearer", None);
        check("Bearer ", None);
        check("abc", None);
    }
}
