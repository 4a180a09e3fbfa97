//! The whitelist of variables, and the slot each name gets.

use std::fmt;
use std::sync::Arc;

use crate::lexer::starts_with_keyword;
use crate::{Error, Result};

/// The variables a condition may name unless a [`ConditionParser`](crate::ConditionParser)
/// says otherwise, as in the original.
pub const DEFAULT_VARIABLES: [&str; 5] = [
    "severity",
    "recurrence_count",
    "confidence",
    "step",
    "duration",
];

/// [`DEFAULT_VARIABLES`] sorted, as the original lists them in its error message.
const DEFAULT_ALLOWED: &str = "confidence, duration, recurrence_count, severity, step";

/// At most this many variables, so that a set of slots fits a `u64` mask.
pub(crate) const MAX_VARIABLES: usize = 64;

/// A whitelist. Conditions refer to variables by slot (their index in the whitelist), and
/// a context stores values by slot, so evaluation never looks a name up when the
/// condition and the context share a whitelist.
#[derive(Clone)]
pub(crate) enum Vars {
    /// [`DEFAULT_VARIABLES`]; costs no allocation and no reference count.
    Default,
    Custom(Arc<Table>),
}

pub(crate) struct Table {
    names: Box<[Box<str>]>,
    allowed: Box<str>,
}

impl Vars {
    /// Builds a custom whitelist; every name must be writable as a variable in a
    /// condition, and appear once.
    pub(crate) fn custom<I, S>(names: I) -> Result<Self>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut list: Vec<Box<str>> = Vec::new();
        for name in names {
            let name = name.as_ref();
            validate(name)?;
            if list.iter().any(|known| **known == *name) {
                return Err(Error::InvalidVariableName {
                    name: name.to_owned(),
                    reason: "listed twice",
                });
            }
            if list.len() == MAX_VARIABLES {
                return Err(Error::TooManyVariables {
                    count: MAX_VARIABLES + 1,
                    max: MAX_VARIABLES,
                });
            }
            list.push(name.into());
        }
        let mut sorted: Vec<&str> = list.iter().map(|name| &**name).collect();
        sorted.sort_unstable();
        let allowed = sorted.join(", ").into_boxed_str();
        Ok(Self::Custom(Arc::new(Table {
            names: list.into_boxed_slice(),
            allowed,
        })))
    }

    /// The slot of `name`, if it is whitelisted.
    #[inline]
    pub(crate) fn slot(&self, name: &[u8]) -> Option<u8> {
        match self {
            // By length first, then one fixed-size comparison: a plain `match` on byte
            // strings compares them one after the other.
            Self::Default => match name.len() {
                4 => (name == b"step").then_some(3),
                8 if name == b"severity" => Some(0),
                8 => (name == b"duration").then_some(4),
                10 => (name == b"confidence").then_some(2),
                16 => (name == b"recurrence_count").then_some(1),
                _ => None,
            },
            Self::Custom(table) => table
                .names
                .iter()
                .position(|known| known.as_bytes() == name)
                .and_then(|slot| u8::try_from(slot).ok()),
        }
    }

    /// The name in `slot` (empty for a slot that does not exist, which callers never ask).
    pub(crate) fn name(&self, slot: u8) -> &str {
        let slot = usize::from(slot);
        match self {
            Self::Default => DEFAULT_VARIABLES.get(slot).copied(),
            Self::Custom(table) => table.names.get(slot).map(|name| &**name),
        }
        .unwrap_or_default()
    }

    pub(crate) fn len(&self) -> usize {
        match self {
            Self::Default => DEFAULT_VARIABLES.len(),
            Self::Custom(table) => table.names.len(),
        }
    }

    /// The names in slot order.
    pub(crate) fn names(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        (0..self.len()).map(|slot| self.name(u8::try_from(slot).unwrap_or(u8::MAX)))
    }

    /// The names sorted and comma-separated, for error messages.
    pub(crate) fn allowed(&self) -> &str {
        match self {
            Self::Default => DEFAULT_ALLOWED,
            Self::Custom(table) => &table.allowed,
        }
    }

    /// The whitelist's identity: equal for the same object, so that slots mean the same
    /// names. Never `usize::MAX`.
    #[inline]
    pub(crate) fn id(&self) -> usize {
        match self {
            Self::Default => 0,
            Self::Custom(table) => Arc::as_ptr(table) as usize,
        }
    }

    /// Whether two whitelists are the same object, so that slots mean the same names.
    #[inline]
    pub(crate) fn same(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Default, Self::Default) => true,
            (Self::Custom(left), Self::Custom(right)) => Arc::ptr_eq(left, right),
            _ => false,
        }
    }
}

impl fmt::Debug for Vars {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.names()).finish()
    }
}

/// A whitelisted name must lex as one identifier: a letter or `_`, then letters, digits
/// or `_`, and not `and`/`or` (nor `and_x`/`or_x`, which lex as a keyword and `_x`).
fn validate(name: &str) -> Result<()> {
    let refuse = |reason| {
        Err(Error::InvalidVariableName {
            name: name.to_owned(),
            reason,
        })
    };
    let bytes = name.as_bytes();
    let Some(first) = bytes.first() else {
        return refuse("empty");
    };
    if !(first.is_ascii_alphabetic() || *first == b'_') {
        return refuse("must start with an ASCII letter or '_'");
    }
    if !bytes
        .iter()
        .all(|byte| byte.is_ascii_alphanumeric() || *byte == b'_')
    {
        return refuse("only ASCII letters, digits and '_' are allowed");
    }
    if starts_with_keyword(name, "and") || starts_with_keyword(name, "or") {
        return refuse("would be read as the keyword 'and' or 'or'");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(names: &[&str], expected: std::result::Result<&str, &str>) {
        let actual = Vars::custom(names).map(|vars| vars.allowed().to_owned());
        match expected {
            Ok(allowed) => assert_eq!(actual.as_deref(), Ok(allowed), "{names:?}"),
            Err(message) => assert_eq!(actual.map_err(|e| e.to_string()), Err(message.to_owned())),
        }
    }

    #[test]
    fn custom_whitelists_are_validated() {
        check(&["b", "a_1", "_c"], Ok("_c, a_1, b"));
        check(&["android", "order", "andy"], Ok("android, andy, order"));
        check(&[], Ok(""));
        check(&[""], Err("invalid variable name \"\": empty"));
        check(
            &["1x"],
            Err("invalid variable name \"1x\": must start with an ASCII letter or '_'"),
        );
        check(
            &["a-b"],
            Err("invalid variable name \"a-b\": only ASCII letters, digits and '_' are allowed"),
        );
        check(
            &["sévérité"],
            Err(
                "invalid variable name \"sévérité\": only ASCII letters, digits and '_' are allowed",
            ),
        );
        check(
            &["and"],
            Err("invalid variable name \"and\": would be read as the keyword 'and' or 'or'"),
        );
        check(
            &["or_x"],
            Err("invalid variable name \"or_x\": would be read as the keyword 'and' or 'or'"),
        );
        check(
            &["a", "a"],
            Err("invalid variable name \"a\": listed twice"),
        );
        let many: Vec<String> = (0..=MAX_VARIABLES).map(|i| format!("v{i}")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        assert_eq!(
            Vars::custom(&many[..MAX_VARIABLES]).unwrap().len(),
            MAX_VARIABLES
        );
        check(&many, Err("too many variables: 65 > 64"));
    }

    #[test]
    fn default_slots_follow_the_declared_order() {
        for (slot, name) in DEFAULT_VARIABLES.iter().enumerate() {
            assert_eq!(
                Vars::Default.slot(name.as_bytes()),
                Some(u8::try_from(slot).unwrap())
            );
            assert_eq!(Vars::Default.name(u8::try_from(slot).unwrap()), *name);
        }
        assert_eq!(Vars::Default.slot(b"Severity"), None);
        let mut sorted = DEFAULT_VARIABLES;
        sorted.sort_unstable();
        assert_eq!(DEFAULT_ALLOWED, sorted.join(", "));
    }
}
