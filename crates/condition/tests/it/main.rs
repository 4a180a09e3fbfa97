//! Integration tests of `condition`: the language and its errors as tables, every case of
//! the original's two test suites, the public API, a proof that evaluation allocates
//! nothing, and property tests against a transliteration of the original algorithm.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails by panicking"
)]

mod alloc;
mod api;
mod errors;
mod language;
mod original;
mod properties;
mod reference;

use condition::{Context, Value};

/// Builds a default-whitelist context from `name=value` words: `3` is an integer, `0.5` a
/// float, `'x'` a string (no spaces), and `nan`, `inf`, `-inf`, `-0.0`, `-3`, `u:N` (a
/// `Value::UInt`) say what they say.
pub(crate) fn context(spec: &str) -> Context {
    let mut context = Context::new();
    for word in spec.split_whitespace() {
        let (name, value) = word.split_once('=').expect("name=value");
        assert!(
            context.set(name, parse_value(value)),
            "{name} is not whitelisted"
        );
    }
    context
}

/// One value of a [`context`] spec.
pub(crate) fn parse_value(text: &str) -> Value {
    if let Some(quoted) = text.strip_prefix('\'') {
        return Value::from(quoted.strip_suffix('\'').expect("closing quote"));
    }
    if let Some(uint) = text.strip_prefix("u:") {
        return Value::UInt(uint.parse().unwrap());
    }
    match text {
        "nan" => Value::Float(f64::NAN),
        "inf" => Value::Float(f64::INFINITY),
        "-inf" => Value::Float(f64::NEG_INFINITY),
        _ if text.contains('.') => Value::Float(text.parse().unwrap()),
        _ => Value::Int(text.parse().unwrap()),
    }
}
