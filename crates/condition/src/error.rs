use std::fmt;

use crate::Operator;

/// The result type of every fallible operation of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a condition could not be parsed or evaluated, or a context could not be built.
///
/// Parse errors carry the byte offset into the source where the problem is (see
/// [`Error::offset`]); evaluation errors name the variable or the comparison at fault.
/// A condition that is false is not an error: [`Condition::evaluate`](crate::Condition::evaluate)
/// returns `Ok(false)`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The source is longer than the parser's input limit; none of it was read.
    #[error("condition too long: {len} bytes > {max}")]
    TooLong {
        /// The source's length in bytes.
        len: usize,
        /// The parser's limit ([`ConditionParser::max_len`](crate::ConditionParser::max_len)).
        max: usize,
    },

    /// The source is empty or only whitespace.
    #[error("empty condition at byte {offset}: expected a comparison or 'always'")]
    Empty {
        /// Where a comparison was expected: the end of the source (0 when it is empty).
        offset: usize,
    },

    /// A character that starts no token. Outside quotes only ASCII is read.
    #[error("unexpected character {found:?} at byte {offset}")]
    UnexpectedChar {
        /// Byte offset of the character.
        offset: usize,
        /// The character.
        found: char,
    },

    /// A lone `!` or `=`, which are not operators.
    #[error("invalid operator {found:?} at byte {offset}: use >=, <=, >, <, ==, or !=")]
    InvalidOperator {
        /// Byte offset of the character.
        offset: usize,
        /// The character, `!` or `=`.
        found: char,
    },

    /// A string literal without its closing quote.
    #[error("unterminated string at byte {offset}: expected a closing {quote:?}")]
    UnterminatedString {
        /// Byte offset of the opening quote.
        offset: usize,
        /// The quote that would close it, `'` or `"`.
        quote: char,
    },

    /// A name with a character outside ASCII (`sévérité`): names are ASCII letters,
    /// digits and `_`. The whole name is reported, every letter and digit of it.
    #[error(
        "variable '{name}' at byte {offset} is not allowed: only ASCII names are accepted (letters, digits and '_')"
    )]
    NonAsciiName {
        /// Byte offset of the name.
        offset: usize,
        /// The name as written.
        name: String,
    },

    /// A name that is not in the parser's whitelist of variables.
    #[error("variable '{name}' at byte {offset} is not allowed; allowed: {allowed}")]
    UnknownVariable {
        /// Byte offset of the name.
        offset: usize,
        /// The name as written.
        name: String,
        /// The allowed names, sorted and comma-separated.
        allowed: String,
    },

    /// More tokens than the parser's limit. The end of input counts as one token, as in
    /// the original, so the default limit of 50 admits 49 written tokens.
    #[error("too complex: {tokens} tokens > {max}")]
    TooComplex {
        /// Tokens in the source, the end of input included.
        tokens: usize,
        /// The parser's limit ([`ConditionParser::max_tokens`](crate::ConditionParser::max_tokens)).
        max: usize,
    },

    /// Parentheses nested deeper than the parser's limit.
    #[error("nesting too deep at byte {offset}: more than {max} open parentheses")]
    TooDeep {
        /// Byte offset of the `(` that went past the limit.
        offset: usize,
        /// The parser's limit ([`ConditionParser::max_depth`](crate::ConditionParser::max_depth)).
        max: usize,
    },

    /// A token where the grammar wants another: a missing operator or operand, a missing
    /// or stray `)`, trailing tokens. [`Expected`] tells which.
    #[error("syntax error at byte {offset}: expected {expected}, found {found}")]
    Syntax {
        /// Byte offset of the token found.
        offset: usize,
        /// What the grammar allows there.
        expected: Expected,
        /// What is there instead.
        found: Found,
    },

    /// An ordering (`>=`, `<=`, `>`, `<`) between a number and a string. Between two
    /// literals it is found when parsing, otherwise when evaluating.
    #[error("cannot order {left} and {right} with '{op}' (comparison at byte {offset})")]
    TypeMismatch {
        /// Byte offset of the comparison in the condition's source.
        offset: usize,
        /// The operator as written.
        op: Operator,
        /// The kind of the left operand.
        left: ValueKind,
        /// The kind of the right operand.
        right: ValueKind,
    },

    /// The context lacks a variable the condition names. Every variable is required, even
    /// one that the `and`/`or` short-circuit would not reach, as in the original.
    #[error("variable '{name}' not provided in context")]
    MissingVariable {
        /// The variable's name.
        name: String,
    },

    /// A JSON value that is neither a number nor a string: refused when building a
    /// context for a whitelisted member, reported when evaluating a condition that names
    /// a member the context kept outside its whitelist.
    #[error("value of '{name}' is {found}: a context holds numbers and strings only")]
    UnsupportedValue {
        /// The variable's name.
        name: String,
        /// What the value is, e.g. `"null"` or `"a boolean"`.
        found: &'static str,
    },

    /// A JSON context that is not an object.
    #[error("a context is built from a JSON object, found {found}")]
    NotAnObject {
        /// What the value is, e.g. `"an array"`.
        found: &'static str,
    },

    /// A whitelist entry that cannot be written as a variable in a condition.
    #[error("invalid variable name {name:?}: {reason}")]
    InvalidVariableName {
        /// The name.
        name: String,
        /// Why it is refused.
        reason: &'static str,
    },

    /// A whitelist longer than [`ConditionParser::MAX_VARIABLES`](crate::ConditionParser::MAX_VARIABLES).
    #[error("too many variables: {count} > {max}")]
    TooManyVariables {
        /// How many names were given.
        count: usize,
        /// The limit.
        max: usize,
    },
}

impl Error {
    /// The byte offset into the source that the error points at: `Some` for every error
    /// about the source but the two limits on its size as a whole ([`Error::TooLong`],
    /// [`Error::TooComplex`]), `None` for errors about contexts and whitelists.
    #[must_use]
    pub fn offset(&self) -> Option<usize> {
        match self {
            Self::Empty { offset }
            | Self::UnexpectedChar { offset, .. }
            | Self::InvalidOperator { offset, .. }
            | Self::UnterminatedString { offset, .. }
            | Self::NonAsciiName { offset, .. }
            | Self::UnknownVariable { offset, .. }
            | Self::TooDeep { offset, .. }
            | Self::Syntax { offset, .. }
            | Self::TypeMismatch { offset, .. } => Some(*offset),
            _ => None,
        }
    }
}

/// What the grammar allows where a [`Error::Syntax`] was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Expected {
    /// The start of a comparison: a number, a string, a variable or `(`.
    Comparison,
    /// The right-hand operand of a comparison: a number, a string or a variable.
    Operand,
    /// A comparison operator: the operand before it has none.
    Operator,
    /// `)` (or `and`/`or`) inside the group opened at byte `open`: the `)` is missing.
    CloseParen {
        /// Byte offset of the unclosed `(`.
        open: usize,
    },
    /// `and`, `or` or the end of the condition: a stray `)` or trailing tokens.
    End,
}

impl fmt::Display for Expected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Comparison => f.write_str("a comparison (a number, string, variable or '(')"),
            Self::Operand => f.write_str("a number, string or variable"),
            Self::Operator => f.write_str("a comparison operator (>=, <=, >, <, ==, !=)"),
            Self::CloseParen { open } => write!(f, "')' to close the '(' at byte {open}"),
            Self::End => f.write_str("'and', 'or' or the end of the condition"),
        }
    }
}

/// What was found where a [`Error::Syntax`] was raised.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Found {
    /// The end of the source.
    EndOfInput,
    /// A token, as written.
    Token(String),
}

/// Tokens are shown up to this many characters: a 4 KiB string literal would drown the message.
const SHOWN_CHARS: usize = 40;

impl fmt::Display for Found {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::EndOfInput => f.write_str("end of input"),
            Self::Token(text) => match text.char_indices().nth(SHOWN_CHARS) {
                Some((cut, _)) => write!(f, "{:?}...", text.get(..cut).unwrap_or_default()),
                None => write!(f, "{text:?}"),
            },
        }
    }
}

/// The kind of a value in a comparison, as reported by [`Error::TypeMismatch`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ValueKind {
    /// An integer or a decimal.
    Number,
    /// A string.
    String,
}

impl fmt::Display for ValueKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Number => "a number",
            Self::String => "a string",
        })
    }
}
