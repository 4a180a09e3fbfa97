use std::cmp::Ordering;
use std::fmt;

/// A comparison operator of the language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Operator {
    /// `>=`
    Ge,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `<`
    Lt,
    /// `==`
    Eq,
    /// `!=`
    Ne,
}

impl Operator {
    /// The operator as written, e.g. `">="`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Ge => ">=",
            Self::Le => "<=",
            Self::Gt => ">",
            Self::Lt => "<",
            Self::Eq => "==",
            Self::Ne => "!=",
        }
    }

    /// Whether the operator orders its operands (`>=`, `<=`, `>`, `<`), which is a type
    /// error between a number and a string; `==` and `!=` are not.
    #[must_use]
    pub const fn is_ordering(self) -> bool {
        !matches!(self, Self::Eq | Self::Ne)
    }

    /// The operator that gives the same result with the operands swapped: `a >= b` is
    /// `b <= a`. Exact for numbers (NaN included) and strings.
    pub(crate) const fn swapped(self) -> Self {
        match self {
            Self::Ge => Self::Le,
            Self::Le => Self::Ge,
            Self::Gt => Self::Lt,
            Self::Lt => Self::Gt,
            Self::Eq => Self::Eq,
            Self::Ne => Self::Ne,
        }
    }

    /// The operator applied to the outcome of a comparison; `None` is "unordered" (NaN, or
    /// a number against a string), where only `!=` holds.
    #[inline]
    pub(crate) fn holds(self, ordering: Option<Ordering>) -> bool {
        match ordering {
            Some(ordering) => self.holds_ordered(ordering),
            None => self == Self::Ne,
        }
    }

    #[inline]
    pub(crate) fn holds_ordered(self, ordering: Ordering) -> bool {
        match self {
            Self::Ge => ordering.is_ge(),
            Self::Le => ordering.is_le(),
            Self::Gt => ordering.is_gt(),
            Self::Lt => ordering.is_lt(),
            Self::Eq => ordering.is_eq(),
            Self::Ne => ordering.is_ne(),
        }
    }

    /// The operator on two floats, with IEEE semantics (NaN is unordered), as Python does.
    #[inline]
    pub(crate) fn holds_f64(self, left: f64, right: f64) -> bool {
        match self {
            Self::Ge => left >= right,
            Self::Le => left <= right,
            Self::Gt => left > right,
            Self::Lt => left < right,
            Self::Eq => left == right,
            Self::Ne => left != right,
        }
    }
}

impl fmt::Display for Operator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
