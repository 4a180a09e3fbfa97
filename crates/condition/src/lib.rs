//! `condition` is the rule-condition language of fallback rules and the heuristic
//! detector: comparisons such as `severity >= 0.8 and recurrence_count >= 2`, parsed and
//! checked once into a [`Condition`], then evaluated against a [`Context`] (the values of
//! one event) in nanoseconds, without allocating.
//!
//! The language is the original's, exactly: the comparisons `>=`, `<=`, `>`, `<`, `==`,
//! `!=` between numbers (`2`, `0.8`, `.5`), quoted strings (`'...'` or `"..."`, no escapes)
//! and whitelisted variables (by default [`DEFAULT_VARIABLES`]); `and` binding tighter than
//! `or`; parentheses; and `always` alone for a condition that always holds. Numbers compare
//! by value whatever their kind, exactly as Python compares `int` and `float`; strings
//! compare with strings; `==`/`!=` between a string and a number are false/true and an
//! ordering between them is an error; a context lacking any variable the condition names
//! is an error, as in the original, even where `and`/`or` would not look.
//!
//! Every syntax error is found when parsing and points at a byte offset, with what was
//! expected and what was found. Every input is bounded: at most 50 tokens (the end of
//! input counting as one, as in the original), 32 nested parentheses and 4 KiB by default,
//! all configurable through [`ConditionParser`], which also sets the whitelist; the parser
//! never recurses, so no input exhausts the stack. Parsing and evaluating share one
//! [`Error`] enum: its variants do not overlap, and as it is `#[non_exhaustive]` a caller
//! matches the few it cares about either way.
//!
//! Variables become slots when parsing, so evaluation reads a context by index, never by
//! name. When every value is a number that is exact as an `f64` (integers up to 2^53, any
//! float but NaN), a condition of at most 12 comparisons is evaluated branch-free against a
//! truth table computed when parsing; strings, variables compared with each other and
//! wider integers take a general path with the same results.
//!
//! What it deliberately does not do: arithmetic, `not`, negative literals, functions,
//! escapes in strings, or any name outside the whitelist. Deviations from the original,
//! all deliberate: errors surface when parsing rather than at the first evaluation;
//! positions are byte offsets rather than a mix of character and token indices; outside
//! string literals only ASCII is read (the original also took Unicode digits, letters and
//! spaces: a name such as `sévérité` is refused whole, as [`Error::NonAsciiName`]); ordering a number literal against a string literal is rejected when parsing
//! (it fails on every evaluation); context values are numbers and strings, not booleans
//! or null; and each parsed condition is independent (the original's module-level parser
//! let a second parse change the first condition).
//!
//! ```
//! use condition::{Context, Error, parse_condition};
//!
//! let rule = parse_condition("severity >= 0.8 and recurrence_count >= 2")?;
//! assert_eq!(rule.to_string(), "severity >= 0.8 and recurrence_count >= 2");
//!
//! let event = Context::new().with("severity", 0.9).with("recurrence_count", 3);
//! assert!(rule.evaluate(&event)?);
//! assert!(!rule.evaluate(&event.clone().with("recurrence_count", 1))?);
//!
//! // Every variable must be present, even where `and` would not look.
//! let partial = Context::new().with("severity", 0.1);
//! assert_eq!(
//!     rule.evaluate(&partial).unwrap_err().to_string(),
//!     "variable 'recurrence_count' not provided in context",
//! );
//!
//! // Syntax errors say where, what was expected and what was found.
//! let error = parse_condition("severity >= 0.8 and (step < 3").unwrap_err();
//! assert_eq!(error.offset(), Some(29));
//! assert_eq!(
//!     error.to_string(),
//!     "syntax error at byte 29: expected ')' to close the '(' at byte 20, found end of input",
//! );
//! assert!(matches!(parse_condition("severity = 1"), Err(Error::InvalidOperator { offset: 9, .. })));
//! # Ok::<(), condition::Error>(())
//! ```

mod condition;
pub use condition::{Condition, evaluate};

mod context;
pub use context::{Context, Value, Variable};

mod error;
pub use error::{Error, Expected, Found, Result, ValueKind};

mod lexer;

mod number;

mod operator;
pub use operator::Operator;

mod parser;
pub use parser::{ConditionParser, parse_condition};

mod vars;
pub use vars::DEFAULT_VARIABLES;
