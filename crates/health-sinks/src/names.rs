//! Prometheus name rules, applied before anything reaches the exporter (which would
//! otherwise rewrite silently, or render invalid text for an empty name).

use std::borrow::Cow;

/// Rewrites `name` into `[a-zA-Z_][a-zA-Z0-9_]*`: every other character becomes `_`, and a
/// leading digit gets a `_` in front (so `5xx_errors` keeps its digit). Colons are
/// replaced too: the data model reserves them for recording rules.
///
/// Returns the input unchanged (borrowed) when it already conforms. The empty name has no
/// valid form and is returned as is; callers reject it.
pub(crate) fn normalize_metric_name(name: &str) -> Cow<'_, str> {
    let starts_with_digit = name.bytes().next().is_some_and(|b| b.is_ascii_digit());
    if !starts_with_digit && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Cow::Borrowed(name);
    }
    let mut normalized = String::with_capacity(name.len() + 1);
    if starts_with_digit {
        normalized.push('_');
    }
    normalized.extend(name.chars().map(identifier_char));
    Cow::Owned(normalized)
}

/// Rewrites a label key like [`normalize_metric_name`], and also collapses a leading `__`
/// (reserved for Prometheus' own labels, e.g. `__name__`) to a single `_`.
pub(crate) fn normalize_label_key(key: &str) -> Cow<'_, str> {
    let normalized = normalize_metric_name(key);
    // Checked after mapping: a key of two non-ASCII characters becomes `__` too.
    let underscores = normalized.bytes().take_while(|&b| b == b'_').count();
    if underscores < 2 {
        return normalized;
    }
    Cow::Owned(normalized[underscores - 1..].to_owned())
}

fn identifier_char(c: char) -> char {
    if c.is_ascii_alphanumeric() || c == '_' {
        c
    } else {
        '_'
    }
}

/// Prepares a label value or help text for `metrics-exporter-prometheus` 0.18, whose
/// escaper reads an existing `\\` as an already escaped backslash (so `a\\b` and `a\b`
/// would render alike and a `\` before `"` would vanish). Doubling every backslash first
/// makes its output the exact escape of the input; a test pins this against the exporter.
pub(crate) fn prepare_for_exporter_escaping(value: &str) -> Cow<'_, str> {
    if value.contains('\\') {
        Cow::Owned(value.replace('\\', "\\\\"))
    } else {
        Cow::Borrowed(value)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn is_legacy_identifier(s: &str) -> bool {
        let mut bytes = s.bytes();
        bytes
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
            && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
    }

    #[test]
    fn metric_names_are_normalized_to_the_legacy_charset() {
        fn check(name: &str, expected: &str, borrowed: bool) {
            let normalized = normalize_metric_name(name);
            assert_eq!(normalized, expected, "{name:?}");
            assert_eq!(matches!(normalized, Cow::Borrowed(_)), borrowed, "{name:?}");
        }
        check("health_check_status", "health_check_status", true);
        check("_private", "_private", true);
        check("__dunder", "__dunder", true);
        check("db-connection", "db_connection", false);
        check("http.requests", "http_requests", false);
        check("with space", "with_space", false);
        check("rule:ratio", "rule_ratio", false);
        check("5xx_errors", "_5xx_errors", false);
        check("ünïcode name", "_n_code_name", false);
        check("", "", true);
    }

    #[test]
    fn label_keys_are_normalized_and_never_reserved() {
        fn check(key: &str, expected: &str) {
            assert_eq!(normalize_label_key(key), expected, "{key:?}");
        }
        check("check", "check");
        check("_private", "_private");
        check("check-name", "check_name");
        check("1bad", "_1bad");
        check("__reserved", "_reserved");
        check("__name__", "_name__");
        check("___x-y", "_x_y");
        check("__", "_");
        check("__1", "_1");
        check("a b", "a_b");
        check("ünï", "_n_");
        check("éé", "_");
    }

    #[test]
    fn only_backslashes_are_doubled_for_the_exporter() {
        fn check(value: &str, expected: &str) {
            assert_eq!(prepare_for_exporter_escaping(value), expected, "{value:?}");
        }
        check("plain \"quoted\"\nline", "plain \"quoted\"\nline");
        check(r"C:\temp", r"C:\\temp");
        check(r"\\", r"\\\\");
        check(r#"\""#, r#"\\""#);
    }

    proptest! {
        #[test]
        fn normalized_names_and_keys_are_valid_identifiers(name in "\\PC{1,24}") {
            let metric = normalize_metric_name(&name);
            prop_assert!(is_legacy_identifier(&metric), "{:?} -> {:?}", name, metric);
            let key = normalize_label_key(&name);
            prop_assert!(is_legacy_identifier(&key), "{:?} -> {:?}", name, key);
            prop_assert!(!key.starts_with("__"), "{:?} -> {:?}", name, key);
        }

        #[test]
        fn valid_identifiers_are_kept(name in "[a-zA-Z][a-zA-Z0-9_]{0,20}") {
            prop_assert_eq!(normalize_metric_name(&name), name.as_str());
            prop_assert_eq!(normalize_label_key(&name), name.as_str());
        }
    }
}
