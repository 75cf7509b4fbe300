//! Markdown plans in and out, through the service: an import is a plan creation (same
//! permission, one transaction, one audit entry), a preview writes nothing.
use crate::error::Result;
use crate::service::{Ctx, Service};
use app::plan_markdown::{export, import, ImportPreview, Imported};
use app::error::ApiError;
use app::token::Scope;

/// "queue-system-migration.md" → "queue-system-migration".
fn title_from_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let stem = base.strip_suffix(".md").or_else(|| base.strip_suffix(".markdown")).unwrap_or(base);
    if stem.trim().is_empty() { "Imported plan".into() } else { stem.trim().chars().take(200).collect() }
}

/// People may import (creating the plan checks the rest); tokens need `plans:write`.
pub(crate) fn require_importer(ctx: &Ctx) -> Result<(), ApiError> {
    ctx.require_signed_in()?;
    if ctx.person().is_none() && !ctx.is_admin() {
        ctx.require_read(Scope::PlansWrite)?;
    }
    Ok(())
}

impl Service {
    /// What importing `bytes` would create. Writes nothing.
    pub async fn preview_import(&self, ctx: &Ctx, bytes: &[u8], name: &str) -> Result<ImportPreview> {
        require_importer(ctx)?;
        let mut preview = import(bytes, &title_from_name(name))?;
        self.settle_flags(&mut preview).await?;
        Ok(preview)
    }

    /// Creates the plan a Markdown document describes.
    pub async fn import_plan(&self, ctx: &Ctx, bytes: &[u8], name: &str) -> Result<Imported> {
        let preview = self.preview_import(ctx, bytes, name).await?;
        let plan = self.create_plan(ctx, preview.plan).await?;
        Ok(Imported { plan, described: preview.described, notes: preview.notes })
    }

    /// Flag changes naming a flag or environment Runway does not have cannot be stored;
    /// they stay, as text, in the stage's description.
    async fn settle_flags(&self, preview: &mut ImportPreview) -> Result<()> {
        let mut conn = self.db.read().await?;
        let envs = crate::flag::load_environments(&mut conn).await?;
        for stage in &mut preview.plan.stages {
            if stage.flag_changes.is_empty() {
                continue;
            }
            let keys: Vec<&str> = stage.flag_changes.iter().map(|c| c.flag.as_str()).collect();
            let missing = crate::stage_flag::missing_flags(&mut conn, &keys).await?;
            let (keep, drop): (Vec<_>, Vec<_>) = std::mem::take(&mut stage.flag_changes)
                .into_iter()
                .partition(|c| !missing.contains(&c.flag) && envs.iter().any(|e| e.name == c.environment));
            stage.flag_changes = keep;
            if !drop.is_empty() {
                let lines: Vec<String> = drop
                    .iter()
                    .map(|c| {
                        let state = if !c.enabled { "off".to_string() } else { format!("on at {}%", c.percentage) };
                        format!("- `{}` in `{}`: {state}", c.flag, c.environment)
                    })
                    .collect();
                let text = format!("Flag changes Runway has no flag or environment for:\n\n{}", lines.join("\n"));
                stage.description = if stage.description.is_empty() { text } else { format!("{}\n\n{text}", stage.description) };
                preview.notes.push(format!(
                    "Stage \"{}\": {} flag change(s) name a flag or environment Runway does not have; they are in its description.",
                    stage.name,
                    drop.len()
                ));
            }
        }
        Ok(())
    }

    /// A plan as Markdown, and a file name for it.
    pub async fn export_plan(&self, ctx: &Ctx, id: i64) -> Result<(String, String)> {
        let plan = self.get_plan(ctx, id).await?;
        let slug: String = plan
            .title
            .to_lowercase()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect::<String>()
            .split('-')
            .filter(|p| !p.is_empty())
            .take(8)
            .collect::<Vec<_>>()
            .join("-");
        let name = if slug.is_empty() { format!("plan-{id}.md") } else { format!("{slug}.md") };
        Ok((name, export(&plan)))
    }
}

#[cfg(test)]
mod tests {
    use super::title_from_name;

    #[test]
    fn a_file_name_gives_a_title_when_the_document_has_no_heading() {
        assert_eq!(title_from_name("plans/queue-migration.md"), "queue-migration");
        assert_eq!(title_from_name(""), "Imported plan");
    }
}
