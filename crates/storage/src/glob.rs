//! Redis glob patterns, matched on bytes exactly as Redis matches them.
//!
//! Every backend filters keys with this matcher, so `keys("user:[^0]*")` answers the same
//! on `MemoryStorage` as on Redis. The rules are those of Redis' `stringmatchlen`, quirks
//! included, because a second interpretation would make the backends disagree:
//!
//! - matching is on bytes: `?` matches one byte, so a two-byte UTF-8 character needs `??`;
//! - `*` matches any run of bytes, but a pattern other than the lone `*` never matches the
//!   empty key;
//! - `[abc]`, `[^abc]` and ranges `[a-z]` (bounds in either order, compared as C `char`s,
//!   i.e. signed bytes), `\x` inside a class is a literal `x`, an unterminated class runs
//!   to the end of the pattern;
//! - `\x` outside a class is a literal `x`; a trailing `\` is a literal backslash;
//! - Redis gives up (no match) when matching would recurse through more than
//!   [`MAX_STAR_NESTING`] stars, so a pattern whose 1,001st star is not its last token
//!   matches no non-empty key.

use std::fmt;

/// The number of `*` groups Redis' recursive matcher may nest through before it answers
/// "no match" (its protection against abusive patterns).
pub const MAX_STAR_NESTING: usize = 1000;

/// One pattern element; each one except `Star` consumes exactly one byte of the key.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    /// `*`: any run of bytes (consecutive stars are folded into one).
    Star,
    /// `?`: any single byte.
    AnyByte,
    /// A literal byte (plain or escaped).
    Byte(u8),
    /// A bracket class.
    Class {
        negated: bool,
        members: Vec<ClassMember>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum ClassMember {
    Byte(u8),
    /// Inclusive range of C `char`s (signed on the platforms Redis ships for).
    Range(i8, i8),
}

impl ClassMember {
    fn matches(&self, byte: u8) -> bool {
        match *self {
            Self::Byte(b) => b == byte,
            // Redis compares `int`s converted from `char`, so bytes >= 0x80 are negative.
            Self::Range(lo, hi) => (lo..=hi).contains(&signed(byte)),
        }
    }
}

#[allow(
    clippy::cast_possible_wrap,
    reason = "reproduces C's signed char on purpose"
)]
const fn signed(byte: u8) -> i8 {
    byte as i8
}

/// A compiled Redis glob pattern.
///
/// Every string is a valid pattern (Redis has no syntax errors), so compiling cannot fail.
///
/// ```
/// use storage::GlobPattern;
///
/// let pattern = GlobPattern::new("user:[0-9]*");
/// assert!(pattern.matches("user:42"));
/// assert!(!pattern.matches("user:x"));
/// assert!(GlobPattern::new("caf??").matches("café")); // `é` is two bytes
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct GlobPattern {
    source: String,
    tokens: Vec<Token>,
    /// The lone `*`: Redis' SCAN and KEYS skip matching for it, so it matches every key,
    /// the empty one included.
    match_all: bool,
    /// Redis' nesting limit makes this pattern match no non-empty key.
    exceeds_nesting: bool,
}

impl GlobPattern {
    /// Compiles `pattern`.
    #[must_use]
    pub fn new(pattern: &str) -> Self {
        let tokens = compile(pattern.as_bytes());
        let stars = tokens.iter().filter(|token| **token == Token::Star).count();
        // Redis nests one call per star; reaching star 1,001 with input left fails unless
        // that star ends the pattern (a final star matches without recursing).
        let final_star = tokens.last() == Some(&Token::Star);
        let exceeds_nesting =
            stars > MAX_STAR_NESTING + 1 || (stars == MAX_STAR_NESTING + 1 && !final_star);
        Self {
            source: pattern.to_owned(),
            tokens,
            match_all: pattern == "*",
            exceeds_nesting,
        }
    }

    /// The pattern as written.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether the pattern matches every key (it is the lone `*`).
    #[must_use]
    pub const fn matches_everything(&self) -> bool {
        self.match_all
    }

    /// The literal bytes every matching key starts with, if the pattern begins with
    /// literals. Lets a backend narrow a scan before matching.
    #[must_use]
    pub fn literal_prefix(&self) -> Vec<u8> {
        self.tokens
            .iter()
            .map_while(|token| match token {
                Token::Byte(b) => Some(*b),
                _ => None,
            })
            .collect()
    }

    /// Whether `key` matches the pattern.
    #[must_use]
    pub fn matches(&self, key: &str) -> bool {
        self.matches_bytes(key.as_bytes())
    }

    /// Whether the byte string `key` matches the pattern.
    #[must_use]
    pub fn matches_bytes(&self, key: &[u8]) -> bool {
        if self.match_all {
            return true;
        }
        if key.is_empty() {
            // Redis' matcher never enters its loop for an empty string, so only the empty
            // pattern matches it.
            return self.tokens.is_empty();
        }
        !self.exceeds_nesting && match_tokens(&self.tokens, key)
    }
}

impl fmt::Debug for GlobPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("GlobPattern").field(&self.source).finish()
    }
}

impl fmt::Display for GlobPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// Whether `key` matches the Redis glob `pattern`. Compile a [`GlobPattern`] instead when
/// matching many keys.
#[must_use]
pub fn glob_match(pattern: &str, key: &str) -> bool {
    GlobPattern::new(pattern).matches(key)
}

/// Escapes every glob metacharacter in `literal`, so the result matches exactly `literal`.
///
/// ```
/// use storage::{escape_glob, glob_match};
///
/// let key = "tenant[1]:*";
/// assert!(glob_match(&escape_glob(key), key));
/// assert!(!glob_match(&escape_glob(key), "tenant1:x"));
/// ```
#[must_use]
pub fn escape_glob(literal: &str) -> String {
    let mut escaped = String::with_capacity(literal.len());
    for c in literal.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\' | '^' | '-') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// Splits a pattern into tokens, reading brackets and escapes the way Redis does.
fn compile(pattern: &[u8]) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < pattern.len() {
        match pattern[i] {
            b'*' => {
                if tokens.last() != Some(&Token::Star) {
                    tokens.push(Token::Star);
                }
                i += 1;
            }
            b'?' => {
                tokens.push(Token::AnyByte);
                i += 1;
            }
            b'[' => {
                let (token, next) = compile_class(pattern, i + 1);
                tokens.push(token);
                i = next;
            }
            b'\\' if i + 1 < pattern.len() => {
                tokens.push(Token::Byte(pattern[i + 1]));
                i += 2;
            }
            byte => {
                tokens.push(Token::Byte(byte));
                i += 1;
            }
        }
    }
    tokens
}

/// Reads a class starting just after its `[`; returns it and the index after its `]`
/// (or the end of the pattern when the class is not closed).
fn compile_class(pattern: &[u8], start: usize) -> (Token, usize) {
    let mut i = start;
    let negated = pattern.get(i) == Some(&b'^');
    if negated {
        i += 1;
    }
    let mut members = Vec::new();
    let end = loop {
        let remaining = pattern.len() - i;
        if remaining == 0 {
            // Unterminated: the class takes the rest of the pattern.
            break pattern.len();
        }
        let byte = pattern[i];
        if byte == b'\\' && remaining >= 2 {
            members.push(ClassMember::Byte(pattern[i + 1]));
            i += 2;
        } else if byte == b']' {
            break i + 1;
        } else if remaining >= 3 && pattern[i + 1] == b'-' {
            // Redis checks for a range before looking for `]`, so `[a-]` is the range
            // from `a` to `]`.
            let (a, b) = (signed(byte), signed(pattern[i + 2]));
            members.push(ClassMember::Range(a.min(b), a.max(b)));
            i += 3;
        } else {
            members.push(ClassMember::Byte(byte));
            i += 1;
        }
    };
    (Token::Class { negated, members }, end)
}

fn token_matches(token: &Token, byte: u8) -> bool {
    match token {
        Token::Star => true,
        Token::AnyByte => true,
        Token::Byte(b) => *b == byte,
        Token::Class { negated, members } => members.iter().any(|m| m.matches(byte)) != *negated,
    }
}

/// Greedy matching with one backtrack point. Every token but `*` consumes exactly one
/// byte, so retrying only the most recent star is complete, and the work is bounded by
/// `tokens * key` (Redis reaches the same bound with its "skip longer matches" rule).
fn match_tokens(tokens: &[Token], key: &[u8]) -> bool {
    let (mut t, mut k) = (0, 0);
    // After the latest star: (token index following it, key index it was tried from).
    let mut retry: Option<(usize, usize)> = None;
    while k < key.len() {
        match tokens.get(t) {
            Some(Token::Star) => {
                if t + 1 == tokens.len() {
                    return true;
                }
                t += 1;
                retry = Some((t, k));
                continue;
            }
            Some(token) if token_matches(token, key[k]) => {
                t += 1;
                k += 1;
                continue;
            }
            _ => {}
        }
        match retry {
            Some((after_star, from)) => {
                t = after_star;
                k = from + 1;
                retry = Some((after_star, from + 1));
            }
            None => return false,
        }
    }
    tokens[t..].iter().all(|token| *token == Token::Star)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(pattern: &str, key: &str, expected: bool) {
        assert_eq!(
            GlobPattern::new(pattern).matches(key),
            expected,
            "pattern {pattern:?} against key {key:?}"
        );
    }

    #[test]
    fn stars_and_question_marks() {
        check("*", "", true);
        check("*", "anything", true);
        check("**", "", false);
        check("", "", true);
        check("", "a", false);
        check("a*", "a", true);
        check("a*", "abc", true);
        check("*c", "abc", true);
        check("*b*", "abc", true);
        check("a*b*c", "axxbyyc", true);
        check("a*b*c", "axxbyy", false);
        check("a**b", "ab", true);
        check("?", "a", true);
        check("?", "", false);
        check("??", "a", false);
        check("user:?", "user:1", true);
        check("user:?", "user:10", false);
        check("*?", "a", true);
    }

    #[test]
    fn question_mark_is_one_byte() {
        check("caf?", "café", false);
        check("caf??", "café", true);
        check("?", "é", false);
    }

    #[test]
    fn classes() {
        check("[abc]", "b", true);
        check("[abc]", "d", false);
        check("[^abc]", "d", true);
        check("[^abc]", "a", false);
        check("[a-c]", "b", true);
        check("[c-a]", "b", true); // bounds in either order
        check("[a-c]", "d", false);
        check("[^a-c]x", "dx", true);
        check("[\\]]", "]", true);
        check("[\\-]", "-", true);
        check("[a-]", "]", true); // range from `]` to `a`
        check("[a-]", "b", false);
        check("[abc", "b", true); // unterminated: class runs to the end
        check("[abc", "bx", false);
        check("[]", "]", false);
        check("[]]", "]", false);
    }

    #[test]
    fn ranges_compare_signed_bytes() {
        // The range 0x7F..0xC3 is, in signed chars, -61..=127: it holds `b` (checked
        // against redis-server 7.0).
        check("[\u{7f}-é]", "b", true);
        check("[\u{1}-a]?", "é", false);
        check("[a-z]?", "é", false);
    }

    #[test]
    fn escapes() {
        check("\\*", "*", true);
        check("\\*", "a", false);
        check("\\?", "?", true);
        check("a\\", "a\\", true); // trailing backslash is literal
        check("\\[x]", "[x]", true);
    }

    #[test]
    fn escape_glob_round_trips() {
        for literal in ["plain", "a*b", "[x]", "back\\slash", "q?", "^-", ""] {
            let escaped = escape_glob(literal);
            check(&escaped, literal, true);
        }
    }

    #[test]
    fn literal_prefix_stops_at_first_wildcard() {
        assert_eq!(GlobPattern::new("user:\\*x*").literal_prefix(), b"user:*x");
        assert_eq!(GlobPattern::new("*x").literal_prefix(), b"");
    }

    #[test]
    fn nesting_limit_matches_redis() {
        let key = "a".repeat(1500);
        check(&"*a".repeat(1000), &key, true);
        check(&"*a".repeat(1001), &key, false);
        check(&format!("{}*", "*a".repeat(1000)), &key, true);
        check(&format!("{}*", "*a".repeat(1001)), &key, false);
    }

    #[test]
    fn pathological_pattern_is_fast() {
        let key = "a".repeat(10_000);
        let pattern = format!("{}b", "*a".repeat(MAX_STAR_NESTING));
        check(&pattern, &key, false);
    }
}
