//! `backend.fallback`: the [`FallbackManager`] (`backend.fallback.manager`) and the
//! condition parser (`backend.fallback.condition_parser`: [`parse_condition`],
//! [`evaluate`], [`ConditionParser`], [`Condition`]).
//!
//! The original's usage, in Rust (the example `cargo run -p compat --example fallback`):
//!
#![doc = concat!("```\n", include_str!("../examples/fallback.rs"), "\n```")]

pub use ::condition::{
    Condition, ConditionParser, Context, Error as ConditionError, Value as ContextValue, evaluate,
    parse_condition,
};
pub use ::fallback::detection::*;
pub use ::fallback::metrics::*;
pub use ::fallback::rules::*;
pub use ::fallback::*;
