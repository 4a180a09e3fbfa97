//! Groups of checks chosen by tag or name, as Spring Boot's health groups
//! (`include`/`exclude`) and ASP.NET Core's tag predicates: [`HealthGroup`], with the
//! three every service has, [`HealthGroup::liveness`], [`HealthGroup::readiness`] and
//! [`HealthGroup::startup`]. The monitor reads a group's health from its cache
//! ([`HealthMonitor::group_health`](crate::HealthMonitor::group_health)).
//!
//! The default groups select by the tags of [`probe`](crate::probe): liveness is the
//! checks tagged `live` (none by default: the process answering is its liveness),
//! readiness those tagged `ready` (every check unless its tags are set), start-up those
//! tagged `startup` (none by default). See the [`probe`](crate::probe) module for why.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use crate::probe::{LIVE_TAG, READY_TAG, STARTUP_TAG};

/// One selector of a group: every check with a tag, or one check by name. Written as
/// text, `tag:<tag>` or the check's name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Member {
    /// Every check carrying this tag.
    Tag(String),
    /// The check of this name.
    Check(String),
}

impl FromStr for Member {
    type Err = std::convert::Infallible;

    /// `tag:<tag>` is a tag, anything else a check name.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Ok(match text.strip_prefix("tag:") {
            Some(tag) => Self::Tag(tag.to_owned()),
            None => Self::Check(text.to_owned()),
        })
    }
}

impl fmt::Display for Member {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Tag(tag) => write!(f, "tag:{tag}"),
            Self::Check(name) => f.write_str(name),
        }
    }
}

impl Member {
    fn matches(&self, check: &str, tags: &BTreeSet<String>) -> bool {
        match self {
            Self::Tag(tag) => tags.contains(tag),
            Self::Check(name) => name == check,
        }
    }
}

/// A named set of checks: those any `include` selector matches and no `exclude`
/// selector does.
///
/// ```
/// use std::collections::BTreeSet;
/// use health::groups::{HealthGroup, Member};
///
/// let payments = HealthGroup::new("payments")
///     .include(Member::Tag("downstream".into()))
///     .include("disk".parse().unwrap())
///     .exclude(Member::Check("fraud".into()));
/// let downstream = BTreeSet::from(["downstream".to_owned()]);
/// assert!(payments.includes("billing", &downstream));
/// assert!(!payments.includes("fraud", &downstream));
/// assert!(payments.includes("disk", &BTreeSet::new()));
///
/// // A selector that matches no check is a mistake worth refusing.
/// let checks = [("billing", &downstream)];
/// assert_eq!(payments.unknown_members(checks).len(), 2); // "disk" and "fraud"
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthGroup {
    name: String,
    include: Vec<Member>,
    exclude: Vec<Member>,
}

impl HealthGroup {
    /// A group named `name` that includes nothing yet.
    #[must_use]
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            include: Vec::new(),
            exclude: Vec::new(),
        }
    }

    /// `liveness`: the checks tagged [`LIVE_TAG`].
    #[must_use]
    pub fn liveness() -> Self {
        Self::new("liveness").include(Member::Tag(LIVE_TAG.to_owned()))
    }

    /// `readiness`: the checks tagged [`READY_TAG`].
    #[must_use]
    pub fn readiness() -> Self {
        Self::new("readiness").include(Member::Tag(READY_TAG.to_owned()))
    }

    /// `startup`: the checks tagged [`STARTUP_TAG`].
    #[must_use]
    pub fn startup() -> Self {
        Self::new("startup").include(Member::Tag(STARTUP_TAG.to_owned()))
    }

    /// Adds an include selector.
    #[must_use]
    pub fn include(mut self, member: Member) -> Self {
        self.include.push(member);
        self
    }

    /// Adds an exclude selector.
    #[must_use]
    pub fn exclude(mut self, member: Member) -> Self {
        self.exclude.push(member);
        self
    }

    /// The group's name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The include selectors.
    #[must_use]
    pub fn included(&self) -> &[Member] {
        &self.include
    }

    /// The exclude selectors.
    #[must_use]
    pub fn excluded(&self) -> &[Member] {
        &self.exclude
    }

    /// Whether the check `check` with `tags` belongs to the group.
    #[must_use]
    pub fn includes(&self, check: &str, tags: &BTreeSet<String>) -> bool {
        self.include
            .iter()
            .any(|member| member.matches(check, tags))
            && !self
                .exclude
                .iter()
                .any(|member| member.matches(check, tags))
    }

    /// The selectors (include and exclude) that match none of `checks` (name and tags):
    /// a check name nobody registered, a tag no check carries.
    pub fn unknown_members<'a, I>(&self, checks: I) -> Vec<&Member>
    where
        I: IntoIterator<Item = (&'a str, &'a BTreeSet<String>)>,
        I::IntoIter: Clone,
    {
        let checks = checks.into_iter();
        self.include
            .iter()
            .chain(&self.exclude)
            .filter(|member| {
                !checks
                    .clone()
                    .any(|(name, tags)| member.matches(name, tags))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(tags: &[&str]) -> BTreeSet<String> {
        tags.iter().map(|tag| (*tag).to_owned()).collect()
    }

    #[test]
    fn default_groups_select_by_their_tags() {
        let ready = tags(&[READY_TAG]);
        assert!(HealthGroup::readiness().includes("db", &ready));
        assert!(!HealthGroup::liveness().includes("db", &ready));
        assert!(!HealthGroup::startup().includes("db", &ready));
        assert!(HealthGroup::startup().includes("warmup", &tags(&[STARTUP_TAG])));
    }

    #[test]
    fn members_parse_from_text_and_print_back() {
        for text in ["tag:downstream", "billing", "tag:", "a:b"] {
            let member: Member = text.parse().unwrap();
            assert_eq!(member.to_string(), text);
        }
        assert_eq!("tag:x".parse::<Member>().unwrap(), Member::Tag("x".into()));
    }

    #[test]
    fn exclude_wins_over_include() {
        let group = HealthGroup::new("g")
            .include(Member::Tag("a".into()))
            .exclude(Member::Tag("b".into()));
        assert!(group.includes("x", &tags(&["a"])));
        assert!(!group.includes("x", &tags(&["a", "b"])));
        assert!(!group.includes("x", &tags(&["b"])));
    }
}
