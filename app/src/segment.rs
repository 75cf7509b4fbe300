//! Segments: named, reusable sets of conditions ("internal workspaces", "EU enterprise")
//! that the targeting rules of any flag refer to by name.
use crate::error::ApiError;
use crate::rule::Condition;
use crate::validate::{check_len, check_required, check_slug};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Segment {
    pub id: i64,
    pub name: String,
    pub description: String,
    /// All must hold for a context to be in the segment.
    pub conditions: Vec<Condition>,
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
    /// The flags whose rules use it, by key.
    #[serde(default)]
    pub used_by: Vec<String>,
}

/// `POST /api/v1/segments`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewSegment {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Read by [`crate::rule::parse_conditions`], which names the place of a mistake.
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(value_type = Vec<Condition>))]
    pub conditions: serde_json::Value,
}

impl NewSegment {
    pub fn validate(&self) -> Result<Vec<Condition>, ApiError> {
        check_name(&self.name)?;
        check_len("description", "Description", &self.description, 2_000)?;
        read_conditions(&self.conditions)
    }
}

/// `PUT /api/v1/segments/{name}`: its description and conditions, as a whole.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SegmentInput {
    /// The segment version this change was based on.
    pub version: i64,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(value_type = Vec<Condition>))]
    pub conditions: serde_json::Value,
}

impl SegmentInput {
    pub fn validate(&self) -> Result<Vec<Condition>, ApiError> {
        check_len("description", "Description", &self.description, 2_000)?;
        read_conditions(&self.conditions)
    }
}

/// A segment with no condition would hold for everyone: refused, as it is surely a mistake.
fn read_conditions(value: &serde_json::Value) -> Result<Vec<Condition>, ApiError> {
    let conditions = crate::rule::parse_conditions("conditions", value)?;
    if conditions.is_empty() {
        return Err(ApiError::validation("conditions", "A segment needs at least one condition."));
    }
    Ok(conditions)
}

/// Letters, digits, `.`, `_` and `-`, as flag keys: `internal-workspaces`, `eu.enterprise`.
pub fn check_name(name: &str) -> Result<(), ApiError> {
    check_required("name", "Name", name)?;
    check_len("name", "Name", name, 100)?;
    check_slug("name", "A segment name", name)
}
