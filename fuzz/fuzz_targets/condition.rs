//! `condition`: arbitrary bytes as a condition (and limits, and a context) must never
//! panic, and every accepted condition must keep the crate's promises: errors point inside
//! the source, the canonical form round-trips, and the truth-table fast path agrees with
//! the general evaluator (reached through a context of another whitelist).
#![no_main]

use condition::{ConditionParser, Context, DEFAULT_VARIABLES, Error, Value};
use libfuzzer_sys::fuzz_target;

/// The default names in another order: a context of this whitelist is read by name, on
/// the general path.
const SHUFFLED: [&str; 5] = [
    "duration",
    "step",
    "confidence",
    "recurrence_count",
    "severity",
];

fuzz_target!(|data: &[u8]| {
    let Some((&limits, rest)) = data.split_first() else {
        return;
    };
    let (source, values) = match rest.iter().position(|&byte| byte == 0xff) {
        Some(at) => (&rest[..at], &rest[at + 1..]),
        None => (rest, &[][..]),
    };
    let source = String::from_utf8_lossy(source);
    let parser = match limits % 4 {
        0 => ConditionParser::new(),
        1 => ConditionParser::new()
            .max_tokens(usize::from(limits))
            .max_depth(usize::from(limits / 8)),
        2 => ConditionParser::new().max_len(usize::from(limits) * 4),
        _ => ConditionParser::new()
            .max_tokens(usize::MAX)
            .max_depth(usize::MAX)
            .max_len(usize::MAX),
    };
    let condition = match parser.parse(&source) {
        Ok(condition) => condition,
        Err(error) => {
            if let Some(offset) = error.offset() {
                assert!(
                    offset <= source.len() && source.is_char_boundary(offset),
                    "{error:?}"
                );
            }
            let _ = error.to_string();
            return;
        }
    };
    for name in condition.variables() {
        assert!(DEFAULT_VARIABLES.contains(&name));
    }

    let unlimited = ConditionParser::new()
        .max_tokens(usize::MAX)
        .max_depth(usize::MAX)
        .max_len(usize::MAX);
    let canonical = condition.to_string();
    let reparsed = unlimited
        .parse(&canonical)
        .expect("the canonical form parses");
    assert_eq!(reparsed.to_string(), canonical);

    let shuffled = ConditionParser::new()
        .variables(SHUFFLED)
        .expect("valid names");
    let mut fast = Context::new();
    let mut general = shuffled.context();
    for (name, chunk) in DEFAULT_VARIABLES.iter().zip(values.chunks(9)) {
        let Some(value) = value(chunk) else { continue };
        fast.set(name, value.clone());
        general.set(name, value);
    }
    let expected = condition.evaluate(&fast);
    for outcome in [condition.evaluate(&general), reparsed.evaluate(&fast)] {
        assert!(
            same(&expected, &outcome),
            "{source:?}: {expected:?} vs {outcome:?}"
        );
    }
});

/// A value from a kind byte and up to eight payload bytes.
fn value(chunk: &[u8]) -> Option<Value> {
    let (&kind, payload) = chunk.split_first()?;
    let mut bytes = [0; 8];
    bytes[..payload.len()].copy_from_slice(payload);
    let bits = u64::from_le_bytes(bytes);
    Some(match kind % 8 {
        0 => return None,
        1 => Value::Int(bits as i64),
        2 => Value::Int(i64::from(bits as i16)),
        3 => Value::from(bits),
        4 => Value::Float(f64::from_bits(bits)),
        5 => Value::Float(f64::from(bits as u16) / 64.0),
        _ => Value::from(String::from_utf8_lossy(&payload[..payload.len().min(3)]).into_owned()),
    })
}

/// The same result, or the same error up to its position.
fn same(left: &Result<bool, Error>, right: &Result<bool, Error>) -> bool {
    match (left, right) {
        (Ok(left), Ok(right)) => left == right,
        (
            Err(Error::MissingVariable { name: left }),
            Err(Error::MissingVariable { name: right }),
        ) => left == right,
        (Err(Error::TypeMismatch { op: left, .. }), Err(Error::TypeMismatch { op: right, .. })) => {
            left == right
        }
        _ => false,
    }
}
