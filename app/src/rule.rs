//! Targeting rules: conditions on the evaluation context's attributes, with Unleash's
//! operator names and meaning so teams moving from it read them as before. A rule holds
//! when all its conditions and those of its segments hold; the flag's evaluation
//! ([`crate::flag::evaluate`]) tries its rules in order after the deny and allow lists.
//!
//! Rules arrive as JSON and are read here by hand rather than by serde, so that an
//! unknown operator or a value of the wrong type is refused naming its place
//! (`rules[2].conditions[0].values[1]`).
use crate::error::ApiError;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub const RULES_MAX: usize = 100;
pub const CONDITIONS_MAX: usize = 100;
pub const VALUES_MAX: usize = 1_000;
pub const VALUE_LEN_MAX: usize = 1_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Operator {
    In,
    NotIn,
    StrContains,
    StrStartsWith,
    StrEndsWith,
    NumEq,
    NumGt,
    NumGte,
    NumLt,
    NumLte,
    DateAfter,
    DateBefore,
    SemverEq,
    SemverGt,
    SemverLt,
}

impl Operator {
    pub const ALL: [Operator; 15] = [
        Operator::In,
        Operator::NotIn,
        Operator::StrContains,
        Operator::StrStartsWith,
        Operator::StrEndsWith,
        Operator::NumEq,
        Operator::NumGt,
        Operator::NumGte,
        Operator::NumLt,
        Operator::NumLte,
        Operator::DateAfter,
        Operator::DateBefore,
        Operator::SemverEq,
        Operator::SemverGt,
        Operator::SemverLt,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Operator::In => "IN",
            Operator::NotIn => "NOT_IN",
            Operator::StrContains => "STR_CONTAINS",
            Operator::StrStartsWith => "STR_STARTS_WITH",
            Operator::StrEndsWith => "STR_ENDS_WITH",
            Operator::NumEq => "NUM_EQ",
            Operator::NumGt => "NUM_GT",
            Operator::NumGte => "NUM_GTE",
            Operator::NumLt => "NUM_LT",
            Operator::NumLte => "NUM_LTE",
            Operator::DateAfter => "DATE_AFTER",
            Operator::DateBefore => "DATE_BEFORE",
            Operator::SemverEq => "SEMVER_EQ",
            Operator::SemverGt => "SEMVER_GT",
            Operator::SemverLt => "SEMVER_LT",
        }
    }

    /// Operators on a list of strings (`values`); the others compare with one `value`.
    pub fn takes_list(self) -> bool {
        matches!(self, Operator::In | Operator::NotIn | Operator::StrContains | Operator::StrStartsWith | Operator::StrEndsWith)
    }
}

/// One test on one context attribute: Unleash's constraint, field for field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// The context attribute: `targetingKey`, `country`, `plan`...; `currentTime` is now
    /// unless the context says otherwise.
    pub context_name: String,
    pub operator: Operator,
    /// For IN, NOT_IN and the STR_ operators.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
    /// For the NUM_, DATE_ and SEMVER_ operators.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(default)]
    pub inverted: bool,
    /// For the string operators.
    #[serde(default)]
    pub case_insensitive: bool,
}

/// What a matching rule serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Serve {
    On,
    Off,
    /// The rule's `variant`, one of the flag's variants in this environment.
    Variant,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Rule {
    /// Shown on the flag page and in an evaluation's metadata; "rule 3" when empty.
    #[serde(default)]
    pub name: String,
    /// Names of segments whose conditions must hold too.
    #[serde(default)]
    pub segments: Vec<String>,
    #[serde(default)]
    pub conditions: Vec<Condition>,
    pub serve: Serve,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// 1..=100: the share of matching targeting keys the rule serves (bucketed as the
    /// flag's own percentage); the others go on to the next rule.
    #[serde(default = "full")]
    pub percentage: i64,
}

fn full() -> i64 {
    100
}

impl Rule {
    /// The name an evaluation reports: the rule's own, or its place ("rule 1").
    pub fn label(&self, index: usize) -> String {
        if self.name.trim().is_empty() { format!("rule {}", index + 1) } else { self.name.clone() }
    }
}

/// The context a flag is evaluated for: its attributes (OFREP's `context`, with
/// `targetingKey` among them) and the time of the evaluation.
#[derive(Debug, Clone, Default)]
pub struct Context {
    pub attributes: Map<String, Value>,
    pub now_ms: i64,
}

impl Context {
    pub fn new(attributes: Map<String, Value>, now_ms: i64) -> Self {
        Context { attributes, now_ms }
    }

    pub fn targeting_key(&self) -> Option<&str> {
        self.attributes.get("targetingKey").and_then(Value::as_str).filter(|k| !k.is_empty())
    }
}

/// Whether a condition holds for a context. An attribute that is missing or of a type
/// the operator cannot compare makes the condition false, whatever `inverted` says.
pub fn holds(c: &Condition, ctx: &Context) -> bool {
    // Borrowed, not cloned: this runs for every condition of every flag of a bulk evaluation.
    let now;
    let raw = match ctx.attributes.get(&c.context_name) {
        Some(v) => v,
        None if c.context_name == "currentTime" => {
            now = Value::Number(ctx.now_ms.into());
            &now
        }
        None => return false,
    };
    compare(c, raw).is_some_and(|result| result != c.inverted)
}

/// The operator's answer, or `None` when the attribute cannot be compared.
fn compare(c: &Condition, raw: &Value) -> Option<bool> {
    use Operator::*;
    match c.operator {
        In | NotIn | StrContains | StrStartsWith | StrEndsWith => {
            let number;
            let text: &str = match raw {
                Value::String(s) => s,
                Value::Number(n) => {
                    number = n.to_string();
                    &number
                }
                Value::Bool(b) => if *b { "true" } else { "false" },
                _ => return None,
            };
            let test = |t: &str, v: &str| match c.operator {
                In | NotIn => t == v,
                StrContains => t.contains(v),
                StrStartsWith => t.starts_with(v),
                _ => t.ends_with(v),
            };
            let any = if c.case_insensitive {
                let text = text.to_lowercase();
                c.values.iter().any(|v| test(&text, &v.to_lowercase()))
            } else {
                c.values.iter().any(|v| test(text, v))
            };
            Some(if c.operator == NotIn { !any } else { any })
        }
        NumEq | NumGt | NumGte | NumLt | NumLte => {
            let have = match raw {
                Value::Number(n) => n.as_f64()?,
                Value::String(s) => parse_number(s)?,
                _ => return None,
            };
            let want = parse_number(c.value.as_deref()?)?;
            Some(match c.operator {
                NumEq => have == want,
                NumGt => have > want,
                NumGte => have >= want,
                NumLt => have < want,
                _ => have <= want,
            })
        }
        DateAfter | DateBefore => {
            let have = match raw {
                Value::String(s) => parse_date_ms(s)?,
                // currentTime, supplied by the evaluation itself.
                Value::Number(n) if c.context_name == "currentTime" => n.as_i64()?,
                _ => return None,
            };
            let want = parse_date_ms(c.value.as_deref()?)?;
            Some(if c.operator == DateAfter { have > want } else { have < want })
        }
        SemverEq | SemverGt | SemverLt => {
            let have = semver::Version::parse(raw.as_str()?.trim()).ok()?;
            let want = semver::Version::parse(c.value.as_deref()?.trim()).ok()?;
            Some(match c.operator {
                SemverEq => have == want,
                SemverGt => have > want,
                _ => have < want,
            })
        }
    }
}

/// A finite decimal number: "42", "-1.5", " 3e2 ".
fn parse_number(s: &str) -> Option<f64> {
    s.trim().parse::<f64>().ok().filter(|n| n.is_finite())
}

/// An RFC 3339 time with its zone ("2026-12-01T09:30:00Z", "...+02:00", fractions
/// allowed) as milliseconds since 1970; `None` for anything else, a time without a
/// zone included, since it would mean a different instant on each server.
pub fn parse_date_ms(s: &str) -> Option<i64> {
    let s = s.trim();
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = s.get(r)?;
        part.bytes().all(|c| c.is_ascii_digit()).then(|| part.parse().ok())?
    };
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (y, m, d, h, min, sec) = (digits(0..4)?, digits(5..7)?, digits(8..10)?, digits(11..13)?, digits(14..16)?, digits(17..19)?);
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let month_days = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    if !(1..=12).contains(&m) || d < 1 || d > month_days[(m - 1) as usize] || h > 23 || min > 59 || sec > 60 {
        return None;
    }
    let mut i = 19;
    let mut millis = 0;
    if b.get(i) == Some(&b'.') {
        let start = i + 1;
        i = start;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return None;
        }
        let frac = &s[start..i.min(start + 3)];
        millis = frac.parse::<i64>().ok()? * 10i64.pow(3 - frac.len() as u32);
    }
    let offset_min = match &s[i..] {
        "Z" | "z" => 0,
        zone if zone.len() == 6 && matches!(zone.as_bytes()[0], b'+' | b'-') && zone.as_bytes()[3] == b':' => {
            let (oh, om) = (digits(i + 1..i + 3)?, digits(i + 4..i + 6)?);
            if oh > 23 || om > 59 {
                return None;
            }
            let sign = if zone.starts_with('-') { -1 } else { 1 };
            sign * (oh * 60 + om)
        }
        _ => return None,
    };
    let days = crate::pages::days_from_civil(y, m, d);
    Some((((days * 24 + h) * 60 + min - offset_min) * 60 + sec) * 1000 + millis)
}

/// Reads rules from JSON (`PUT .../environments/{env}`'s `rules`), refusing the first
/// thing wrong by its place. `variants` are the environment's variant names; `segment`
/// says whether a segment of that name exists.
pub fn parse_rules(value: &Value, variants: &[String], segment: &dyn Fn(&str) -> bool) -> Result<Vec<Rule>, ApiError> {
    let list = value.as_array().ok_or_else(|| ApiError::validation("rules", "rules is a list of rules."))?;
    if list.len() > RULES_MAX {
        return Err(ApiError::validation("rules", format!("At most {RULES_MAX} rules per flag and environment.")));
    }
    list.iter().enumerate().map(|(i, r)| parse_rule(&format!("rules[{i}]"), r, variants, segment)).collect()
}

fn parse_rule(at: &str, value: &Value, variants: &[String], segment: &dyn Fn(&str) -> bool) -> Result<Rule, ApiError> {
    let obj = object(at, value, &["name", "segments", "conditions", "serve", "variant", "percentage"])?;
    let name = match obj.get("name") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) if s.chars().count() <= 200 => s.trim().to_string(),
        Some(Value::String(_)) => return Err(ApiError::validation(format!("{at}.name"), "A rule's name is at most 200 characters.")),
        Some(_) => return Err(ApiError::validation(format!("{at}.name"), "A rule's name is text.")),
    };
    let mut segments = vec![];
    if let Some(v) = obj.get("segments").filter(|v| !v.is_null()) {
        let list = v.as_array().ok_or_else(|| ApiError::validation(format!("{at}.segments"), "segments is a list of segment names."))?;
        for (j, s) in list.iter().enumerate() {
            let field = format!("{at}.segments[{j}]");
            let name = s.as_str().ok_or_else(|| ApiError::validation(&field, "A segment is named by its name, as text."))?;
            if !segment(name) {
                return Err(ApiError::validation(&field, format!("There is no segment named {name:?}.")));
            }
            if !segments.iter().any(|n| n == name) {
                segments.push(name.to_string());
            }
        }
    }
    let conditions = match obj.get("conditions").filter(|v| !v.is_null()) {
        None => vec![],
        Some(v) => parse_conditions(&format!("{at}.conditions"), v)?,
    };
    let serve = match obj.get("serve").and_then(Value::as_str) {
        Some("on") => Serve::On,
        Some("off") => Serve::Off,
        Some("variant") => Serve::Variant,
        _ => return Err(ApiError::validation(format!("{at}.serve"), "serve is \"on\", \"off\" or \"variant\".")),
    };
    let variant = match (serve, obj.get("variant").filter(|v| !v.is_null())) {
        (Serve::Variant, Some(Value::String(v))) if variants.iter().any(|n| n == v) => Some(v.clone()),
        (Serve::Variant, Some(Value::String(v))) => {
            return Err(ApiError::validation(format!("{at}.variant"), format!("{v:?} is not one of this environment's variants.")))
        }
        (Serve::Variant, _) => return Err(ApiError::validation(format!("{at}.variant"), "A rule serving a variant names it.")),
        (_, None) => None,
        (_, Some(_)) => return Err(ApiError::validation(format!("{at}.variant"), "Only a rule serving \"variant\" names one.")),
    };
    let percentage = match obj.get("percentage").filter(|v| !v.is_null()) {
        None => 100,
        Some(v) => v.as_i64().filter(|p| (1..=100).contains(p)).ok_or_else(|| {
            ApiError::validation(format!("{at}.percentage"), "A rule's percentage is a whole number from 1 to 100.")
        })?,
    };
    if conditions.is_empty() && segments.is_empty() && percentage == 100 {
        return Err(ApiError::validation(
            format!("{at}.conditions"),
            "A rule needs a condition, a segment or a percentage; the environment's default already serves everyone else.",
        ));
    }
    Ok(Rule { name, segments, conditions, serve, variant, percentage })
}

/// Reads a list of conditions (a rule's or a segment's), refusing by place.
pub fn parse_conditions(at: &str, value: &Value) -> Result<Vec<Condition>, ApiError> {
    let list = value.as_array().ok_or_else(|| ApiError::validation(at, "conditions is a list of conditions."))?;
    if list.len() > CONDITIONS_MAX {
        return Err(ApiError::validation(at, format!("At most {CONDITIONS_MAX} conditions.")));
    }
    list.iter().enumerate().map(|(j, c)| parse_condition(&format!("{at}[{j}]"), c)).collect()
}

fn parse_condition(at: &str, value: &Value) -> Result<Condition, ApiError> {
    let obj = object(at, value, &["contextName", "operator", "values", "value", "inverted", "caseInsensitive"])?;
    let context_name = match obj.get("contextName") {
        Some(Value::String(s)) if !s.trim().is_empty() && s.len() <= 200 => s.trim().to_string(),
        _ => return Err(ApiError::validation(format!("{at}.contextName"), "contextName names a context attribute (1 to 200 characters).")),
    };
    let op_name = obj.get("operator").and_then(Value::as_str).unwrap_or_default();
    let operator = Operator::ALL.into_iter().find(|o| o.as_str() == op_name).ok_or_else(|| {
        let names: Vec<&str> = Operator::ALL.iter().map(|o| o.as_str()).collect();
        ApiError::validation(format!("{at}.operator"), format!("Unknown operator {op_name:?}; one of {}.", names.join(", ")))
    })?;
    let flag = |name: &str| match obj.get(name) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(ApiError::validation(format!("{at}.{name}"), format!("{name} is true or false."))),
    };
    let (inverted, case_insensitive) = (flag("inverted")?, flag("caseInsensitive")?);
    let mut values = vec![];
    let mut single = None;
    if operator.takes_list() {
        if obj.get("value").is_some_and(|v| !v.is_null()) {
            return Err(ApiError::validation(format!("{at}.value"), format!("{} compares with a list: send values.", operator.as_str())));
        }
        let list = obj.get("values").and_then(Value::as_array).filter(|l| !l.is_empty()).ok_or_else(|| {
            ApiError::validation(format!("{at}.values"), format!("{} needs a list of values to compare with.", operator.as_str()))
        })?;
        if list.len() > VALUES_MAX {
            return Err(ApiError::validation(format!("{at}.values"), format!("At most {VALUES_MAX} values.")));
        }
        for (k, v) in list.iter().enumerate() {
            match v {
                Value::String(s) if s.chars().count() <= VALUE_LEN_MAX => values.push(s.clone()),
                Value::String(_) => {
                    return Err(ApiError::validation(format!("{at}.values[{k}]"), format!("A value is at most {VALUE_LEN_MAX} characters.")))
                }
                _ => return Err(ApiError::validation(format!("{at}.values[{k}]"), "Each value is text, as \"eu\" or \"42\".")),
            }
        }
    } else {
        if obj.get("values").is_some_and(|v| !v.is_null()) {
            return Err(ApiError::validation(format!("{at}.values"), format!("{} compares with one value: send value.", operator.as_str())));
        }
        let field = format!("{at}.value");
        let text = match obj.get("value") {
            Some(Value::String(s)) => s.trim().to_string(),
            Some(Value::Number(n)) if !matches!(operator, Operator::DateAfter | Operator::DateBefore) => n.to_string(),
            _ => return Err(ApiError::validation(&field, format!("{} needs a value to compare with.", operator.as_str()))),
        };
        let ok = match operator {
            Operator::DateAfter | Operator::DateBefore => parse_date_ms(&text).is_some(),
            Operator::SemverEq | Operator::SemverGt | Operator::SemverLt => semver::Version::parse(&text).is_ok(),
            _ => parse_number(&text).is_some(),
        };
        if !ok {
            let wants = match operator {
                Operator::DateAfter | Operator::DateBefore => "a time with its zone, as 2026-12-01T09:00:00Z or 2026-12-01T10:00:00+01:00",
                Operator::SemverEq | Operator::SemverGt | Operator::SemverLt => "a semantic version, as 1.4.0 or 2.0.0-beta.1",
                _ => "a number, as 42 or 0.5",
            };
            return Err(ApiError::validation(&field, format!("{} needs {wants}; {text:?} is not.", operator.as_str())));
        }
        single = Some(text);
    }
    Ok(Condition { context_name, operator, values, value: single, inverted, case_insensitive })
}

/// The object at `at`, refusing fields it does not know (a typo would otherwise be a
/// condition silently left out).
fn object<'a>(at: &str, value: &'a Value, known: &[&str]) -> Result<&'a Map<String, Value>, ApiError> {
    let obj = value.as_object().ok_or_else(|| ApiError::validation(at, "Expected an object."))?;
    if let Some(unknown) = obj.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(ApiError::validation(format!("{at}.{unknown}"), format!("Unknown field {unknown:?}; known: {}.", known.join(", "))));
    }
    Ok(obj)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cond(name: &str, op: Operator, values: &[&str], value: Option<&str>) -> Condition {
        Condition {
            context_name: name.into(),
            operator: op,
            values: values.iter().map(|s| s.to_string()).collect(),
            value: value.map(str::to_string),
            inverted: false,
            case_insensitive: false,
        }
    }

    fn ctx(v: Value) -> Context {
        Context::new(v.as_object().cloned().unwrap_or_default(), parse_date_ms("2026-12-04T12:00:00Z").unwrap())
    }

    #[test]
    fn in_and_not_in_match_whole_values_and_case_only_when_asked() {
        let c = cond("plan", Operator::In, &["enterprise", "internal"], None);
        assert!(holds(&c, &ctx(json!({"plan": "enterprise"}))));
        assert!(!holds(&c, &ctx(json!({"plan": "Enterprise"}))));
        assert!(!holds(&c, &ctx(json!({"plan": "enterprise-trial"}))));
        let ci = Condition { case_insensitive: true, ..c.clone() };
        assert!(holds(&ci, &ctx(json!({"plan": "ENTERPRISE"}))));
        let not_in = cond("plan", Operator::NotIn, &["free"], None);
        assert!(holds(&not_in, &ctx(json!({"plan": "enterprise"}))));
        assert!(!holds(&not_in, &ctx(json!({"plan": "free"}))));
        let inverted = Condition { inverted: true, ..c };
        assert!(!holds(&inverted, &ctx(json!({"plan": "enterprise"}))));
        assert!(holds(&inverted, &ctx(json!({"plan": "free"}))));
    }

    #[test]
    fn a_missing_or_uncomparable_attribute_makes_a_condition_false_even_inverted_or_not_in() {
        for c in [
            cond("region", Operator::In, &["eu"], None),
            cond("region", Operator::NotIn, &["eu"], None),
            Condition { inverted: true, ..cond("region", Operator::In, &["eu"], None) },
            cond("seats", Operator::NumGt, &[], Some("10")),
            Condition { inverted: true, ..cond("seats", Operator::NumGt, &[], Some("10")) },
        ] {
            assert!(!holds(&c, &ctx(json!({}))), "{c:?} held with no attribute");
            assert!(!holds(&c, &ctx(json!({"region": {"nested": 1}, "seats": [1]}))), "{c:?} held for an object");
            assert!(!holds(&c, &ctx(json!({"region": null, "seats": "many"}))), "{c:?} held for null or text");
        }
    }

    #[test]
    fn string_operators_compare_numbers_and_booleans_by_their_text() {
        assert!(holds(&cond("tier", Operator::In, &["3"], None), &ctx(json!({"tier": 3}))));
        assert!(holds(&cond("beta", Operator::In, &["true"], None), &ctx(json!({"beta": true}))));
        let contains = cond("email", Operator::StrContains, &["@acme."], None);
        assert!(holds(&contains, &ctx(json!({"email": "ann@acme.io"}))));
        assert!(!holds(&contains, &ctx(json!({"email": "ann@ACME.io"}))));
        assert!(holds(&Condition { case_insensitive: true, ..contains }, &ctx(json!({"email": "ann@ACME.io"}))));
        let starts = cond("workspace", Operator::StrStartsWith, &["acme-", "internal-"], None);
        assert!(holds(&starts, &ctx(json!({"workspace": "internal-tools"}))));
        assert!(!holds(&starts, &ctx(json!({"workspace": "tools-internal-"}))));
        let ends = cond("host", Operator::StrEndsWith, &[".eu"], None);
        assert!(holds(&ends, &ctx(json!({"host": "api.example.eu"}))));
        assert!(!holds(&Condition { inverted: true, ..ends }, &ctx(json!({"host": "api.example.eu"}))));
    }

    #[test]
    fn number_operators_read_numbers_given_as_text_on_either_side() {
        let c = |op, v: &str| cond("seats", op, &[], Some(v));
        let seats = |v: Value| ctx(json!({ "seats": v }));
        assert!(holds(&c(Operator::NumEq, "10"), &seats(json!(10))));
        assert!(holds(&c(Operator::NumEq, "10"), &seats(json!("10.0"))));
        assert!(holds(&c(Operator::NumGt, "9.5"), &seats(json!(" 10 "))));
        assert!(!holds(&c(Operator::NumGt, "10"), &seats(json!(10))));
        assert!(holds(&c(Operator::NumGte, "10"), &seats(json!(10))));
        assert!(holds(&c(Operator::NumLt, "-1"), &seats(json!(-2))));
        assert!(holds(&c(Operator::NumLte, "1e3"), &seats(json!(1000))));
        assert!(!holds(&c(Operator::NumLte, "1e3"), &seats(json!("NaN"))));
        assert!(!holds(&c(Operator::NumEq, "10"), &seats(json!(true))));
        let inverted = Condition { inverted: true, ..c(Operator::NumGt, "10") };
        assert!(holds(&inverted, &seats(json!(3))));
    }

    #[test]
    fn dates_compare_as_instants_whatever_their_zone() {
        let after = cond("signedUpAt", Operator::DateAfter, &[], Some("2026-12-01T00:00:00Z"));
        let at = |v: &str| ctx(json!({ "signedUpAt": v }));
        assert!(holds(&after, &at("2026-12-01T00:00:01Z")));
        assert!(!holds(&after, &at("2026-12-01T00:00:00Z")));
        // 00:30 in Paris is 23:30 the day before in UTC.
        assert!(!holds(&after, &at("2026-12-01T00:30:00+01:00")));
        assert!(holds(&after, &at("2026-11-30T20:00:00-05:00")));
        assert!(holds(&after, &at("2026-12-01T00:00:00.250Z")));
        // No zone: a different instant on each machine, so not compared.
        assert!(!holds(&after, &at("2026-12-02T00:00:00")));
        assert!(!holds(&after, &at("yesterday")));
        let before = cond("currentTime", Operator::DateBefore, &[], Some("2027-01-01T00:00:00Z"));
        assert!(holds(&before, &ctx(json!({}))), "currentTime is the evaluation's time");
        assert!(!holds(&before, &ctx(json!({"currentTime": "2027-06-01T00:00:00Z"}))));
        assert_eq!(parse_date_ms("2026-02-29T00:00:00Z"), None, "2026 is not a leap year");
        assert_eq!(parse_date_ms("2024-02-29T00:00:00Z").map(|ms| ms % 86_400_000), Some(0));
        assert_eq!(parse_date_ms("1970-01-01T01:00:00+01:00"), Some(0));
    }

    #[test]
    fn semantic_versions_order_pre_releases_before_their_release() {
        let c = |op, v: &str| cond("appVersion", op, &[], Some(v));
        let v = |s: &str| ctx(json!({ "appVersion": s }));
        assert!(holds(&c(Operator::SemverGt, "1.4.0"), &v("1.10.0")), "numerically, not as text");
        assert!(holds(&c(Operator::SemverLt, "2.0.0"), &v("2.0.0-beta.2")));
        assert!(holds(&c(Operator::SemverGt, "2.0.0-beta.2"), &v("2.0.0-beta.11")));
        assert!(holds(&c(Operator::SemverGt, "2.0.0-alpha"), &v("2.0.0-beta")));
        assert!(holds(&c(Operator::SemverEq, "1.2.3"), &v("1.2.3")));
        assert!(!holds(&c(Operator::SemverEq, "1.2.3"), &v("1.2.3-rc.1")));
        assert!(!holds(&c(Operator::SemverGt, "1.0.0"), &v("1.2")), "not a version: not compared");
        assert!(!holds(&c(Operator::SemverGt, "1.0.0"), &ctx(json!({"appVersion": 2}))));
    }

    #[test]
    fn rules_are_read_with_each_mistake_named_by_its_place() {
        let variants = vec!["claude".to_string(), "codex".to_string()];
        let segments = |n: &str| n == "internal";
        let read = |v: Value| parse_rules(&v, &variants, &segments);
        let field = |v: Value| read(v).unwrap_err().field.unwrap_or_default();
        let ok = read(json!([
            {"name": "EU enterprise", "segments": ["internal"], "conditions": [
                {"contextName": "region", "operator": "IN", "values": ["eu"]},
                {"contextName": "seats", "operator": "NUM_GTE", "value": 10}
            ], "serve": "variant", "variant": "codex", "percentage": 50}
        ]))
        .unwrap();
        assert_eq!(ok[0].conditions[1].value.as_deref(), Some("10"));
        assert_eq!((ok[0].serve, ok[0].variant.as_deref(), ok[0].percentage), (Serve::Variant, Some("codex"), 50));
        let rule = |conds: Value| json!([{"serve": "on", "conditions": [{"contextName": "x", "operator": "IN", "values": ["a"]}]}, {"serve": "on", "conditions": conds}]);
        assert_eq!(field(rule(json!([{"contextName": "x", "operator": "LIKE", "values": ["a"]}]))), "rules[1].conditions[0].operator");
        assert_eq!(field(rule(json!([{"contextName": "x", "operator": "IN", "values": ["a", 7]}]))), "rules[1].conditions[0].values[1]");
        assert_eq!(field(rule(json!([{"contextName": "x", "operator": "DATE_AFTER", "value": "2026-13-01T00:00:00Z"}]))), "rules[1].conditions[0].value");
        assert_eq!(field(rule(json!([{"contextName": "x", "operator": "DATE_AFTER", "value": "2026-12-01T00:00:00"}]))), "rules[1].conditions[0].value");
        assert_eq!(field(rule(json!([{"contextName": "x", "operator": "SEMVER_GT", "value": "1.2"}]))), "rules[1].conditions[0].value");
        assert_eq!(field(rule(json!([{"contextName": "x", "operator": "NUM_GT", "value": "ten"}]))), "rules[1].conditions[0].value");
        assert_eq!(field(rule(json!([{"contextName": "x", "operator": "IN", "values": []}]))), "rules[1].conditions[0].values");
        assert_eq!(field(rule(json!([{"contextName": "x", "operator": "IN", "values": ["a"], "invertd": true}]))), "rules[1].conditions[0].invertd");
        let many: Vec<String> = (0..=VALUES_MAX).map(|i| i.to_string()).collect();
        assert_eq!(field(rule(json!([{"contextName": "x", "operator": "IN", "values": many}]))), "rules[1].conditions[0].values");
        assert_eq!(field(json!([{"serve": "on", "segments": ["external"]}])), "rules[0].segments[0]");
        assert_eq!(field(json!([{"serve": "variant", "variant": "gemini", "percentage": 5}])), "rules[0].variant");
        assert_eq!(field(json!([{"serve": "maybe", "percentage": 5}])), "rules[0].serve");
        assert_eq!(field(json!([{"serve": "on", "percentage": 0}])), "rules[0].percentage");
        assert_eq!(field(json!([{"serve": "on"}])), "rules[0].conditions");
        let too_many: Vec<Value> = (0..=RULES_MAX).map(|_| json!({"serve": "on", "percentage": 5})).collect();
        assert_eq!(field(Value::Array(too_many)), "rules");
    }
}
