use std::fmt::{self, Write as _};
use std::sync::Arc;

use crate::context::{INLINE, Lookup, Remapped};
use crate::lexer::{Kind, Lexer};
use crate::number::{Num, Val, cmp_int_float, cmp_val_num, cmp_vals};
use crate::vars::Vars;
use crate::{Context, Error, Operator, Result, ValueKind, parse_condition};

/// A parsed, checked and compiled condition.
///
/// Build one with [`parse_condition`] or [`ConditionParser::parse`](crate::ConditionParser::parse)
/// and evaluate it as often as needed with [`Condition::evaluate`]. It is immutable,
/// `Send + Sync`, and cloning it copies one pointer: share it freely between tasks.
///
/// Inside, variables are slots and literals are typed. A condition of at most 12
/// comparisons of variables with number literals is also a truth table: when the
/// context's values are numbers exact as `f64`, evaluation computes every comparison
/// branch-free and reads the result from the table. Otherwise `and`/`or` are jumps
/// between the comparisons, which short-circuit. Either way nothing is allocated, and the
/// original's stricter rule (every variable present, even on a branch not taken) is kept
/// by bit masks checked first.
///
/// It prints ([`Display`](fmt::Display)) in a canonical form: its tokens as written, one
/// space apart, none inside parentheses, which parses back to an equivalent condition.
/// Those spaces can make it longer than the source, so near the parser's
/// [`max_len`](crate::ConditionParser::max_len) it may be too long for that parser; the
/// source ([`Condition::source`]) always parses back. With serde it is its source text,
/// and deserializing parses it with the default parser.
#[derive(Clone)]
pub struct Condition {
    program: Arc<Program>,
}

/// Evaluates `condition` against `context`: shorthand for [`Condition::evaluate`].
///
/// # Errors
///
/// As [`Condition::evaluate`].
pub fn evaluate(condition: &Condition, context: &Context) -> Result<bool> {
    condition.evaluate(context)
}

impl Condition {
    pub(crate) fn new(program: Program) -> Self {
        Self {
            program: Arc::new(program),
        }
    }

    /// The source text the condition was parsed from.
    #[must_use]
    pub fn source(&self) -> &str {
        &self.program.source
    }

    /// An empty context of this condition's whitelist, for the fastest evaluation without
    /// the parser at hand (any other context works too; see [`Context`]).
    ///
    /// ```
    /// use condition::ConditionParser;
    ///
    /// let slow = ConditionParser::new()
    ///     .variables(["latency_ms"])?
    ///     .parse("latency_ms > 250")?;
    /// assert!(slow.evaluate(&slow.context().with("latency_ms", 300))?);
    /// # Ok::<(), condition::Error>(())
    /// ```
    #[must_use]
    pub fn context(&self) -> Context {
        Context::for_vars(self.program.vars.clone())
    }

    /// The variables the condition names, each once, in order of first appearance.
    pub fn variables(&self) -> impl Iterator<Item = &str> + '_ {
        let mut seen = 0_u64;
        self.program
            .leaves
            .iter()
            .flat_map(|leaf| leaf.test.slots())
            .flatten()
            .filter(move |slot| {
                let new = seen & bit(*slot) == 0;
                seen |= bit(*slot);
                new
            })
            .map(|slot| self.program.vars.name(slot))
    }

    /// Evaluates the condition against `context`.
    ///
    /// `and` binds tighter than `or`. Numbers compare by value whatever their kind (`1 ==
    /// 1.0`, and `9007199254740993 == 9007199254740992.0` is false); strings compare with
    /// strings, byte-wise; `==` between a string and a number is false and `!=` true.
    ///
    /// When the condition and the context share a whitelist (the default one, or contexts
    /// made by the same parser or by [`Condition::context`]), this looks no name up.
    /// Otherwise the condition's variables are found in the context by name, in its slots
    /// or among the names it keeps outside them. Either way nothing is allocated.
    ///
    /// # Errors
    ///
    /// [`Error::MissingVariable`] if the context lacks a variable the condition names,
    /// wherever it appears; [`Error::UnsupportedValue`] if it holds one from JSON that is
    /// neither a number nor a string; [`Error::TypeMismatch`] if a comparison would order a number
    /// against a string. When several comparisons fail, the first from the left is
    /// reported, as the original does.
    #[inline]
    pub fn evaluate(&self, context: &Context) -> Result<bool> {
        let program = &*self.program;
        // One branch: the default whitelist (its tag bit), every variable an exact number.
        if program.fast_required & !context.exact() == 0 {
            return Ok(program.fast.evaluate(context.keys()));
        }
        self.evaluate_general(context)
    }

    /// Evaluation when the default-whitelist fast path does not apply: custom whitelists,
    /// strings, variables compared with each other, integers beyond 2^53, NaN, contexts of
    /// another whitelist, and every error.
    #[inline(never)]
    fn evaluate_general(&self, context: &Context) -> Result<bool> {
        let program = &*self.program;
        if program.fast_vars == context.vars().id() && program.required & !context.exact() == 0 {
            return Ok(program.fast.evaluate(context.keys()));
        }
        if program.vars.same(context.vars()) {
            program.evaluate_with(context, context.present(), context.strings())
        } else {
            let remapped = Remapped::new(context, &program.vars, program.required);
            program.evaluate_with(&remapped, remapped.present(), remapped.strings())
        }
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let program = &*self.program;
        if program.leaves.is_empty() {
            return f.write_str("always");
        }
        let source = &*program.source;
        let mut lexer = Lexer::new(source, &program.vars);
        let mut previous = Kind::Open;
        loop {
            let Ok(token) = lexer.next_token() else {
                // The source lexed when parsed; this is unreachable, and harmless.
                return f.write_str(source);
            };
            if token.kind == Kind::End {
                return Ok(());
            }
            if previous != Kind::Open && token.kind != Kind::Close {
                f.write_char(' ')?;
            }
            f.write_str(source.get(token.start..token.end).unwrap_or_default())?;
            previous = token.kind;
        }
    }
}

impl fmt::Debug for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Condition").field(&self.source()).finish()
    }
}

impl serde::Serialize for Condition {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        serializer.serialize_str(self.source())
    }
}

impl<'de> serde::Deserialize<'de> for Condition {
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Self, D::Error> {
        let source = String::deserialize(deserializer)?;
        parse_condition(&source).map_err(serde::de::Error::custom)
    }
}

/// Where evaluation goes after the last leaf: the condition holds.
pub(crate) const ACCEPT: u32 = u32::MAX;
/// Where evaluation goes after the last leaf: the condition does not hold.
pub(crate) const REJECT: u32 = u32::MAX - 1;

/// The compiled form of a condition.
pub(crate) struct Program {
    pub(crate) source: Box<str>,
    pub(crate) vars: Vars,
    /// The comparisons in source order. Every exit points to a later leaf, or to
    /// [`ACCEPT`]/[`REJECT`], so evaluation always ends.
    pub(crate) leaves: Box<[Leaf]>,
    /// The first leaf, or [`ACCEPT`] for `always`.
    pub(crate) start: u32,
    /// Slots the condition names.
    pub(crate) required: u64,
    /// Slots ordered against a number literal, which must not hold strings.
    pub(crate) need_number: u64,
    /// Slots ordered against a string literal, which must hold strings.
    pub(crate) need_string: u64,
    /// Whether two variables are ordered against each other, which needs both to be of
    /// the same kind: checked leaf by leaf.
    pub(crate) compares_variables: bool,
    /// The truth-table form (see [`Fast`]), valid when `fast_vars` is the whitelist's
    /// [`Vars::id`]; [`NO_FAST`] when some leaf does not qualify.
    pub(crate) fast: Fast,
    pub(crate) fast_vars: usize,
    /// `required` plus [`DEFAULT_TAG`] for a fast program of the default whitelist, which
    /// only a default context's exact mask carries; all ones otherwise.
    pub(crate) fast_required: u64,
}

/// One comparison and where to go next.
pub(crate) struct Leaf {
    pub(crate) test: Test,
    pub(crate) on_true: u32,
    pub(crate) on_false: u32,
    /// Byte offset of the comparison, for errors.
    pub(crate) offset: u32,
    /// Whether the operands were swapped to put the variable on the left.
    pub(crate) swapped: bool,
}

/// A comparison with its variable first; literals are typed, strings are spans of the
/// source.
pub(crate) enum Test {
    /// Two literals, decided when parsing.
    Const(bool),
    /// A number literal that is exactly an `f64`: any decimal, an integer up to 2^53.
    Float {
        slot: u8,
        op: Operator,
        rhs: f64,
    },
    /// An integer literal beyond 2^53.
    Num {
        slot: u8,
        op: Operator,
        rhs: Num,
    },
    Str {
        slot: u8,
        op: Operator,
        start: u32,
        end: u32,
    },
    Vars {
        left: u8,
        op: Operator,
        right: u8,
    },
}

impl Program {
    pub(crate) fn always(source: &str, vars: Vars) -> Self {
        let (fast, fast_vars, fast_required) = Fast::form(&[], &vars, 0);
        Self {
            source: source.into(),
            leaves: Box::new([]),
            start: ACCEPT,
            required: 0,
            need_number: 0,
            need_string: 0,
            compares_variables: false,
            fast,
            fast_vars,
            fast_required,
            vars,
        }
    }

    /// `present` and `strings` are the masks of slots that the lookup holds, and holds
    /// as strings.
    #[inline]
    fn evaluate_with(&self, lookup: &impl Lookup, present: u64, strings: u64) -> Result<bool> {
        let suspect = (self.required & !present)
            | (self.need_number & strings)
            | (self.need_string & !strings);
        if suspect != 0 || self.compares_variables {
            self.check(lookup)?;
        }
        Ok(self.run(lookup))
    }

    /// The evaluation loop, once every variable is known to be present and of a kind
    /// its comparisons accept.
    #[inline]
    fn run(&self, lookup: &impl Lookup) -> bool {
        let mut at = self.start;
        while let Some(leaf) = self.leaves.get(at as usize) {
            at = if leaf.test.holds(lookup, &self.source) {
                leaf.on_true
            } else {
                leaf.on_false
            };
        }
        at == ACCEPT
    }

    /// Finds the first failing comparison from the left, as the original (which evaluates
    /// every comparison, left to right) reports it.
    #[cold]
    fn check(&self, lookup: &impl Lookup) -> Result<()> {
        for leaf in &*self.leaves {
            let value = |slot: u8| {
                lookup.get(slot).ok_or_else(|| {
                    let name = self.vars.name(slot).to_owned();
                    match lookup.unsupported(slot) {
                        Some(found) => Error::UnsupportedValue { name, found },
                        None => Error::MissingVariable { name },
                    }
                })
            };
            let (found, op, wanted) = match leaf.test {
                Test::Const(_) => continue,
                Test::Vars { left, op, right } => {
                    let left = kind(value(left)?);
                    (left, op, kind(value(right)?))
                }
                Test::Float { slot, op, .. } | Test::Num { slot, op, .. } => {
                    (kind(value(slot)?), op, ValueKind::Number)
                }
                Test::Str { slot, op, .. } => (kind(value(slot)?), op, ValueKind::String),
            };
            if op.is_ordering() && found != wanted {
                let (left, op, right) = if leaf.swapped {
                    (wanted, op.swapped(), found)
                } else {
                    (found, op, wanted)
                };
                return Err(Error::TypeMismatch {
                    offset: leaf.offset as usize,
                    op,
                    left,
                    right,
                });
            }
        }
        Ok(())
    }
}

impl Test {
    #[inline]
    fn holds(&self, lookup: &impl Lookup, source: &str) -> bool {
        match *self {
            Self::Float { slot, op, rhs } => match lookup.val(slot) {
                Val::Float(value) => op.holds_f64(value, rhs),
                Val::Int(value) => op.holds(cmp_int_float(i128::from(value), rhs)),
                Val::UInt(value) => op.holds(cmp_int_float(i128::from(value), rhs)),
                Val::Str(_) => op == Operator::Ne,
            },
            Self::Num { slot, op, ref rhs } => op.holds(cmp_val_num(lookup.val(slot), rhs)),
            Self::Str {
                slot,
                op,
                start,
                end,
            } => match lookup.val(slot) {
                Val::Str(value) => {
                    let literal = source.get(start as usize..end as usize).unwrap_or_default();
                    op.holds_ordered(value.cmp(literal))
                }
                _ => op == Operator::Ne,
            },
            Self::Vars { left, op, right } => {
                op.holds(cmp_vals(lookup.val(left), lookup.val(right)))
            }
            Self::Const(holds) => holds,
        }
    }

    /// The variables in written order.
    fn slots(&self) -> [Option<u8>; 2] {
        match *self {
            Self::Const(_) => [None, None],
            Self::Vars { left, right, .. } => [Some(left), Some(right)],
            Self::Float { slot, .. } | Self::Num { slot, .. } | Self::Str { slot, .. } => {
                [Some(slot), None]
            }
        }
    }
}

/// The most leaves the truth-table form takes: a table of 2^12 bits is 512 bytes.
const FAST_MAX: usize = 12;

/// The truth-table form of a condition whose leaves all compare a variable (in one of the
/// first [`INLINE`] slots) with a number literal that is exactly an `f64`, or are constant.
///
/// A context keeps each number that is exactly an `f64` (an integer up to 2^53, any float
/// but NaN and -0.0) as an order key: an integer that sorts as the numbers do (see
/// [`order_key`]). On keys, every comparison with a literal is "the key lies in a range"
/// (`!=` being the complement of `==`, folded into the table), one subtraction and one
/// unsigned comparison. All leaves are computed (none has side effects or can fail once
/// the context's masks passed), their bits form an index, and the table, precomputed from
/// the and/or structure, gives the result: no leaf waits on another and no branch depends
/// on the data.
pub(crate) struct Fast {
    /// Leaf `i` holds when `lo[i] <= key <= lo[i] + span[i]`, the key being that of the
    /// variable in `slots[i]`: one wrapping subtraction and one unsigned comparison.
    lo: [i64; FAST_MAX],
    span: [u64; FAST_MAX],
    slots: [InlineSlot; FAST_MAX],
    len: usize,
    /// Bit `i` is the result when the leaves' outcomes spell `i`, leaf `k` being bit `k`.
    /// 2^12 bits; the first 2^len are used.
    table: [u64; 64],
}

/// A slot below [`INLINE`], so that indexing the context's keys needs no bounds check.
#[derive(Clone, Copy)]
#[repr(u8)]
enum InlineSlot {
    S0,
    S1,
    S2,
    S3,
    S4,
    S5,
    S6,
    S7,
}

// One variant per inline slot.
const _: () = assert!(INLINE == 8);

impl InlineSlot {
    fn new(slot: u8) -> Option<Self> {
        Some(match slot {
            0 => Self::S0,
            1 => Self::S1,
            2 => Self::S2,
            3 => Self::S3,
            4 => Self::S4,
            5 => Self::S5,
            6 => Self::S6,
            7 => Self::S7,
            _ => return None,
        })
    }

    #[inline]
    fn index(self) -> usize {
        self as usize
    }
}

/// A bit of the exact mask that no slot uses (only inline slots are exact), set in every
/// context of the default whitelist.
pub(crate) const DEFAULT_TAG: u64 = 1 << 63;

/// A [`Program::fast_vars`] that matches no whitelist: no truth-table form.
const NO_FAST: usize = usize::MAX;

impl Default for Fast {
    fn default() -> Self {
        Self {
            lo: [0; FAST_MAX],
            span: [0; FAST_MAX],
            slots: [InlineSlot::S0; FAST_MAX],
            len: 0,
            table: [0; 64],
        }
    }
}

/// The range of keys for `key op rhs`, and whether the leaf holds outside it rather than
/// in it.
fn key_range(op: Operator, rhs: i64) -> (i64, i64, bool) {
    match op {
        Operator::Ge => (rhs, i64::MAX, false),
        Operator::Gt => (rhs.saturating_add(1), i64::MAX, false),
        Operator::Le => (i64::MIN, rhs, false),
        Operator::Lt => (i64::MIN, rhs.saturating_sub(1), false),
        Operator::Eq => (rhs, rhs, false),
        Operator::Ne => (rhs, rhs, true),
    }
}

/// An integer that sorts as the numbers do, for every `f64` but NaN, with -0.0 excluded
/// (it would sort below 0.0): the sign-magnitude bits made two's complement. Consecutive
/// floats get consecutive keys, so `> x` is `>= key(x) + 1`.
#[inline]
pub(crate) fn order_key(value: f64) -> i64 {
    let bits = value.to_bits() as i64;
    bits ^ ((bits >> 63) & i64::MAX)
}

/// The inverse of [`order_key`].
pub(crate) fn from_order_key(key: i64) -> f64 {
    f64::from_bits((key ^ ((key >> 63) & i64::MAX)) as u64)
}

impl Fast {
    /// [`Program::fast`], [`Program::fast_vars`] and [`Program::fast_required`] for
    /// `leaves` of the whitelist `vars`, which name the slots `required`.
    pub(crate) fn form(leaves: &[Leaf], vars: &Vars, required: u64) -> (Self, usize, u64) {
        match Self::compile(leaves) {
            Some(fast) if vars.id() == Vars::Default.id() => {
                (fast, vars.id(), required | DEFAULT_TAG)
            }
            Some(fast) => (fast, vars.id(), u64::MAX),
            None => (Self::default(), NO_FAST, u64::MAX),
        }
    }

    /// The truth-table form of `leaves`, if they all qualify.
    fn compile(leaves: &[Leaf]) -> Option<Self> {
        if leaves.len() > FAST_MAX {
            return None;
        }
        if leaves.is_empty() {
            // `always`: one leaf that always holds, so that evaluation needs no special case.
            let mut always = Self {
                len: 1,
                ..Self::default()
            };
            always.lo[0] = i64::MIN;
            always.span[0] = u64::MAX;
            always.table[0] = 0b11;
            return Some(always);
        }
        let mut fast = Self {
            len: leaves.len(),
            ..Self::default()
        };
        let mut inverted = 0_u64;
        for (index, leaf) in leaves.iter().enumerate() {
            let (slot, (lo, hi, invert)) = match leaf.test {
                // A literal is never NaN or -0.0: it has no sign.
                Test::Float { slot, op, rhs } => {
                    (InlineSlot::new(slot)?, key_range(op, order_key(rhs)))
                }
                Test::Const(holds) => (InlineSlot::S0, (i64::MIN, i64::MAX, !holds)),
                _ => return None,
            };
            let (Some(lo_entry), Some(span_entry), Some(slot_entry)) = (
                fast.lo.get_mut(index),
                fast.span.get_mut(index),
                fast.slots.get_mut(index),
            ) else {
                return None;
            };
            *lo_entry = lo;
            *span_entry = hi.wrapping_sub(lo) as u64;
            *slot_entry = slot;
            if invert {
                inverted |= 1 << index;
            }
        }
        // The index has a bit set where a leaf misses: invert every leaf.
        let inverted = !inverted & ((1 << leaves.len()) - 1);
        truth_table(leaves, inverted, &mut fast.table);
        Some(fast)
    }

    // Always inlined: a call costs as much as a leaf.
    #[inline(always)]
    fn evaluate(&self, keys: &[i64; INLINE]) -> bool {
        // 1 when leaf `leaf` does NOT hold (`span < key - lo`), so that `index * 2 + bit`
        // is one `cmp` and one `adc`.
        let holds = |leaf: usize| {
            let key = keys[self.slots[leaf].index()];
            usize::from(self.span[leaf] < key.wrapping_sub(self.lo[leaf]) as u64)
        };
        // Unrolled by hand, last leaf first: one jump (a `match` on the length) lands on
        // the first leaf to compute, then straight-line code shifts each bit in, so leaf
        // `k` ends in bit `k`. A loop costs more than two leaves here.
        let mut index = 0_usize;
        'l1: {
            'l2: {
                'l3: {
                    'l4: {
                        'l5: {
                            'l6: {
                                'l7: {
                                    'l8: {
                                        'l9: {
                                            'l10: {
                                                'l11: {
                                                    'l12: {
                                                        match self.len {
                                                            12 => break 'l12,
                                                            11 => break 'l11,
                                                            10 => break 'l10,
                                                            9 => break 'l9,
                                                            8 => break 'l8,
                                                            7 => break 'l7,
                                                            6 => break 'l6,
                                                            5 => break 'l5,
                                                            4 => break 'l4,
                                                            3 => break 'l3,
                                                            2 => break 'l2,
                                                            _ => break 'l1,
                                                        }
                                                    }
                                                    index = holds(11);
                                                }
                                                index = index * 2 + holds(10);
                                            }
                                            index = index * 2 + holds(9);
                                        }
                                        index = index * 2 + holds(8);
                                    }
                                    index = index * 2 + holds(7);
                                }
                                index = index * 2 + holds(6);
                            }
                            index = index * 2 + holds(5);
                        }
                        index = index * 2 + holds(4);
                    }
                    index = index * 2 + holds(3);
                }
                index = index * 2 + holds(2);
            }
            index = index * 2 + holds(1);
        }
        index = index * 2 + holds(0);
        (self.table[(index / 64) % 64] >> (index % 64)) & 1 != 0
    }
}

/// Runs the jumping code symbolically on all 2^n assignments of leaf outcomes at once,
/// `leaves` being at least one: `reach[i]` is the set of assignments (a bit set over
/// assignment indices, bit `i` of an index being leaf `i`'s outcome) that arrive at leaf
/// `i`, and `accept` (zeroed) receives those that reach [`ACCEPT`]. Exits only jump
/// forward, so one pass in leaf order settles every set. A leaf whose bit is in
/// `inverted` holds when its index bit is clear.
fn truth_table(leaves: &[Leaf], inverted: u64, accept: &mut [u64]) {
    const PATTERNS: [u64; 6] = [
        0xAAAA_AAAA_AAAA_AAAA,
        0xCCCC_CCCC_CCCC_CCCC,
        0xF0F0_F0F0_F0F0_F0F0,
        0xFF00_FF00_FF00_FF00,
        0xFFFF_0000_FFFF_0000,
        0xFFFF_FFFF_0000_0000,
    ];
    let words = (1_usize << leaves.len()).div_ceil(64);
    let mut reach = vec![0_u64; words * leaves.len()];
    reach
        .get_mut(..words)
        .into_iter()
        .flatten()
        .for_each(|word| *word = u64::MAX);
    for (index, leaf) in leaves.iter().enumerate() {
        for word in 0..words {
            let arriving = reach.get(index * words + word).copied().unwrap_or(0);
            let set = match PATTERNS.get(index) {
                Some(pattern) => *pattern,
                None if (word >> (index - 6)) & 1 == 1 => u64::MAX,
                None => 0,
            };
            let outcome = if inverted & (1 << index) == 0 {
                set
            } else {
                !set
            };
            for (exit, taken) in [
                (leaf.on_true, arriving & outcome),
                (leaf.on_false, arriving & !outcome),
            ] {
                let target = match exit {
                    ACCEPT => accept.get_mut(word),
                    REJECT => None,
                    next => reach.get_mut(next as usize * words + word),
                };
                if let Some(target) = target {
                    *target |= taken;
                }
            }
        }
    }
}

fn kind(value: Val<'_>) -> ValueKind {
    match value {
        Val::Str(_) => ValueKind::String,
        _ => ValueKind::Number,
    }
}

pub(crate) fn bit(slot: u8) -> u64 {
    1_u64.checked_shl(u32::from(slot)).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ConditionParser;

    /// Every exit jumps forward (so evaluation ends) and none is left unpatched.
    fn check_jumps(source: &str) {
        let parser = ConditionParser::new()
            .max_tokens(usize::MAX)
            .max_depth(usize::MAX)
            .max_len(usize::MAX);
        let condition = parser.parse(source).unwrap();
        let program = &*condition.program;
        assert!(program.start == ACCEPT || (program.start as usize) < program.leaves.len());
        for (index, leaf) in program.leaves.iter().enumerate() {
            for exit in [leaf.on_true, leaf.on_false] {
                assert!(
                    exit == ACCEPT || exit == REJECT || exit as usize > index,
                    "{source}: leaf {index} -> {exit}"
                );
                assert!(exit == ACCEPT || exit == REJECT || (exit as usize) < program.leaves.len());
            }
        }
    }

    #[test]
    fn exits_jump_forward() {
        check_jumps("always");
        check_jumps("step > 1");
        check_jumps("step > 1 and step > 2 or step > 3 and (step > 4 or step > 5) or step > 6");
        check_jumps(
            "((step > 1 or step > 2) and (step > 3 or step > 4)) or step > 5 and step > 6 and step > 7",
        );
        let deep = format!("{}step > 1{}", "(".repeat(1000), ")".repeat(1000));
        check_jumps(&deep);
        let wide = vec!["step > 1"; 1000].join(" or ");
        check_jumps(&wide);
    }
}
