//! The glob matcher agrees with a literal transcription of Redis' `stringmatchlen` (the
//! recursive C function, quirks included) on random patterns and keys.

use proptest::prelude::*;
use storage::{GlobPattern, escape_glob};

/// Redis' `stringmatchlen`, transcribed line by line (case-sensitive). Indices replace the
/// C pointers; reading past the end yields 0, as the C code reads the NUL terminator.
fn redis_stringmatch(pattern: &[u8], string: &[u8]) -> bool {
    let mut skip_longer = false;
    redis_match_at(pattern, 0, string, 0, &mut skip_longer, 0)
}

fn redis_match_at(
    pat: &[u8],
    mut pi: usize,
    st: &[u8],
    mut si: usize,
    skip_longer: &mut bool,
    nesting: usize,
) -> bool {
    if nesting > 1000 {
        return false;
    }
    let at = |i: usize| pat.get(i).copied().unwrap_or(0);
    let signed = |b: u8| i32::from(b as i8);
    while pi < pat.len() && si < st.len() {
        match pat[pi] {
            b'*' => {
                while pi < pat.len() && at(pi + 1) == b'*' {
                    pi += 1;
                }
                if pat.len() - pi == 1 {
                    return true;
                }
                while si < st.len() {
                    if redis_match_at(pat, pi + 1, st, si, skip_longer, nesting + 1) {
                        return true;
                    }
                    if *skip_longer {
                        return false;
                    }
                    si += 1;
                }
                *skip_longer = true;
                return false;
            }
            b'?' => si += 1,
            b'[' => {
                pi += 1;
                let negated = at(pi) == b'^';
                if negated {
                    pi += 1;
                }
                let mut matched = false;
                loop {
                    if at(pi) == b'\\' && pat.len() - pi >= 2 {
                        pi += 1;
                        if pat[pi] == st[si] {
                            matched = true;
                        }
                    } else if at(pi) == b']' {
                        break;
                    } else if pi == pat.len() {
                        pi -= 1;
                        break;
                    } else if pat.len() - pi >= 3 && pat[pi + 1] == b'-' {
                        let (mut start, mut end) = (signed(pat[pi]), signed(pat[pi + 2]));
                        if start > end {
                            std::mem::swap(&mut start, &mut end);
                        }
                        pi += 2;
                        let c = signed(st[si]);
                        if c >= start && c <= end {
                            matched = true;
                        }
                    } else if pat[pi] == st[si] {
                        matched = true;
                    }
                    pi += 1;
                }
                if negated {
                    matched = !matched;
                }
                if !matched {
                    return false;
                }
                si += 1;
            }
            b'\\' => {
                if pat.len() - pi >= 2 {
                    pi += 1;
                }
                if pat[pi] != st[si] {
                    return false;
                }
                si += 1;
            }
            literal => {
                if literal != st[si] {
                    return false;
                }
                si += 1;
            }
        }
        pi += 1;
        if si == st.len() {
            while pi < pat.len() && pat[pi] == b'*' {
                pi += 1;
            }
            break;
        }
    }
    pi == pat.len() && si == st.len()
}

/// What `SCAN ... MATCH pattern` returns for `key`: Redis skips matching for the lone `*`.
fn redis_scan_matches(pattern: &str, key: &str) -> bool {
    pattern == "*" || redis_stringmatch(pattern.as_bytes(), key.as_bytes())
}

fn pattern_strategy() -> impl Strategy<Value = String> {
    let atoms = prop::sample::select(vec![
        "a", "b", "*", "?", "[", "]", "^", "-", "\\", "é", "\u{7f}", "z",
    ]);
    prop::collection::vec(atoms, 0..10).prop_map(|atoms| atoms.concat())
}

fn key_strategy() -> impl Strategy<Value = String> {
    let atoms = prop::sample::select(vec![
        "a", "b", "-", "]", "[", "*", "é", "\\", "^", "z", "\u{7f}",
    ]);
    prop::collection::vec(atoms, 0..8).prop_map(|atoms| atoms.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(20_000))]

    #[test]
    fn matcher_agrees_with_redis(pattern in pattern_strategy(), key in key_strategy()) {
        prop_assert_eq!(
            GlobPattern::new(&pattern).matches(&key),
            redis_scan_matches(&pattern, &key),
            "pattern {:?} key {:?}", pattern, key
        );
    }

    #[test]
    fn escaped_key_matches_only_itself(key in key_strategy(), other in key_strategy()) {
        let pattern = GlobPattern::new(&escape_glob(&key));
        prop_assert!(pattern.matches(&key));
        prop_assert_eq!(pattern.matches(&other), other == key);
    }
}

#[test]
fn transcription_reproduces_known_redis_answers() {
    // Answers checked against redis-server 7.0 (`SCAN 0 MATCH`), so the reference itself
    // is pinned.
    for (pattern, key, expected) in [
        ("*", "", true) as (&str, &str, bool),
        ("**", "", false),
        ("[a-]", "]", true),
        ("[abc", "c", true),
        ("a\\", "a\\", true),
        ("[^", "x", true),
        ("caf?", "café", false),
        (&"*a".repeat(1000), &"a".repeat(1500), true),
        (&"*a".repeat(1001), &"a".repeat(1500), false),
        (&format!("{}*", "*a".repeat(1000)), &"a".repeat(1500), true),
        (&format!("{}*", "*a".repeat(1001)), &"a".repeat(1500), false),
    ] {
        assert_eq!(
            redis_scan_matches(pattern, key),
            expected,
            "{pattern:?} vs {key:?}"
        );
        assert_eq!(
            GlobPattern::new(pattern).matches(key),
            expected,
            "{pattern:?} vs {key:?}"
        );
    }
}
