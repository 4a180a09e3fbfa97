use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::hash::BuildHasher;
use std::sync::Arc;

use crate::condition::{DEFAULT_TAG, bit, from_order_key, order_key};
use crate::number::{MAX_EXACT, Val};
use crate::vars::{MAX_VARIABLES, Vars};
use crate::{Error, Result};

/// A value a [`Context`] holds for a variable: a number or a string.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Value {
    /// An integer.
    Int(i64),
    /// An integer above `i64::MAX` (smaller ones are [`Value::Int`]).
    UInt(u64),
    /// A decimal.
    Float(f64),
    /// A string.
    Str(Arc<str>),
}

macro_rules! value_from {
    ($variant:ident: $($ty:ty),*) => {$(
        impl From<$ty> for Value {
            fn from(value: $ty) -> Self {
                Self::$variant(value.into())
            }
        }
    )*};
}
value_from!(Int: i8, i16, i32, i64, u8, u16, u32);
value_from!(Float: f32, f64);
value_from!(Str: &str, String, Box<str>, Arc<str>);

impl From<u64> for Value {
    fn from(value: u64) -> Self {
        i64::try_from(value).map_or(Self::UInt(value), Self::Int)
    }
}

impl From<usize> for Value {
    fn from(value: usize) -> Self {
        Self::from(value as u64)
    }
}

impl From<isize> for Value {
    fn from(value: isize) -> Self {
        Self::Int(value as i64)
    }
}

impl From<&Self> for Value {
    fn from(value: &Self) -> Self {
        value.clone()
    }
}

impl TryFrom<&serde_json::Value> for Value {
    type Error = &'static str;

    /// A JSON number or string; otherwise what the value is, e.g. `"null"`.
    fn try_from(value: &serde_json::Value) -> std::result::Result<Self, &'static str> {
        match value {
            serde_json::Value::Number(number) => Ok(if let Some(int) = number.as_i64() {
                Self::Int(int)
            } else if let Some(uint) = number.as_u64() {
                Self::UInt(uint)
            } else {
                Self::Float(number.as_f64().unwrap_or(f64::NAN))
            }),
            serde_json::Value::String(string) => Ok(Self::Str(string.as_str().into())),
            serde_json::Value::Null => Err("null"),
            serde_json::Value::Bool(_) => Err("a boolean"),
            serde_json::Value::Array(_) => Err("an array"),
            serde_json::Value::Object(_) => Err("an object"),
        }
    }
}

/// A variable of a whitelist, resolved to its slot once, so that
/// [`Context::set_variable`] looks no name up. The default whitelist's are constants;
/// [`ConditionParser::variable`](crate::ConditionParser::variable) gives any whitelist's.
#[derive(Clone)]
pub struct Variable {
    vars: Vars,
    slot: u8,
}

impl Variable {
    /// `severity` of the default whitelist.
    pub const SEVERITY: Self = Self::default_slot(0);
    /// `recurrence_count` of the default whitelist.
    pub const RECURRENCE_COUNT: Self = Self::default_slot(1);
    /// `confidence` of the default whitelist.
    pub const CONFIDENCE: Self = Self::default_slot(2);
    /// `step` of the default whitelist.
    pub const STEP: Self = Self::default_slot(3);
    /// `duration` of the default whitelist.
    pub const DURATION: Self = Self::default_slot(4);

    const fn default_slot(slot: u8) -> Self {
        Self {
            vars: Vars::Default,
            slot,
        }
    }

    pub(crate) fn new(vars: &Vars, name: &str) -> Option<Self> {
        Some(Self {
            slot: vars.slot(name.as_bytes())?,
            vars: vars.clone(),
        })
    }

    /// The variable's name.
    #[must_use]
    pub fn name(&self) -> &str {
        self.vars.name(self.slot)
    }
}

impl PartialEq for Variable {
    fn eq(&self, other: &Self) -> bool {
        self.slot == other.slot && self.vars.same(&other.vars)
    }
}

impl Eq for Variable {}

impl fmt::Debug for Variable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Variable").field(&self.name()).finish()
    }
}

/// Values stored inline before spilling to the heap; the default whitelist has five.
pub(crate) const INLINE: usize = 8;

/// How a slot's `i64` is to be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stored {
    /// An [`order_key`] of an integer up to 2^53 (exact in `f64`).
    ExactInt,
    /// An [`order_key`] of a float other than NaN and -0.0.
    ExactFloat,
    /// An `i64` beyond 2^53.
    Int,
    /// A `u64` beyond 2^53, as bits.
    UInt,
    /// NaN or -0.0, as bits.
    Float,
    /// A string, kept in `Context::strings`.
    Str,
}

impl Stored {
    #[inline]
    fn of(value: &Value) -> (Self, i64) {
        match *value {
            Value::Int(int) if int.unsigned_abs() <= MAX_EXACT => {
                (Self::ExactInt, order_key(int as f64))
            }
            Value::Int(int) => (Self::Int, int),
            Value::UInt(uint) if uint <= MAX_EXACT => (Self::ExactInt, order_key(uint as f64)),
            Value::UInt(uint) => (Self::UInt, uint as i64),
            Value::Float(float) if float.is_nan() || (float == 0.0 && float.is_sign_negative()) => {
                (Self::Float, float.to_bits() as i64)
            }
            Value::Float(float) => (Self::ExactFloat, order_key(float)),
            Value::Str(_) => (Self::Str, 0),
        }
    }

    fn is_exact(self) -> bool {
        matches!(self, Self::ExactInt | Self::ExactFloat)
    }
}

/// The values of the variables for one evaluation, e.g. the fields of one event.
///
/// A context keeps every value it is given, whatever the name. It also belongs to a
/// whitelist: [`Context::new`] (and the `From`/`FromIterator` conversions) to the default
/// one, [`ConditionParser::context`](crate::ConditionParser::context) and
/// [`Condition::context`](crate::Condition::context) to that parser's or condition's. It
/// stores a whitelisted variable's value in the variable's slot, so a condition of the
/// same whitelist reads it without looking a name up; other names are kept by name
/// (sorted), where a condition of another whitelist finds them. So any condition
/// evaluates against any context; sharing the whitelist is only faster.
///
/// Building one costs no allocation unless it holds strings, names outside its whitelist
/// or (for a whitelist of more than eight variables) spilled slots, and it can be reused:
/// [`Context::set`] overwrites.
///
/// ```
/// use condition::{Context, parse_condition};
///
/// let condition = parse_condition("severity >= 0.8 and step == 'analyze'")?;
/// let from_pairs = Context::from_pairs([("severity", 0.9)]).with("step", "analyze");
/// let from_json = Context::from_json(&serde_json::json!({"severity": 0.9, "step": "analyze", "host": "a1"}))?;
/// assert!(condition.evaluate(&from_pairs)?);
/// assert!(condition.evaluate(&from_json)?);
/// # Ok::<(), condition::Error>(())
/// ```
#[derive(Clone)]
pub struct Context {
    vars: Vars,
    /// Slots that hold a value.
    present: u64,
    /// Slots that hold a string.
    strings_mask: u64,
    /// Inline slots holding a number exactly representable as `f64` (an integer up to
    /// 2^53, a float but NaN and -0.0), whose `keys` entry is its [`order_key`]: what the
    /// fast path of evaluation reads. Plus [`DEFAULT_TAG`] for the default whitelist.
    exact: u64,
    /// Per inline slot, as `kinds` says: an order key or the value's bits.
    keys: [i64; INLINE],
    kinds: [Stored; INLINE],
    /// Strings, and slots from [`INLINE`] on; allocated only when needed, so that
    /// numbers alone cost no allocation and the context stays small to move.
    extra: Option<Box<Extra>>,
}

#[derive(Clone, Default)]
struct Extra {
    /// Slots from [`INLINE`] on.
    spill: Vec<(i64, Stored)>,
    /// The strings, by slot.
    strings: Vec<Option<Arc<str>>>,
    /// Names outside the whitelist, sorted by name, each once.
    named: Vec<(Box<str>, Held)>,
}

/// What a context holds for a name outside its whitelist.
#[derive(Debug, Clone)]
pub(crate) enum Held {
    Value(Value),
    /// A JSON member that is neither a number nor a string: what it is, e.g. `"null"`.
    /// A condition naming it fails with [`Error::UnsupportedValue`].
    Unsupported(&'static str),
}

impl Context {
    /// An empty context for the default whitelist.
    #[must_use]
    #[inline]
    pub fn new() -> Self {
        Self {
            vars: Vars::Default,
            present: 0,
            strings_mask: 0,
            exact: DEFAULT_TAG,
            keys: [0; INLINE],
            kinds: [Stored::Int; INLINE],
            extra: None,
        }
    }

    pub(crate) fn for_vars(vars: Vars) -> Self {
        let spilled = vars.len().saturating_sub(INLINE);
        let extra = (spilled > 0).then(|| {
            Box::new(Extra {
                spill: vec![(0, Stored::Int); spilled],
                ..Extra::default()
            })
        });
        let exact = if vars.id() == Vars::Default.id() {
            DEFAULT_TAG
        } else {
            0
        };
        Self {
            vars,
            exact,
            extra,
            ..Self::new()
        }
    }

    /// A context for the default whitelist holding `pairs` (names outside it too); of two
    /// values for one name, the later wins.
    pub fn from_pairs<I, K, V>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: Into<Value>,
    {
        let mut context = Self::new();
        context.extend(pairs);
        context
    }

    /// A context for the default whitelist holding the members of a JSON object.
    ///
    /// A member outside the whitelist that is neither a number nor a string (events carry
    /// such fields) is kept as such: only a condition that names it fails, with
    /// [`Error::UnsupportedValue`].
    ///
    /// # Errors
    ///
    /// [`Error::NotAnObject`], or [`Error::UnsupportedValue`] for a whitelisted member
    /// that is neither a number nor a string.
    pub fn from_json(value: &serde_json::Value) -> Result<Self> {
        let mut context = Self::new();
        context.extend_json(value)?;
        Ok(context)
    }

    /// Sets the members of a JSON object, as [`Context::from_json`] does.
    ///
    /// # Errors
    ///
    /// As [`Context::from_json`]; members before the faulty one are set.
    pub fn extend_json(&mut self, value: &serde_json::Value) -> Result<()> {
        let serde_json::Value::Object(members) = value else {
            let found = match Value::try_from(value) {
                Ok(Value::Str(_)) => "a string",
                Ok(_) => "a number",
                Err(found) => found,
            };
            return Err(Error::NotAnObject { found });
        };
        let mut kept = Vec::new();
        let mut outcome = Ok(());
        for (name, value) in members {
            let value = Value::try_from(value);
            match self.vars.slot(name.as_bytes()) {
                Some(slot) => match value {
                    Ok(value) => self.set_slot(slot, value),
                    Err(found) => {
                        let name = name.clone();
                        outcome = Err(Error::UnsupportedValue { name, found });
                        break;
                    }
                },
                None => kept.push((
                    name.as_str().into(),
                    value.map_or_else(Held::Unsupported, Held::Value),
                )),
            }
        }
        self.keep(kept);
        outcome
    }

    /// Sets `name` to `value`, replacing any previous value. Returns whether `name` is in
    /// the context's whitelist (its value then sits in the variable's slot); any other
    /// name is kept by name.
    #[inline]
    pub fn set(&mut self, name: &str, value: impl Into<Value>) -> bool {
        match self.vars.slot(name.as_bytes()) {
            Some(slot) => {
                self.set_slot(slot, value.into());
                true
            }
            None => {
                self.keep_one(name, Held::Value(value.into()));
                false
            }
        }
    }

    /// Sets `variable` to `value`, as [`Context::set`] but without looking a name up when
    /// the variable belongs to this context's whitelist: the way to fill contexts at high
    /// rates. A variable of another whitelist is set by its name, as [`Context::set`] does;
    /// the result is that of [`Context::set`].
    ///
    /// ```
    /// use condition::{Context, Variable};
    ///
    /// let mut event = Context::new();
    /// assert!(event.set_variable(&Variable::SEVERITY, 0.9));
    /// assert_eq!(event.get("severity"), Some(0.9.into()));
    /// ```
    #[inline]
    pub fn set_variable(&mut self, variable: &Variable, value: impl Into<Value>) -> bool {
        if !self.vars.same(&variable.vars) {
            return self.set(variable.name(), value);
        }
        self.set_slot(variable.slot, value.into());
        true
    }

    /// [`Context::set`], by value, for building in one expression.
    #[must_use]
    #[inline]
    pub fn with(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.set(name, value);
        self
    }

    /// Removes the value of `name`, returning it.
    pub fn remove(&mut self, name: &str) -> Option<Value> {
        let Some(slot) = self.vars.slot(name.as_bytes()) else {
            let named = &mut self.extra.as_mut()?.named;
            let index = find(named, name)?;
            return match named.remove(index).1 {
                Held::Value(value) => Some(value),
                Held::Unsupported(_) => None,
            };
        };
        let value = self.value(slot)?;
        self.present &= !bit(slot);
        self.forget_string(slot);
        if usize::from(slot) < INLINE {
            self.exact &= !bit(slot);
        }
        Some(value)
    }

    /// Removes every value, keeping the whitelist and any allocated room.
    pub fn clear(&mut self) {
        self.present = 0;
        self.strings_mask = 0;
        self.exact &= DEFAULT_TAG;
        if let Some(extra) = &mut self.extra {
            extra.strings.iter_mut().for_each(|string| *string = None);
            extra.named.clear();
        }
    }

    /// The value of `name`, if set.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<Value> {
        match self.vars.slot(name.as_bytes()) {
            Some(slot) => self.value(slot),
            None => match self.held(name)? {
                Held::Value(value) => Some(value.clone()),
                Held::Unsupported(_) => None,
            },
        }
    }

    /// The names that have a value: the whitelisted ones in whitelist order, then the
    /// others in name order.
    pub fn names(&self) -> impl Iterator<Item = &str> + '_ {
        let whitelisted = self
            .vars
            .names()
            .enumerate()
            .filter(|(slot, _)| u8::try_from(*slot).is_ok_and(|slot| self.present & bit(slot) != 0))
            .map(|(_, name)| name);
        let kept = self
            .named()
            .iter()
            .filter(|(_, held)| matches!(held, Held::Value(_)))
            .map(|(name, _)| &**name);
        whitelisted.chain(kept)
    }

    /// How many names have a value.
    #[must_use]
    pub fn len(&self) -> usize {
        let kept = self
            .named()
            .iter()
            .filter(|(_, held)| matches!(held, Held::Value(_)))
            .count();
        self.present.count_ones() as usize + kept
    }

    /// Whether no name has a value.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The names outside the whitelist, sorted.
    pub(crate) fn named(&self) -> &[(Box<str>, Held)] {
        self.extra.as_ref().map_or(&[], |extra| &extra.named)
    }

    /// What the context holds for `name`, a name outside its whitelist.
    pub(crate) fn held(&self, name: &str) -> Option<&Held> {
        let named = self.named();
        named.get(find(named, name)?).map(|(_, held)| held)
    }

    /// Keeps `held` under `name`, a name outside the whitelist.
    fn keep_one(&mut self, name: &str, held: Held) {
        let named = &mut self.extra.get_or_insert_with(Box::default).named;
        match named.binary_search_by(|(known, _)| (**known).cmp(name)) {
            Ok(index) => {
                if let Some(entry) = named.get_mut(index) {
                    entry.1 = held;
                }
            }
            Err(index) => named.insert(index, (name.into(), held)),
        }
    }

    /// Keeps every entry of `kept` (names outside the whitelist; of two for one name, the
    /// later wins): appended, then sorted once, so a large batch costs `n log n`.
    fn keep(&mut self, kept: Vec<(Box<str>, Held)>) {
        if kept.is_empty() {
            return;
        }
        let named = &mut self.extra.get_or_insert_with(Box::default).named;
        named.extend(kept);
        // Stable: of equal names, the earlier-written stays first...
        named.sort_by(|(left, _), (right, _)| left.cmp(right));
        // ...and each run collapses into its first entry holding its last value.
        named.dedup_by(|later, kept| {
            let same = later.0 == kept.0;
            if same {
                std::mem::swap(later, kept);
            }
            same
        });
    }

    // Always inlined: after `set`'s `Into<Value>`, the compiler sees a number's variant
    // and keeps only its few stores.
    #[inline(always)]
    fn set_slot(&mut self, slot: u8, value: Value) {
        match value {
            Value::Str(string) => self.set_string(slot, string),
            number => {
                let (kind, key) = Stored::of(&number);
                self.set_number(slot, kind, key);
            }
        }
    }

    #[inline]
    fn set_number(&mut self, slot: u8, kind: Stored, key: i64) {
        let index = usize::from(slot);
        if let (Some(stored_key), Some(stored_kind)) =
            (self.keys.get_mut(index), self.kinds.get_mut(index))
        {
            *stored_key = key;
            *stored_kind = kind;
            if kind.is_exact() {
                self.exact |= bit(slot);
            } else {
                self.exact &= !bit(slot);
            }
        } else if let Some(stored) = self.spilled_mut(index) {
            *stored = (key, kind);
        } else {
            return;
        }
        self.present |= bit(slot);
        if self.strings_mask & bit(slot) != 0 {
            self.forget_string(slot);
        }
    }

    #[inline(never)]
    fn set_string(&mut self, slot: u8, string: Arc<str>) {
        self.set_number(slot, Stored::Str, 0);
        if self.present & bit(slot) == 0 {
            return;
        }
        let count = self.vars.len();
        let strings = &mut self.extra.get_or_insert_with(Box::default).strings;
        if strings.is_empty() {
            strings.resize(count, None);
        }
        if let Some(entry) = strings.get_mut(usize::from(slot)) {
            *entry = Some(string);
            self.strings_mask |= bit(slot);
        }
    }

    /// Drops the string in `slot`, if any, now rather than with the context.
    #[cold]
    #[inline(never)]
    fn forget_string(&mut self, slot: u8) {
        self.strings_mask &= !bit(slot);
        if let Some(entry) = self
            .extra
            .as_mut()
            .and_then(|extra| extra.strings.get_mut(usize::from(slot)))
        {
            *entry = None;
        }
    }

    fn spilled_mut(&mut self, index: usize) -> Option<&mut (i64, Stored)> {
        self.extra
            .as_mut()?
            .spill
            .get_mut(index.checked_sub(INLINE)?)
    }

    fn value(&self, slot: u8) -> Option<Value> {
        Some(match self.get_val(slot)? {
            Val::Int(int) => Value::Int(int),
            Val::UInt(uint) => Value::UInt(uint),
            Val::Float(float) => Value::Float(float),
            Val::Str(_) => Value::Str(
                self.extra
                    .as_ref()?
                    .strings
                    .get(usize::from(slot))?
                    .clone()?,
            ),
        })
    }

    fn get_val(&self, slot: u8) -> Option<Val<'_>> {
        (self.present & bit(slot) != 0).then(|| self.val_unchecked(slot))
    }

    #[inline]
    fn val_unchecked(&self, slot: u8) -> Val<'_> {
        let index = usize::from(slot);
        let stored = match index.checked_sub(INLINE) {
            None => self
                .keys
                .get(index)
                .copied()
                .zip(self.kinds.get(index).copied()),
            Some(spilled) => self
                .extra
                .as_ref()
                .and_then(|extra| extra.spill.get(spilled).copied()),
        };
        let (key, kind) = stored.unwrap_or((0, Stored::Int));
        match kind {
            Stored::ExactFloat => Val::Float(from_order_key(key)),
            Stored::ExactInt => Val::Int(from_order_key(key) as i64),
            Stored::Int => Val::Int(key),
            Stored::UInt => Val::UInt(key as u64),
            Stored::Float => Val::Float(f64::from_bits(key as u64)),
            Stored::Str => Val::Str(
                self.extra
                    .as_ref()
                    .and_then(|extra| extra.strings.get(index))
                    .and_then(Option::as_deref)
                    .unwrap_or_default(),
            ),
        }
    }

    #[inline]
    pub(crate) fn vars(&self) -> &Vars {
        &self.vars
    }

    pub(crate) fn present(&self) -> u64 {
        self.present
    }

    pub(crate) fn strings(&self) -> u64 {
        self.strings_mask
    }

    #[inline]
    pub(crate) fn exact(&self) -> u64 {
        self.exact
    }

    #[inline]
    pub(crate) fn keys(&self) -> &[i64; INLINE] {
        &self.keys
    }
}

impl Default for Context {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        for (slot, name) in self.vars.names().enumerate() {
            if let Some(value) = u8::try_from(slot).ok().and_then(|slot| self.value(slot)) {
                map.entry(&name, &value);
            }
        }
        for (name, held) in self.named() {
            match held {
                Held::Value(value) => map.entry(name, value),
                Held::Unsupported(found) => map.entry(name, &format_args!("unsupported {found}")),
            };
        }
        map.finish()
    }
}

impl<K: AsRef<str>, V: Into<Value>> Extend<(K, V)> for Context {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, pairs: I) {
        let mut kept = Vec::new();
        for (name, value) in pairs {
            let name = name.as_ref();
            match self.vars.slot(name.as_bytes()) {
                Some(slot) => self.set_slot(slot, value.into()),
                None => kept.push((name.into(), Held::Value(value.into()))),
            }
        }
        self.keep(kept);
    }
}

impl<K: AsRef<str>, V: Into<Value>> FromIterator<(K, V)> for Context {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(pairs: I) -> Self {
        Self::from_pairs(pairs)
    }
}

impl<K: AsRef<str>, V: Into<Value>, S: BuildHasher> From<HashMap<K, V, S>> for Context {
    fn from(map: HashMap<K, V, S>) -> Self {
        Self::from_pairs(map)
    }
}

impl<K: AsRef<str>, V: Into<Value>> From<BTreeMap<K, V>> for Context {
    fn from(map: BTreeMap<K, V>) -> Self {
        Self::from_pairs(map)
    }
}

impl TryFrom<&serde_json::Value> for Context {
    type Error = Error;

    fn try_from(value: &serde_json::Value) -> Result<Self> {
        Self::from_json(value)
    }
}

/// How evaluation reads values by slot.
pub(crate) trait Lookup {
    /// The value in `slot`, or `None` if absent.
    fn get(&self, slot: u8) -> Option<Val<'_>>;
    /// The value in `slot`, which the caller knows is present.
    fn val(&self, slot: u8) -> Val<'_>;
    /// For an absent `slot`, what the context holds instead that it cannot compare.
    fn unsupported(&self, _slot: u8) -> Option<&'static str> {
        None
    }
}

impl Lookup for Context {
    #[inline]
    fn get(&self, slot: u8) -> Option<Val<'_>> {
        self.get_val(slot)
    }

    #[inline]
    fn val(&self, slot: u8) -> Val<'_> {
        self.val_unchecked(slot)
    }
}

/// A context seen through another whitelist's slots, its variables found by name.
pub(crate) struct Remapped<'a> {
    context: &'a Context,
    /// For each slot of the condition's whitelist: the context's slot, [`NAMED`] plus
    /// the index of a name it keeps outside its whitelist, or [`NONE`].
    map: [u32; MAX_VARIABLES],
    present: u64,
    strings: u64,
}

const NONE: u32 = u32::MAX;
/// Marks a [`Remapped::map`] entry as an index into [`Context::named`].
const NAMED: u32 = 1 << 31;

fn find(named: &[(Box<str>, Held)], name: &str) -> Option<usize> {
    named
        .binary_search_by(|(known, _)| (**known).cmp(name))
        .ok()
}

/// A value as evaluation reads it.
fn val(value: &Value) -> Val<'_> {
    match value {
        Value::Int(int) => Val::Int(*int),
        Value::UInt(uint) => Val::UInt(*uint),
        Value::Float(float) => Val::Float(*float),
        Value::Str(string) => Val::Str(string),
    }
}

impl<'a> Remapped<'a> {
    /// Maps the `required` slots of `vars` to `context`.
    pub(crate) fn new(context: &'a Context, vars: &Vars, required: u64) -> Self {
        let mut remapped = Self {
            context,
            map: [NONE; MAX_VARIABLES],
            present: 0,
            strings: 0,
        };
        for (slot, entry) in (0..=u8::MAX).zip(remapped.map.iter_mut()) {
            if required & bit(slot) == 0 {
                continue;
            }
            let name = vars.name(slot);
            if let Some(theirs) = context.vars.slot(name.as_bytes()) {
                if context.present & bit(theirs) != 0 {
                    *entry = u32::from(theirs);
                    remapped.present |= bit(slot);
                    if context.strings_mask & bit(theirs) != 0 {
                        remapped.strings |= bit(slot);
                    }
                }
                continue;
            }
            let named = context.named();
            let Some(index) = find(named, name)
                .and_then(|index| u32::try_from(index).ok())
                .filter(|index| index & NAMED == 0)
            else {
                continue;
            };
            *entry = NAMED | index;
            if let Some((_, Held::Value(value))) = named.get(index as usize) {
                remapped.present |= bit(slot);
                if matches!(value, Value::Str(_)) {
                    remapped.strings |= bit(slot);
                }
            }
        }
        remapped
    }

    pub(crate) fn present(&self) -> u64 {
        self.present
    }

    pub(crate) fn strings(&self) -> u64 {
        self.strings
    }

    /// What the context holds for `slot` outside its whitelist.
    fn held(&self, slot: u8) -> Option<&'a Held> {
        let entry = *self.map.get(usize::from(slot))?;
        if entry == NONE || entry & NAMED == 0 {
            return None;
        }
        let index = (entry & !NAMED) as usize;
        self.context.named().get(index).map(|(_, held)| held)
    }
}

impl Lookup for Remapped<'_> {
    fn get(&self, slot: u8) -> Option<Val<'_>> {
        let entry = *self.map.get(usize::from(slot))?;
        if entry == NONE {
            None
        } else if entry & NAMED == 0 {
            self.context.get_val(u8::try_from(entry).ok()?)
        } else {
            match self.held(slot)? {
                Held::Value(value) => Some(val(value)),
                Held::Unsupported(_) => None,
            }
        }
    }

    fn val(&self, slot: u8) -> Val<'_> {
        self.get(slot).unwrap_or(Val::Int(0))
    }

    fn unsupported(&self, slot: u8) -> Option<&'static str> {
        match self.held(slot)? {
            Held::Unsupported(found) => Some(found),
            Held::Value(_) => None,
        }
    }
}
