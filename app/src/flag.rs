//! Feature flags: per environment on/off, a percentage rollout, allow and deny lists,
//! and optional string variants. Evaluation is here, shared by the server (for
//! services) and the browser (the "test a key" box), so both give the same answer.
use crate::error::ApiError;
pub use crate::rule::{Condition, Context, Rule, Serve};
use crate::validate::{check_len, check_required, check_slug};
use serde::{Deserialize, Serialize};

pub const KEY_MAX: usize = 200;
pub const LIST_MAX: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Flag {
    pub id: i64,
    pub key: String,
    pub description: String,
    pub owner: String,
    pub tags: Vec<String>,
    /// Every change to the flag or one of its environments adds one.
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archived_at: Option<String>,
    /// Set when the kill switch turned the flag off everywhere; cleared when it is turned on again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub killed_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub killed_by: Option<String>,
    /// Usernames who may use this flag's kill switch (besides admins and the on-call and
    /// rollback authorities of signed-off plans whose stages change it).
    #[serde(default)]
    pub responders: Vec<String>,
    /// One per environment, by environment name.
    pub environments: Vec<FlagState>,
}

impl Flag {
    pub fn state(&self, environment: &str) -> Option<&FlagState> {
        self.environments.iter().find(|s| s.environment == environment)
    }
}

/// A flag in one environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct FlagState {
    pub environment: String,
    pub enabled: bool,
    /// 0..=100: the share of targeting keys that get the flag when it is on.
    pub percentage: i64,
    /// Targeting keys that always get the flag (when it is on).
    pub allow: Vec<String>,
    /// Targeting keys that never get it; the deny list wins over the allow list.
    pub deny: Vec<String>,
    /// Optional string variants; when present the flag evaluates to one of them.
    pub variants: Vec<Variant>,
    /// Tried in order after the deny and allow lists; the first that holds decides.
    #[serde(default)]
    pub rules: Vec<Rule>,
    pub updated_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Variant {
    pub name: String,
    pub weight: i64,
}

/// `POST /api/v1/flags`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewFlag {
    pub key: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub owner: String,
    #[serde(default)]
    pub tags: Vec<String>,
}

impl NewFlag {
    pub fn validate(&self) -> Result<(), ApiError> {
        check_key(&self.key)?;
        check_meta(Some(&self.description), Some(&self.owner), Some(&self.tags))
    }
}

/// `PATCH /api/v1/flags/{key}`: fields left out stay as they are.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct FlagPatch {
    pub version: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    /// The whole list of responders (usernames), replacing the one kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub responders: Option<Vec<String>>,
}

/// At most this many responders on one flag.
pub const RESPONDERS_MAX: usize = 100;

impl FlagPatch {
    pub fn validate(&self) -> Result<(), ApiError> {
        check_meta(self.description.as_ref(), self.owner.as_ref(), self.tags.as_ref())?;
        if let Some(list) = &self.responders {
            if list.len() > RESPONDERS_MAX {
                return Err(ApiError::validation("responders", format!("At most {RESPONDERS_MAX} responders.")));
            }
            for (i, name) in list.iter().enumerate() {
                let field = format!("responders[{i}]");
                check_required(&field, "A responder's username", name)?;
                check_len(&field, "A responder's username", name.trim(), crate::person::USERNAME_MAX)?;
                check_slug(&field, "A responder's username", name.trim())?;
            }
        }
        Ok(())
    }
}

/// `PUT /api/v1/flags/{key}/environments/{env}`: the whole state of the flag there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct FlagStateInput {
    /// The flag version this change was based on.
    pub version: i64,
    pub enabled: bool,
    #[serde(default = "full")]
    pub percentage: i64,
    #[serde(default)]
    pub allow: Vec<String>,
    #[serde(default)]
    pub deny: Vec<String>,
    #[serde(default)]
    pub variants: Vec<Variant>,
    /// Read by [`crate::rule::parse_rules`], which names the place of a mistake.
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(value_type = Vec<Rule>))]
    pub rules: serde_json::Value,
}

fn full() -> i64 {
    100
}

impl FlagStateInput {
    /// The rules sent, read against this state's variants and the segments there are.
    pub fn read_rules(&self, segment: &dyn Fn(&str) -> bool) -> Result<Vec<Rule>, ApiError> {
        if self.rules.is_null() {
            return Ok(vec![]);
        }
        let variants: Vec<String> = self.variants.iter().map(|v| v.name.clone()).collect();
        crate::rule::parse_rules(&self.rules, &variants, segment)
    }

    pub fn validate(&self) -> Result<(), ApiError> {
        if !(0..=100).contains(&self.percentage) {
            return Err(ApiError::validation("percentage", "The percentage is a whole number from 0 to 100."));
        }
        for (field, list) in [("allow", &self.allow), ("deny", &self.deny)] {
            if list.len() > LIST_MAX {
                return Err(ApiError::validation(field, format!("At most {LIST_MAX} targeting keys.")));
            }
            if let Some(i) = list.iter().position(|k| k.trim().is_empty() || k.len() > KEY_MAX) {
                return Err(ApiError::validation(format!("{field}[{i}]"), "A targeting key is 1 to 200 characters."));
            }
        }
        let mut names = std::collections::HashSet::new();
        for (i, v) in self.variants.iter().enumerate() {
            check_required(&format!("variants[{i}].name"), "Variant name", &v.name)?;
            check_len(&format!("variants[{i}].name"), "Variant name", &v.name, 100)?;
            if !(0..=10_000).contains(&v.weight) {
                return Err(ApiError::validation(format!("variants[{i}].weight"), "A weight is a whole number from 0 to 10000."));
            }
            if !names.insert(v.name.as_str()) {
                return Err(ApiError::validation(format!("variants[{i}].name"), format!("Variant {:?} is listed twice.", v.name)));
            }
        }
        if !self.variants.is_empty() && self.variants.iter().all(|v| v.weight == 0) {
            return Err(ApiError::validation("variants", "At least one variant needs a weight above 0."));
        }
        Ok(())
    }
}

/// Letters, digits, `.`, `_` and `-`: `USE_STANDALONE_MCP`, `git.clone.use_service_layer`.
pub fn check_key(key: &str) -> Result<(), ApiError> {
    check_required("key", "Key", key)?;
    check_len("key", "Key", key, KEY_MAX)?;
    check_slug("key", "A flag key", key)
}

fn check_meta(description: Option<&String>, owner: Option<&String>, tags: Option<&Vec<String>>) -> Result<(), ApiError> {
    if let Some(d) = description {
        check_len("description", "Description", d, 2_000)?;
    }
    if let Some(o) = owner {
        check_len("owner", "Owner", o, 200)?;
    }
    if let Some(tags) = tags {
        for (i, t) in tags.iter().enumerate() {
            let field = format!("tags[{i}]");
            check_required(&field, "Tag", t)?;
            check_len(&field, "Tag", t, 50)?;
            if t.contains(',') {
                return Err(ApiError::validation(field, "A tag cannot contain a comma."));
            }
        }
    }
    Ok(())
}

/// An environment flags are set in: `staging`, `production`, ...
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Environment {
    pub name: String,
    pub created_at: String,
}

/// `POST /api/v1/environments` (admins).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewEnvironment {
    pub name: String,
}

impl NewEnvironment {
    pub fn validate(&self) -> Result<(), ApiError> {
        check_required("name", "Name", &self.name)?;
        check_len("name", "Name", &self.name, 64)?;
        check_slug("name", "An environment name", &self.name)
    }
}

/// MurmurHash3, x86 32-bit, as Unleash uses it for stable bucketing.
pub fn murmur3_32(data: &[u8], seed: u32) -> u32 {
    const C1: u32 = 0xcc9e_2d51;
    const C2: u32 = 0x1b87_3593;
    let mut h = seed;
    let mut chunks = data.chunks_exact(4);
    for chunk in &mut chunks {
        let mut k = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        k = k.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
        h ^= k;
        h = h.rotate_left(13).wrapping_mul(5).wrapping_add(0xe654_6b64);
    }
    let tail = chunks.remainder();
    let mut k: u32 = 0;
    if tail.len() >= 3 {
        k ^= (tail[2] as u32) << 16;
    }
    if tail.len() >= 2 {
        k ^= (tail[1] as u32) << 8;
    }
    if !tail.is_empty() {
        k ^= tail[0] as u32;
        k = k.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
        h ^= k;
    }
    h ^= data.len() as u32;
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^= h >> 16;
    h
}

/// 1..=100: the same bucket for the same flag and key, every time (Unleash's normalisation).
pub fn bucket(flag_key: &str, targeting_key: &str) -> u32 {
    joined(flag_key, targeting_key, |bytes| murmur3_32(bytes, 0)) % 100 + 1
}

/// `f` of "flag_key:targeting_key", joined on the stack when short (every flag of a bulk
/// evaluation hashes one).
fn joined<T>(flag_key: &str, targeting_key: &str, f: impl FnOnce(&[u8]) -> T) -> T {
    let len = flag_key.len() + 1 + targeting_key.len();
    let mut buf = [0u8; 256];
    if len > buf.len() {
        return f(format!("{flag_key}:{targeting_key}").as_bytes());
    }
    buf[..flag_key.len()].copy_from_slice(flag_key.as_bytes());
    buf[flag_key.len()] = b':';
    buf[flag_key.len() + 1..len].copy_from_slice(targeting_key.as_bytes());
    f(&buf[..len])
}

/// Unleash's seed for choosing a variant, so variant choice is independent of the rollout bucket.
const VARIANT_SEED: u32 = 86_028_157;

/// Why a flag evaluated as it did (OFREP's reasons).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Reason {
    Static,
    TargetingMatch,
    Split,
    Disabled,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Outcome {
    /// `value` is a bool, or the variant's name for a flag with variants; `None` means
    /// "use the code default" (a flag with variants that is off for this key).
    Value { value: Option<serde_json::Value>, variant: String, reason: Reason, bucket: Option<u32>, rule: Option<RuleMatch> },
    TargetingKeyMissing,
}

/// The rule that decided an evaluation: its place in the list and its name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleMatch {
    pub index: usize,
    pub name: String,
}

/// Segments' conditions by segment name, as rules refer to them.
pub type Segments = std::collections::HashMap<String, Vec<Condition>>;

/// What an evaluation decided, borrowed from the flag's state: `evaluate` turns it into an
/// `Outcome`, and OFREP's answers write it out directly, without building values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Decision<'a> {
    pub served: Served<'a>,
    pub reason: Reason,
    pub bucket: Option<u32>,
    /// The rule that decided, with its place in the list.
    pub rule: Option<(usize, &'a Rule)>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Served<'a> {
    /// A flag without variants: on or off.
    Bool(bool),
    /// One of the flag's variants (or a rule's).
    Variant(&'a str),
    /// A flag with variants that is off for this context: the code's default applies.
    Default,
}

impl Served<'_> {
    /// OFREP's `variant`: "on", "off", the variant's name, or "disabled".
    pub fn variant(&self) -> &str {
        match self {
            Served::Bool(true) => "on",
            Served::Bool(false) => "off",
            Served::Variant(v) => v,
            Served::Default => "disabled",
        }
    }
}

/// Evaluates a flag in one environment for a context. The order: off when disabled,
/// then the deny list, the allow list, the rules in order, and the environment's own
/// percentage. A key lands in bucket 1..=100 and is in a percentage p when bucket <= p.
pub fn evaluate(flag_key: &str, state: &FlagState, ctx: &Context, segments: &Segments) -> Outcome {
    match decide(flag_key, state, ctx, segments) {
        None => Outcome::TargetingKeyMissing,
        Some(d) => Outcome::Value {
            value: match d.served {
                Served::Bool(on) => Some(serde_json::Value::Bool(on)),
                Served::Variant(v) => Some(serde_json::Value::String(v.to_string())),
                Served::Default => None,
            },
            variant: d.served.variant().to_string(),
            reason: d.reason,
            bucket: d.bucket,
            rule: d.rule.map(|(index, rule)| RuleMatch { index, name: rule.label(index) }),
        },
    }
}

/// `evaluate`'s decision; `None` when it needs a targeting key the context lacks.
pub fn decide<'a>(flag_key: &str, state: &'a FlagState, ctx: &Context, segments: &Segments) -> Option<Decision<'a>> {
    let key = ctx.targeting_key();
    let decided = |on, reason, bucket| Decision { served: chosen(flag_key, state, key, on), reason, bucket, rule: None };
    if !state.enabled {
        return Some(decided(false, Reason::Disabled, None));
    }
    if let Some(k) = key {
        if state.deny.iter().any(|d| d == k) {
            return Some(decided(false, Reason::TargetingMatch, None));
        }
        if state.allow.iter().any(|a| a == k) {
            return Some(decided(true, Reason::TargetingMatch, None));
        }
    }
    for (index, rule) in state.rules.iter().enumerate() {
        // A segment that is gone matches nobody (segments in use cannot be deleted).
        let segment_holds = |name: &String| segments.get(name).is_some_and(|conds| conds.iter().all(|c| crate::rule::holds(c, ctx)));
        if !(rule.segments.iter().all(segment_holds) && rule.conditions.iter().all(|c| crate::rule::holds(c, ctx))) {
            continue;
        }
        // A rule for a share of its keys lets the others (and keyless contexts) go on.
        let bucket = if rule.percentage < 100 {
            match key.map(|k| bucket(flag_key, k)) {
                Some(b) if i64::from(b) <= rule.percentage => Some(b),
                _ => continue,
            }
        } else {
            None
        };
        let decision = match (rule.serve, &rule.variant) {
            (Serve::Variant, Some(v)) => Decision { served: Served::Variant(v), reason: Reason::TargetingMatch, bucket, rule: None },
            (Serve::Off, _) => decided(false, Reason::TargetingMatch, bucket),
            _ => decided(true, Reason::TargetingMatch, bucket),
        };
        return Some(Decision { rule: Some((index, rule)), ..decision });
    }
    match (state.percentage, key) {
        (100, _) => Some(decided(true, Reason::Static, None)),
        (0, _) => Some(decided(false, Reason::Static, None)),
        (_, None) => None,
        (p, Some(k)) => {
            let b = bucket(flag_key, k);
            Some(decided(i64::from(b) <= p, Reason::Split, Some(b)))
        }
    }
}

/// A context of only a targeting key, evaluated now.
pub fn key_context(targeting_key: Option<&str>) -> Context {
    let mut attributes = serde_json::Map::new();
    if let Some(k) = targeting_key {
        attributes.insert("targetingKey".into(), serde_json::Value::String(k.to_string()));
    }
    Context::new(attributes, crate::pages::now_ms())
}

fn chosen<'a>(flag_key: &str, state: &'a FlagState, key: Option<&str>, on: bool) -> Served<'a> {
    if state.variants.is_empty() {
        return Served::Bool(on);
    }
    if !on {
        return Served::Default;
    }
    let total: i64 = state.variants.iter().map(|v| v.weight).sum();
    let point = match key {
        Some(k) => i64::from(joined(flag_key, k, |bytes| murmur3_32(bytes, VARIANT_SEED))) % total.max(1),
        None => 0,
    };
    let mut acc = 0;
    let picked = state
        .variants
        .iter()
        .find(|v| {
            acc += v.weight;
            point < acc
        })
        .unwrap_or(&state.variants[0]);
    Served::Variant(&picked.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(percentage: i64) -> FlagState {
        FlagState {
            environment: "production".into(),
            enabled: true,
            percentage,
            allow: vec![],
            deny: vec![],
            variants: vec![],
            rules: vec![],
            updated_at: String::new(),
        }
    }

    fn is_on(o: &Outcome) -> bool {
        matches!(o, Outcome::Value { value: Some(serde_json::Value::Bool(true)), .. })
    }

    #[test]
    fn murmur3_matches_the_reference_vectors() {
        // From the reference implementation's published test vectors (SMHasher).
        assert_eq!(murmur3_32(b"", 0), 0);
        assert_eq!(murmur3_32(b"", 1), 0x514E_28B7);
        assert_eq!(murmur3_32(b"\xff\xff\xff\xff", 0), 0x7629_3B50);
        assert_eq!(murmur3_32(b"\x21\x43\x65\x87", 0), 0xF55B_516B);
        assert_eq!(murmur3_32(b"\x21\x43\x65", 0), 0x7E4A_8634);
        assert_eq!(murmur3_32(b"Hello, world!", 1234), 0xFAF6_CDB3);
        assert_eq!(murmur3_32(b"The quick brown fox jumps over the lazy dog", 0x9747_b28c), 0x2FA8_26CD);
    }

    #[test]
    fn buckets_match_an_independent_murmur3() {
        // Computed with Python's mmh3 package (a separate C implementation):
        // mmh3.hash("<flag>:<key>", 0, signed=False) % 100 + 1.
        for (flag, key, hash, expected) in [
            ("USE_STANDALONE_MCP", "ws-1", 281_926_298u32, 99),
            ("USE_STANDALONE_MCP", "workspace-42", 12_768_974, 75),
            ("ENABLE_CODEX_PROVIDER", "user-123", 784_532_917, 18),
            ("git.clone.use_service_layer", "repo-9", 3_079_190_537, 38),
        ] {
            assert_eq!(murmur3_32(format!("{flag}:{key}").as_bytes(), 0), hash, "{flag}:{key}");
            assert_eq!(bucket(flag, key), expected, "{flag}:{key}");
        }
    }

    #[test]
    fn ten_thousand_keys_at_25_percent_give_25_percent_give_or_take_one_and_a_half() {
        let s = state(25);
        let on = (0..10_000).filter(|i| is_on(&evaluate("USE_STANDALONE_MCP", &s, &key_context(Some(&format!("ws-{i}"))), &Segments::new()))).count();
        assert!((2_350..=2_650).contains(&on), "{on} of 10000 keys are on at 25%");
    }

    #[test]
    fn raising_the_percentage_only_adds_keys() {
        let (low, high) = (state(10), state(50));
        for i in 0..10_000 {
            let k = format!("workspace-{i}");
            if is_on(&evaluate("ENABLE_CODEX_PROVIDER", &low, &key_context(Some(&k)), &Segments::new())) {
                assert!(is_on(&evaluate("ENABLE_CODEX_PROVIDER", &high, &key_context(Some(&k)), &Segments::new())), "{k} was on at 10% but off at 50%");
            }
        }
    }

    #[test]
    fn deny_beats_allow_and_allow_beats_the_percentage() {
        let mut s = state(0);
        s.allow = vec!["a".into(), "b".into()];
        s.deny = vec!["b".into()];
        assert!(is_on(&evaluate("f", &s, &key_context(Some("a")), &Segments::new())));
        assert!(!is_on(&evaluate("f", &s, &key_context(Some("b")), &Segments::new())));
        assert!(!is_on(&evaluate("f", &s, &key_context(Some("c")), &Segments::new())));
    }

    #[test]
    fn a_partial_rollout_needs_a_targeting_key_but_0_and_100_do_not() {
        assert_eq!(evaluate("f", &state(30), &key_context(None), &Segments::new()), Outcome::TargetingKeyMissing);
        assert!(is_on(&evaluate("f", &state(100), &key_context(None), &Segments::new())));
        assert!(!is_on(&evaluate("f", &state(0), &key_context(None), &Segments::new())));
    }

    #[test]
    fn a_disabled_flag_is_off_for_everyone_even_the_allow_list() {
        let mut s = state(100);
        s.enabled = false;
        s.allow = vec!["a".into()];
        assert!(matches!(evaluate("f", &s, &key_context(Some("a")), &Segments::new()), Outcome::Value { reason: Reason::Disabled, .. }));
        assert!(!is_on(&evaluate("f", &s, &key_context(Some("a")), &Segments::new())));
    }

    fn rule(name: &str, conditions: serde_json::Value, serve: &str) -> Rule {
        let segments = |_: &str| true;
        crate::rule::parse_rules(&serde_json::json!([{ "name": name, "conditions": conditions, "serve": serve }]), &[], &segments).unwrap().remove(0)
    }

    fn context(v: serde_json::Value) -> Context {
        Context::new(v.as_object().cloned().unwrap(), 0)
    }

    #[test]
    fn rules_come_after_the_lists_and_the_first_that_holds_decides() {
        let mut s = state(0);
        s.deny = vec!["ws-denied".into()];
        s.allow = vec!["ws-allowed".into()];
        s.rules = vec![
            rule("free tier off", serde_json::json!([{"contextName": "plan", "operator": "IN", "values": ["free"]}]), "off"),
            rule("EU", serde_json::json!([{"contextName": "region", "operator": "IN", "values": ["eu"]}]), "on"),
        ];
        let none = Segments::new();
        let ev = |v| evaluate("f", &s, &context(v), &none);
        let eu_free = ev(serde_json::json!({"targetingKey": "ws-1", "region": "eu", "plan": "free"}));
        assert!(!is_on(&eu_free));
        assert!(matches!(&eu_free, Outcome::Value { reason: Reason::TargetingMatch, rule: Some(RuleMatch { index: 0, name }), .. } if name == "free tier off"));
        let eu = ev(serde_json::json!({"targetingKey": "ws-1", "region": "eu", "plan": "team"}));
        assert!(is_on(&eu));
        assert!(matches!(&eu, Outcome::Value { rule: Some(RuleMatch { index: 1, .. }), .. }));
        // The lists come first, and the default (0% here) last.
        assert!(!is_on(&ev(serde_json::json!({"targetingKey": "ws-denied", "region": "eu"}))));
        assert!(is_on(&ev(serde_json::json!({"targetingKey": "ws-allowed", "plan": "free"}))));
        assert!(matches!(ev(serde_json::json!({"targetingKey": "ws-1", "region": "us"})), Outcome::Value { reason: Reason::Static, rule: None, .. }));
        // No rule needs a key; the environment's default percentage still does.
        assert!(is_on(&ev(serde_json::json!({"region": "eu"}))));
        s.percentage = 50;
        assert_eq!(evaluate("f", &s, &context(serde_json::json!({"region": "us"})), &none), Outcome::TargetingKeyMissing);
        s.enabled = false;
        assert!(matches!(evaluate("f", &s, &context(serde_json::json!({"region": "eu"})), &none), Outcome::Value { reason: Reason::Disabled, .. }));
    }

    #[test]
    fn a_rule_needs_its_segments_and_a_share_of_keys_lets_the_rest_through() {
        let mut s = state(0);
        let segments = |_: &str| true;
        s.rules = crate::rule::parse_rules(
            &serde_json::json!([{ "segments": ["internal"], "serve": "on", "percentage": 30 }]),
            &[],
            &segments,
        )
        .unwrap();
        let mut internal = Segments::new();
        internal.insert("internal".into(), vec![rule("", serde_json::json!([{"contextName": "email", "operator": "STR_ENDS_WITH", "values": ["@acme.io"]}]), "on").conditions.remove(0)]);
        let on = (0..2_000)
            .filter(|i| is_on(&evaluate("f", &s, &context(serde_json::json!({"targetingKey": format!("ws-{i}"), "email": "a@acme.io"})), &internal)))
            .count();
        assert!((480..=720).contains(&on), "{on} of 2000 internal keys at 30%");
        assert!(!is_on(&evaluate("f", &s, &context(serde_json::json!({"targetingKey": "ws-1", "email": "a@other.io"})), &internal)));
        // Without the segment (deleted behind the rule's back) nobody matches.
        assert_eq!((0..200).filter(|i| is_on(&evaluate("f", &s, &context(serde_json::json!({"targetingKey": format!("ws-{i}"), "email": "a@acme.io"})), &Segments::new()))).count(), 0);
    }

    #[test]
    fn a_rule_can_serve_a_variant_of_the_flag() {
        let mut s = state(100);
        s.variants = vec![Variant { name: "claude".into(), weight: 1 }, Variant { name: "codex".into(), weight: 1 }];
        let segments = |_: &str| true;
        s.rules = crate::rule::parse_rules(
            &serde_json::json!([{ "conditions": [{"contextName": "plan", "operator": "IN", "values": ["enterprise"]}], "serve": "variant", "variant": "codex" }]),
            &["claude".into(), "codex".into()],
            &segments,
        )
        .unwrap();
        for i in 0..50 {
            let o = evaluate("provider", &s, &context(serde_json::json!({"targetingKey": format!("ws-{i}"), "plan": "enterprise"})), &Segments::new());
            assert!(matches!(&o, Outcome::Value { value: Some(serde_json::Value::String(v)), reason: Reason::TargetingMatch, .. } if v == "codex"), "{o:?}");
        }
    }

    #[test]
    fn variants_are_chosen_by_weight_and_stay_put() {
        let mut s = state(100);
        s.variants = vec![Variant { name: "claude".into(), weight: 3 }, Variant { name: "codex".into(), weight: 1 }];
        let pick = |k: &str| match evaluate("provider", &s, &key_context(Some(k)), &Segments::new()) {
            Outcome::Value { value: Some(serde_json::Value::String(v)), .. } => v,
            other => panic!("{other:?}"),
        };
        let codex = (0..4_000).filter(|i| pick(&format!("ws-{i}")) == "codex").count();
        assert!((850..=1_150).contains(&codex), "{codex} of 4000 chose codex at weight 1 of 4");
        assert_eq!(pick("ws-7"), pick("ws-7"));
    }
}

/// One change in a flag's history, as the flag page lists and charts it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlagChange {
    pub at: String,
    pub actor: String,
    pub action: String,
    /// For `flag.set`: the environment changed.
    pub environment: Option<String>,
    pub before: Option<String>,
    pub after: Option<String>,
    /// The environment's effective rollout after the change (0 when off), for the chart.
    pub rollout_after: Option<i64>,
}

/// What the signed-in person may do with flags; the server checks each action again.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct FlagAbilities {
    pub manage: bool,
    /// On a flag's page: may use this flag's kill switch. On the list: may use every
    /// flag's (admins); others may still be allowed on some flags' pages.
    pub kill: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlagView {
    pub flag: Flag,
    /// Oldest first.
    pub history: Vec<FlagChange>,
    pub can: FlagAbilities,
    /// The segments its rules use, so the page evaluates as services are answered.
    #[serde(default)]
    pub segments: Segments,
}

/// "On, 25%", "Off", "On, 100%".
pub fn describe_state(s: &FlagState) -> String {
    if !s.enabled {
        return "Off".into();
    }
    let mut text = format!("On, {}%", s.percentage);
    if !s.allow.is_empty() {
        text.push_str(&format!(", {} allowed", s.allow.len()));
    }
    if !s.deny.is_empty() {
        text.push_str(&format!(", {} denied", s.deny.len()));
    }
    if !s.variants.is_empty() {
        let names: Vec<&str> = s.variants.iter().map(|v| v.name.as_str()).collect();
        text.push_str(&format!(", variants {}", names.join("/")));
    }
    if !s.rules.is_empty() {
        text.push_str(&format!(", {} rule{}", s.rules.len(), if s.rules.len() == 1 { "" } else { "s" }));
    }
    text
}

/// A condition as a sentence: "region is one of eu", "appVersion is not after 2.0.0 (semver)".
pub fn describe_condition(c: &Condition) -> String {
    use crate::rule::Operator::*;
    let list = || c.values.iter().map(|v| format!("{v:?}")).collect::<Vec<_>>().join(", ");
    let one = || c.value.clone().unwrap_or_default();
    let (verb, what) = match c.operator {
        In => ("is one of", list()),
        NotIn => ("is none of", list()),
        StrContains => ("contains one of", list()),
        StrStartsWith => ("starts with one of", list()),
        StrEndsWith => ("ends with one of", list()),
        NumEq => ("=", one()),
        NumGt => (">", one()),
        NumGte => ("≥", one()),
        NumLt => ("<", one()),
        NumLte => ("≤", one()),
        DateAfter => ("is after", one()),
        DateBefore => ("is before", one()),
        SemverEq => ("is version", one()),
        SemverGt => ("is a version after", one()),
        SemverLt => ("is a version before", one()),
    };
    let not = if c.inverted { "not: " } else { "" };
    let case = if c.case_insensitive && c.operator.takes_list() { " (any case)" } else { "" };
    format!("{not}{} {verb} {what}{case}", c.context_name)
}

/// When a rule holds, in words: "in segment internal and region is one of \"eu\"".
pub fn describe_when(r: &Rule) -> String {
    let parts: Vec<String> = r.segments.iter().map(|s| format!("in segment {s}")).chain(r.conditions.iter().map(describe_condition)).collect();
    parts.join(" and ")
}

/// What a rule serves, as the page says it: "on", "off", "variant codex", "on for 30% of keys".
pub fn describe_serve(r: &Rule) -> String {
    let what = match (r.serve, &r.variant) {
        (Serve::Variant, Some(v)) => format!("variant {v}"),
        (Serve::Off, _) => "off".into(),
        _ => "on".into(),
    };
    if r.percentage < 100 { format!("{what} for {}% of its keys", r.percentage) } else { what }
}

use leptos::prelude::*;

/// The flags list page.
#[server(prefix = "/_fn")]
pub async fn list_flags() -> Result<(Vec<Flag>, FlagAbilities), ApiError> {
    let (backend, headers) = (crate::backend::backend()?, crate::backend::request());
    let flags = crate::backend::answer(backend.list_flags(&headers).await)?;
    let can = crate::backend::answer(backend.flag_abilities(&headers).await)?;
    Ok((flags, can))
}

/// One flag with its history, for the flag page.
#[server(prefix = "/_fn")]
pub async fn get_flag_view(key: String) -> Result<FlagView, ApiError> {
    let (backend, headers) = (crate::backend::backend()?, crate::backend::request());
    crate::backend::answer(backend.flag_view(&headers, &key).await)
}
