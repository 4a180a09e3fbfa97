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
/// A context belongs to a whitelist: [`Context::new`] (and the `From`/`FromIterator`
/// conversions) to the default one, [`ConditionParser::context`](crate::ConditionParser::context)
/// to that parser's. It stores each value in its variable's slot, so a condition of the
/// same whitelist reads it without looking a name up. Names outside the whitelist are
/// ignored: events usually carry more fields than rules read.
///
/// Building one costs no allocation unless it holds strings (or the whitelist has more
/// than eight variables), and can be reused: [`Context::set`] overwrites.
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
                strings: Vec::new(),
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

    /// A context for the default whitelist holding `pairs`; names outside it are ignored.
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

    /// A context for the default whitelist holding the members of a JSON object; members
    /// outside the whitelist are ignored (and not inspected).
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

    /// Sets the members of a JSON object that are in this context's whitelist.
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
        for (name, value) in members {
            let Some(slot) = self.vars.slot(name.as_bytes()) else {
                continue;
            };
            let value = Value::try_from(value).map_err(|found| Error::UnsupportedValue {
                name: name.clone(),
                found,
            })?;
            self.set_slot(slot, value);
        }
        Ok(())
    }

    /// Sets `name` to `value`, replacing any previous value. Returns whether `name` is in
    /// the whitelist; if not, nothing is stored.
    #[inline]
    pub fn set(&mut self, name: &str, value: impl Into<Value>) -> bool {
        match self.vars.slot(name.as_bytes()) {
            Some(slot) => {
                self.set_slot(slot, value.into());
                true
            }
            None => false,
        }
    }

    /// Sets `variable` to `value`, as [`Context::set`] but without looking a name up: the
    /// way to fill contexts at high rates. Returns whether the variable belongs to this
    /// context's whitelist; if not, nothing is stored.
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
            return false;
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
        let slot = self.vars.slot(name.as_bytes())?;
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
        }
    }

    /// The value of `name`, if set.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<Value> {
        self.value(self.vars.slot(name.as_bytes())?)
    }

    /// The names that have a value, in whitelist order.
    pub fn names(&self) -> impl Iterator<Item = &str> + '_ {
        self.vars
            .names()
            .enumerate()
            .filter(|(slot, _)| u8::try_from(*slot).is_ok_and(|slot| self.present & bit(slot) != 0))
            .map(|(_, name)| name)
    }

    /// How many variables have a value.
    #[must_use]
    pub fn len(&self) -> usize {
        self.present.count_ones() as usize
    }

    /// Whether no variable has a value.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.present == 0
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
        map.finish()
    }
}

impl<K: AsRef<str>, V: Into<Value>> Extend<(K, V)> for Context {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, pairs: I) {
        for (name, value) in pairs {
            self.set(name.as_ref(), value);
        }
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
    /// For each slot of the condition's whitelist, the context's slot, or `NONE`.
    map: [u8; MAX_VARIABLES],
    present: u64,
    strings: u64,
}

const NONE: u8 = u8::MAX;

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
            let Some(theirs) = context.vars.slot(vars.name(slot).as_bytes()) else {
                continue;
            };
            if context.present & bit(theirs) != 0 {
                *entry = theirs;
                remapped.present |= bit(slot);
                if context.strings_mask & bit(theirs) != 0 {
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

    fn theirs(&self, slot: u8) -> Option<u8> {
        self.map
            .get(usize::from(slot))
            .copied()
            .filter(|theirs| *theirs != NONE)
    }
}

impl Lookup for Remapped<'_> {
    fn get(&self, slot: u8) -> Option<Val<'_>> {
        self.context.get_val(self.theirs(slot)?)
    }

    fn val(&self, slot: u8) -> Val<'_> {
        self.get(slot).unwrap_or(Val::Int(0))
    }
}
