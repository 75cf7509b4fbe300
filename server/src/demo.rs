//! The demo a newcomer sees first: the workspace provider migration of
//! `examples/plans/workspace-provider-migration.md` under way (two stages passed, the third
//! soaking), a rehearsal on staging that was rolled back, and the queue migration waiting in
//! review. Each demo person does their own part through the service, as in real use.
use crate::error::Result;
use crate::service::{Ctx, Service};
use app::person::NewPerson;
use app::error::ApiError;
use app::checklist::{CheckResult, CheckStatus, NewChecklistItem};
use app::gate::{GateRequest, NewVote, RollbackDecision, RollbackRequest, Verdict, Vote};
use app::plan::{NewPlan, Plan, PlanStatus};
use app::review::{Decision, NewComment, NewSignOff};
use app::stage::StageAction;
use app::role::{NewRoleAssignment, PlanRole};
use app::risk::{Level, NewRisk};
use app::stage::NewStage;
use std::collections::HashMap;

pub const TITLE: &str = "Migrate workspaces to multi-provider (Claude and Codex)";

/// Loads the demo plan when the database holds no plan at all. Returns its id if loaded.
pub async fn load_if_empty(service: &Service) -> Result<Option<i64>> {
    let mut conn = service.db.read().await?;
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM plans").fetch_one(&mut *conn).await?;
    drop(conn);
    if count > 0 {
        return Ok(None);
    }
    let ctx = Ctx::system();
    let plan = service.create_plan(&ctx, plan()).await?;
    let mut lines = vec![];
    let mut cast = Cast::default();
    for (username, display_name, admin, role) in PEOPLE {
        // Someone added with `runway user add` before the first start keeps their account.
        let taken = {
            let mut conn = service.db.read().await?;
            crate::person::find_by_username(&mut conn, username).await?.map(|(p, _)| p)
        };
        if let Some(person) = taken {
            cast.0.insert(username, person_ctx(person));
            continue;
        }
        let password = crate::session::random_hex(8);
        let new = NewPerson {
            username: username.to_string(),
            password: password.clone(),
            display_name: display_name.to_string(),
            contact: format!("{username}@example.com"),
            admin: *admin,
        };
        let person = service.add_person(&ctx, new).await?;
        cast.0.insert(username, person_ctx(person));
        let what = match role {
            Some(role) => {
                let assignment = NewRoleAssignment { username: username.to_string(), role: *role };
                service.assign_role(&ctx, plan.id, assignment).await?;
                role.label()
            }
            None if *admin => "admin",
            None => "workspace user (member of acme-internal)",
        };
        lines.push(format!("  {username:<12} {password}   {what}"));
    }
    workspaces(service, &ctx, plan.id).await?;
    guards(service, &ctx, plan.id).await?;
    rehearsal(service, &cast).await?;
    run_first_stages(service, &cast, plan.id).await?;
    samples(service, &ctx).await?;
    in_review(service, &cast).await?;
    // Printed, never logged: the one time these passwords are shown.
    println!("Demo people, one per role (their passwords are shown only now):\n{}", lines.join("\n"));
    Ok(Some(plan.id))
}

/// The plan's flags, staged as the example plan rolls them out; 240 workspaces, the
/// internal one with its member; and two weeks of adoption as the rollout would show it.
async fn workspaces(service: &Service, ctx: &Ctx, plan_id: i64) -> Result<()> {
    use app::flag::{FlagStateInput, NewFlag};
    use app::stage::{FlagChangeInput, StageFlagChanges};
    for (key, description) in [
        ("USE_STANDALONE_MCP", "MCP servers run as stdio processes instead of in process."),
        ("ENABLE_CODEX_PROVIDER", "Offers Codex in a workspace's provider selector."),
    ] {
        let new = NewFlag { key: key.into(), description: description.into(), owner: "lead".into(), tags: vec!["providers".into()] };
        service.create_flag(ctx, new).await?;
    }
    // Internal testing (stage 4): 10% of workspaces and the internal one.
    let codex = service.get_flag(ctx, "ENABLE_CODEX_PROVIDER").await?;
    let state = FlagStateInput { version: codex.version, enabled: true, percentage: 10, allow: vec!["acme-internal".into()], deny: vec![], variants: vec![], rules: serde_json::Value::Null };
    service.set_flag_state(ctx, "ENABLE_CODEX_PROVIDER", "production", state).await?;
    let plan = service.get_plan(ctx, plan_id).await?;
    let change = |flag: &str, percentage| FlagChangeInput { flag: flag.into(), environment: "production".into(), enabled: true, percentage, rules: serde_json::Value::Null };
    let mut version = plan.version;
    for (i, changes) in [(2, vec![change("USE_STANDALONE_MCP", 100)]), (4, vec![change("ENABLE_CODEX_PROVIDER", 10)]), (5, vec![change("ENABLE_CODEX_PROVIDER", 100)])] {
        let stage_id = plan.stages[i].id;
        version = service.set_stage_flags(ctx, plan_id, stage_id, StageFlagChanges { version, changes }).await?.version;
    }
    // Workspaces the flag lets in have moved to Codex, as they would during stage 4.
    let mut csv = String::from("id,name,agent_provider\nacme-internal,Acme (internal),claude\n");
    for i in 1..240 {
        let id = format!("ws-{i:04}");
        let on = app::flag::bucket("ENABLE_CODEX_PROVIDER", &id) <= 10 && i % 2 == 0;
        csv.push_str(&format!("{id},Customer {i},{}\n", if on { "codex" } else { "claude" }));
    }
    service.import_now(ctx, csv.as_bytes(), |_| {}).await?;
    service.add_member(ctx, "acme-internal", "wendy").await?;
    // Two weeks of samples before now, Codex growing towards today's count.
    let adoption = service.adoption(ctx).await?;
    let (total, now_codex) = (adoption.total(), adoption.current.iter().find(|c| c.0 == "codex").map(|c| c.2).unwrap_or(0));
    let mut tx = service.db.write().await?;
    for day in (1..=14).rev() {
        let hour = (chrono::Utc::now() - chrono::Duration::days(day)).format("%Y-%m-%dT09:00:00Z").to_string();
        let codex = now_codex * (14 - day) / 14;
        for (provider, n) in [("claude", total - codex), ("codex", codex)] {
            sqlx::query("INSERT INTO provider_adoption (hour, provider, workspaces) VALUES ($1, $2, $3)")
                .bind(&hour)
                .bind(provider)
                .bind(n)
                .execute(tx.conn())
                .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// The example plan's rollback triggers as guards.
async fn guards(service: &Service, ctx: &Ctx, plan_id: i64) -> Result<()> {
    use app::guard::{Comparison, GuardAction, NewGuard};
    let plan = service.get_plan(ctx, plan_id).await?;
    let guard = |metric: &str, comparison, threshold, relative, action| NewGuard {
        version: 0,
        metric: metric.into(),
        comparison,
        threshold,
        relative,
        baseline_value: None,
        baseline_window_minutes: None,
        window_seconds: 300,
        min_samples: 20,
        action,
        labels: Default::default(),
    };
    let mut version = plan.version;
    for (i, g) in [
        (2, guard("mcp_tool_error_rate", Comparison::Above, 5.0, false, GuardAction::Notify)),
        (4, guard("provider_error_rate", Comparison::Above, 5.0, false, GuardAction::RollBack)),
        (4, guard("p95_latency_ms", Comparison::Above, 2.0, true, GuardAction::Pause)),
    ] {
        version = service.add_guard(ctx, plan_id, plan.stages[i].id, NewGuard { version, ..g }).await?.version;
    }
    Ok(())
}

/// The last half hour of the guards' metrics, as a service would have sent them, so the
/// charts have something to show.
async fn samples(service: &Service, ctx: &Ctx) -> Result<()> {
    let now = chrono::Utc::now();
    let mut points = vec![];
    for minute in 0..30 {
        let at = (now - chrono::Duration::minutes(30 - minute)).to_rfc3339();
        // A gentle wave, the way real error rates and latencies wander.
        let wave = ((minute as f64) / 4.0).sin();
        points.push(serde_json::json!({"metric": "provider_error_rate", "value": 1.2 + 0.6 * wave, "time": at, "labels": {"provider": "codex"}}));
        points.push(serde_json::json!({"metric": "p95_latency_ms", "value": 180.0 + 25.0 * wave, "time": at, "labels": {"provider": "codex"}}));
        points.push(serde_json::json!({"metric": "mcp_tool_error_rate", "value": 0.8 + 0.3 * wave, "time": at}));
    }
    service.ingest(ctx, serde_json::Value::Array(points).to_string().as_bytes()).await?;
    Ok(())
}

/// The demo people, each acting as themselves.
#[derive(Default)]
struct Cast(HashMap<&'static str, Ctx>);

impl Cast {
    fn by(&self, username: &str) -> &Ctx {
        &self.0[username]
    }
}

fn person_ctx(person: app::person::Person) -> Ctx {
    Ctx::new(crate::service::Caller::Person(person), None)
}

/// Checks on the first three stages, each with the result on-call recorded (None: not yet).
const CHECKS: &[(usize, &str, bool, Option<(CheckStatus, &str, &str)>)] = &[
    (0, "Backup of the workspaces table restored on staging", true,
        Some((CheckStatus::Pass, "Restored in 4 min; row counts match.", "https://grafana.example.com/d/backups?var-table=workspaces"))),
    (0, "Migration ran on a production-sized copy without a long lock", true,
        Some((CheckStatus::Pass, "Longest lock 40 ms (the constraint, added separately).", "https://ci.example.com/jobs/db-rehearsal/812"))),
    (0, "Every workspace reads agent_provider = 'claude'", true, Some((CheckStatus::Pass, "SELECT agent_provider, count(*) … → claude: 240.", ""))),
    (1, "In-process MCP servers still serve every tool call", true,
        Some((CheckStatus::Pass, "All 18 tools called from the smoke suite.", "https://ci.example.com/jobs/mcp-smoke/57"))),
    (1, "Standalone MCP package on every worker host", true, Some((CheckStatus::Pass, "12 of 12 hosts report packages/mcp-servers 1.4.0.", ""))),
    (1, "Tool call latency unchanged on the dashboard", false,
        Some((CheckStatus::Fail, "p95 up 3 ms on two hosts: the warm-up; within the budget, accepted at the gate.", "https://grafana.example.com/d/mcp-latency"))),
    (1, "Load test of the standalone servers", false, Some((CheckStatus::NotTested, "Moved to stage 2, where the servers take traffic.", ""))),
    (2, "All 18 tools verified over stdio on staging", true,
        Some((CheckStatus::Pass, "Verified by the staging suite over 24 h.", "https://ci.example.com/jobs/mcp-stdio/31"))),
    (2, "Tool call latency within +5 ms per call", true, Some((CheckStatus::Pass, "+2.1 ms at p95 on staging.", "https://grafana.example.com/d/mcp-latency?env=staging"))),
    (2, "No MCP tool errors in production for 24 h", false, None),
];

/// Reviewed, signed off and run to stage 2: stages 0 and 1 passed through their gates,
/// stage 2 active and soaking with its guard watching.
async fn run_first_stages(service: &Service, cast: &Cast, plan_id: i64) -> Result<()> {
    let (lead, oncall) = (cast.by("lead"), cast.by("oncall"));
    let mut plan = service.get_plan(lead, plan_id).await?;
    for (i, text, required, _) in CHECKS {
        let new = NewChecklistItem { version: plan.version, text: text.to_string(), required: *required };
        plan = service.add_check(lead, plan_id, plan.stages[*i].id, new).await?;
    }
    plan = signed_off(service, cast, plan, "Rollback steps are clear at every stage; go ahead.").await?;
    let gates = [
        (0, "Migration rehearsed on a production-sized copy; backups verified.", "Checks green, rollback is two statements."),
        (1, "Deployed with the flag off; the old path serves every call.", "Latency blip explained; nothing runs on the new code yet."),
        (2, "24 h on staging over stdio, all 18 tools verified.", "Staging held for a day; guard on tool errors in place."),
    ];
    for (i, why, vote) in gates {
        plan = record_checks(service, oncall, plan_id, i).await?;
        plan = go(service, cast, plan, i, why, vote).await?;
        if i < 2 {
            let action = StageAction { version: plan.version, reason: String::new() };
            plan = service.pass_stage(lead, plan_id, plan.stages[i].id, action).await?;
        }
    }
    let stage = Some(plan.stages[2].id);
    let question = NewComment { body: "Is the latency blip from stage 1 gone now that stdio takes traffic?".into(), stage_id: stage, parent_id: None };
    let asked = service.add_comment(cast.by("stakeholder"), plan_id, question).await?;
    let answer = NewComment { body: "Yes: p95 is back to its baseline; the guard chart shows the last half hour.".into(), stage_id: stage, parent_id: Some(asked.id) };
    service.add_comment(oncall, plan_id, answer).await?;
    Ok(())
}

async fn record_checks(service: &Service, oncall: &Ctx, plan_id: i64, stage: usize) -> Result<Plan> {
    let mut plan = service.get_plan(oncall, plan_id).await?;
    let items = plan.stages[stage].checklist.clone();
    for (item, (_, _, _, result)) in items.iter().zip(CHECKS.iter().filter(|c| c.0 == stage)) {
        let Some((status, comment, evidence)) = result else { continue };
        let result = CheckResult { status: *status, comment: comment.to_string(), evidence_url: Some(evidence.to_string()).filter(|e| !e.is_empty()) };
        plan = service.record_check(oncall, plan_id, plan.stages[stage].id, item.id, result).await?;
    }
    Ok(plan)
}

/// The demo stakeholder, on-call and rollback authority on a plan the lead made, named by
/// Runway itself as on the first demo plan.
async fn assign_team(service: &Service, plan_id: i64) -> Result<Plan> {
    let mut plan = None;
    for (username, role) in [("stakeholder", PlanRole::Stakeholder), ("oncall", PlanRole::OnCall), ("authority", PlanRole::RollbackAuthority)] {
        plan = Some(service.assign_role(&Ctx::system(), plan_id, NewRoleAssignment { username: username.into(), role }).await?);
    }
    plan.ok_or_else(|| ApiError::internal().into())
}

/// Sent for review by the lead and signed off by the stakeholder.
async fn signed_off(service: &Service, cast: &Cast, plan: Plan, comment: &str) -> Result<Plan> {
    let plan = service.request_review(cast.by("lead"), plan.id, plan.version).await?;
    let yes = NewSignOff { version: plan.version, decision: Decision::Approved, comment: comment.into() };
    service.sign_off(cast.by("stakeholder"), plan.id, yes).await
}

/// The lead asks for go on stage `i`, and the rollback authority votes go.
async fn go(service: &Service, cast: &Cast, plan: Plan, i: usize, why: &str, vote: &str) -> Result<Plan> {
    let asked = GateRequest { version: plan.version, rationale: why.into() };
    let plan = service.request_gate(cast.by("lead"), plan.id, plan.stages[i].id, asked).await?;
    let gate_id = plan.stages[i].open_gate().map(|g| g.id).ok_or_else(ApiError::internal)?;
    service.vote(cast.by("authority"), plan.id, gate_id, NewVote { vote: Vote::Go, rationale: vote.into() }).await
}

/// Last week's rehearsal of stage 2 on staging: the flag went on, tool calls timed out,
/// and the rollback authority approved the rollback.
async fn rehearsal(service: &Service, cast: &Cast) -> Result<()> {
    use app::stage::{FlagChangeInput, StageFlagChanges};
    let lead = cast.by("lead");
    let new = NewPlan {
        title: "Rehearsal: standalone MCP servers on staging".into(),
        summary: "Turn USE_STANDALONE_MCP on for staging only, to time the rollback before production.".into(),
        owner: "Platform team".into(),
        status: Some(PlanStatus::Draft),
        stages: vec![stage(
            "Turn on standalone MCP on staging",
            "Staging workers use the stdio MCP servers.",
            "",
            "1. Set `USE_STANDALONE_MCP=true` on staging.\n2. Run the tool smoke suite.",
            "1. Set `USE_STANDALONE_MCP=false` on staging.\n2. Confirm tool calls go through the in-process servers.",
        )],
        ..Default::default()
    };
    let plan = service.create_plan(lead, new).await?;
    let mut plan = assign_team(service, plan.id).await?;
    let stage_id = plan.stages[0].id;
    let changes = vec![FlagChangeInput { flag: "USE_STANDALONE_MCP".into(), environment: "staging".into(), enabled: true, percentage: 100, rules: serde_json::Value::Null }];
    plan = service.set_stage_flags(lead, plan.id, stage_id, StageFlagChanges { version: plan.version, changes }).await?;
    plan = signed_off(service, cast, plan, "Staging only; fine.").await?;
    plan = go(service, cast, plan, 0, "Staging is quiet this morning.", "Staging only.").await?;
    let why = RollbackRequest { reason: "Tool calls over stdio time out on two staging hosts (file descriptor limit).".into() };
    plan = service.request_rollback(cast.by("oncall"), plan.id, stage_id, why).await?;
    let rollback_id = plan.stages[0].rollbacks.last().map(|r| r.id).ok_or_else(ApiError::internal)?;
    let approve = RollbackDecision { decision: Verdict::Approve, comment: "Roll back; raise the limit before production.".into() };
    service.decide_rollback(cast.by("authority"), plan.id, rollback_id, approve).await?;
    Ok(())
}

/// The queue migration, imported from its Markdown and sent to the stakeholder for review:
/// the demo stakeholder's inbox has it.
async fn in_review(service: &Service, cast: &Cast) -> Result<()> {
    let lead = cast.by("lead");
    let imported = service.import_plan(lead, QUEUE_PLAN.as_bytes(), "queue-system-migration.md").await?;
    let patch = app::plan::PlanPatch { version: imported.plan.version, title: Some(QUEUE_TITLE.into()), owner: Some("Work orders team".into()), ..Default::default() };
    service.update_plan(lead, imported.plan.id, patch).await?;
    let plan = assign_team(service, imported.plan.id).await?;
    service.request_review(lead, plan.id, plan.version).await?;
    Ok(())
}

pub const QUEUE_TITLE: &str = "Move work orders to the new queue system";
const QUEUE_PLAN: &str = include_str!("../../examples/plans/queue-system-migration.md");

/// Username, display name, admin, and role on the demo plan.
const PEOPLE: &[(&str, &str, bool, Option<PlanRole>)] = &[
    ("admin", "Ada Admin", true, None),
    ("lead", "Lee Lead", false, Some(PlanRole::MigrationLead)),
    ("oncall", "Oli On-call", false, Some(PlanRole::OnCall)),
    ("authority", "Ari Authority", false, Some(PlanRole::RollbackAuthority)),
    ("stakeholder", "Sam Stakeholder", false, Some(PlanRole::Stakeholder)),
    // A workspace user: a member of the internal workspace, where Codex is on.
    ("wendy", "Wendy Workspace", false, None),
];

fn stage(name: &str, goal: &str, description: &str, forward: &str, rollback: &str) -> NewStage {
    NewStage {
        name: name.into(),
        goal: goal.into(),
        description: description.trim().into(),
        forward_runbook: forward.trim().into(),
        rollback_runbook: rollback.trim().into(),
        ..Default::default()
    }
}

fn risk(risk: &str, likelihood: Level, impact: Level, mitigation: &str) -> NewRisk {
    NewRisk { version: None, risk: risk.into(), likelihood, impact, mitigation: mitigation.into() }
}

pub fn plan() -> NewPlan {
    let mut stages = vec![
        stage(
            "Stage 0: DB migration",
            "Add the provider columns; every workspace defaults to \"claude\". Zero impact, no code changes needed yet.",
            DB_DESCRIPTION,
            DB_FORWARD,
            DB_ROLLBACK,
        ),
        stage(
            "Stage 1: MCP refactoring behind a feature flag",
            "Deploy the standalone MCP servers alongside the in-process ones with USE_STANDALONE_MCP=false. Zero impact, old code still runs.",
            MCP_FLAG_DESCRIPTION,
            MCP_FLAG_FORWARD,
            MCP_FLAG_ROLLBACK,
        ),
        stage(
            "Stage 2: Enable standalone MCP for Claude",
            "USE_STANDALONE_MCP=true: Claude users now use stdio MCP servers (behaviour identical, slightly different plumbing).",
            MCP_ON_DESCRIPTION,
            MCP_ON_FORWARD,
            MCP_ON_ROLLBACK,
        ),
        stage(
            "Stage 3: Deploy CodexProvider and provider selection backend",
            "Codex available via the API, no frontend yet.",
            CODEX_BACKEND_DESCRIPTION,
            CODEX_BACKEND_FORWARD,
            CODEX_BACKEND_ROLLBACK,
        ),
        stage(
            "Stage 4: Frontend provider selector behind ENABLE_CODEX_PROVIDER",
            "Deploy the provider selector; internal testing with the flag enabled.",
            SELECTOR_DESCRIPTION,
            SELECTOR_FORWARD,
            SELECTOR_ROLLBACK,
        ),
        stage(
            "Stage 5: Enable ENABLE_CODEX_PROVIDER for all users",
            "General availability.",
            GA_DESCRIPTION,
            GA_FORWARD,
            GA_ROLLBACK,
        ),
    ];
    // "Run for 24h minimum" on staging before production.
    stages[2].min_soak_minutes = Some(24 * 60);
    stages[2].planned_duration_minutes = Some(2 * 24 * 60);
    stages[0].planned_duration_minutes = Some(30);
    stages[1].planned_duration_minutes = Some(60);
    stages[3].planned_duration_minutes = Some(60);
    stages[4].min_soak_minutes = Some(24 * 60);
    // "Keep old code for 1 week as fallback" before the cleanup.
    stages[5].min_soak_minutes = Some(7 * 24 * 60);

    NewPlan {
        title: TITLE.into(),
        summary: "Add an agent_provider to every workspace, move MCP servers out of process without downtime, \
                  and let workspaces choose Codex, with a rollback at every step."
            .into(),
        description: DESCRIPTION.trim().into(),
        owner: "Platform team".into(),
        status: Some(PlanStatus::Draft),
        stages,
        risks: vec![
            risk(
                "Standalone MCP servers break tool calls (the riskiest change)",
                Level::Medium,
                Level::High,
                "Both implementations co-exist behind USE_STANDALONE_MCP; all 18 tools verified over stdio on staging for 24h; old code kept a week as fallback.",
            ),
            risk(
                "Sessions started with Claude cannot be resumed after a switch to Codex",
                Level::High,
                Level::Medium,
                "A provider switch always starts a new session; messages stay visible (stored in the DB); the stream shows a \"Switched to Codex\" divider.",
            ),
            risk(
                "Adding the check constraint locks the large workspaces table",
                Level::Low,
                Level::High,
                "Add the column with a default first and the constraint in a separate statement; IF NOT EXISTS makes the migration re-runnable.",
            ),
            risk(
                "Tool call latency regresses with stdio MCP servers",
                Level::Medium,
                Level::Low,
                "Compare tool call latency on staging (expect +1-5 ms per call) before enabling in production.",
            ),
            risk(
                "OpenAI API keys stored for Codex leak",
                Level::Low,
                Level::High,
                "Keys live only in the nullable openai_api_key_encrypted column, set only when a user configures Codex.",
            ),
        ],
    }
}

const DESCRIPTION: &str = r#"
## Problem

Existing workspaces are all Claude-only. We need to:

1. Add the `agent_provider` column without breaking anything
2. Migrate MCP servers from in-process to standalone without downtime
3. Handle sessions that were started with Claude but workspace now switches to Codex
4. Ensure rollback is possible at every step

Each stage is independently deployable and rollback-able.

## Session continuity

**Scenario: a user switches a workspace from Claude to Codex.** Existing streams have Claude sessions
(session IDs stored in `/var/lib/claude-sessions/`). Codex can't resume Claude sessions and vice versa.

- Switching provider starts a NEW session for the next query
- Previous messages are still visible in the stream (they're stored in DB, not session)
- The "resume" feature only works within the same provider
- UI shows a divider: "Switched to Codex" when provider changes mid-stream

**Switching back from Codex to Claude** follows the same logic: a new session. Previous Claude sessions may
still exist and could theoretically be resumed, but for v1, always start fresh after a provider switch.

## Data preservation

- No existing data is modified or deleted at any stage
- Provider column has a default (`'claude'`): no null handling needed
- Stream messages are provider-agnostic in storage (raw JSON blobs)
- Session files remain on disk even after provider switch (cleanup can happen later via cron)
"#;

const DB_DESCRIPTION: &str = r#"
Adds the provider column with a default and, separately, its check constraint (safer for large
tables), plus nullable storage for the Codex API key. No existing data changes.

Migration 3 (provider per stream) is **not in v1** and reserved for future use.
"#;

const DB_FORWARD: &str = r#"
1. Migration 1: add the provider column.

   ```sql
   -- Safe: adds column with default, no existing data changes
   ALTER TABLE workspaces
   ADD COLUMN IF NOT EXISTS agent_provider TEXT NOT NULL DEFAULT 'claude';

   -- Add check constraint separately (safer for large tables)
   ALTER TABLE workspaces
   ADD CONSTRAINT valid_provider CHECK (agent_provider IN ('claude', 'codex'));
   ```

2. Migration 2: add API key storage.

   ```sql
   -- Nullable — only set when user configures Codex
   ALTER TABLE workspaces
   ADD COLUMN IF NOT EXISTS openai_api_key_encrypted TEXT;
   ```

3. Check that every workspace reads `agent_provider = 'claude'`.
"#;

const DB_ROLLBACK: &str = r#"
1. Drop the constraint and the new columns.

   ```sql
   ALTER TABLE workspaces DROP CONSTRAINT IF EXISTS valid_provider;
   ALTER TABLE workspaces DROP COLUMN IF EXISTS agent_provider;
   ALTER TABLE workspaces DROP COLUMN IF EXISTS openai_api_key_encrypted;
   ```
"#;

const MCP_FLAG_DESCRIPTION: &str = r#"
Phase 1 of the MCP server migration: build standalone MCP servers alongside the existing ones.

- New package: `packages/mcp-servers/`
- Existing `createSdkMcpServer` in `packages/tools/src/mcp-server.ts` stays untouched
- Both co-exist
"#;

const MCP_FLAG_FORWARD: &str = r#"
1. Deploy the release containing `packages/mcp-servers/` with the flag off:

   ```env
   USE_STANDALONE_MCP=false   # default: use existing in-process (Claude only)
   ```

2. The worker entry chooses the implementation from the flag:

   ```javascript
   const useStandaloneMcp = process.env.USE_STANDALONE_MCP === "true"

   if (useStandaloneMcp) {
     // Pass command specs to provider SDK
     mcpServers = buildStandaloneSpecs(payload)
   } else {
     // Use existing createSdkMcpServer objects (Claude only)
     mcpServers = { ...workspaceInternalMcp, ...toolsInternalMcp, ...optionalMcpServers }
   }
   ```

3. Confirm the in-process servers still serve every tool call.
"#;

const MCP_FLAG_ROLLBACK: &str = r#"
1. Redeploy the previous release. With `USE_STANDALONE_MCP=false` nothing used the new package.
"#;

const MCP_ON_DESCRIPTION: &str = r#"
Phases 3 and 4 of the MCP server migration: test with `USE_STANDALONE_MCP=true` on staging, then
enable in production. This is the riskiest change of the plan.
"#;

const MCP_ON_FORWARD: &str = r#"
1. On staging, set the flag:

   ```env
   USE_STANDALONE_MCP=true    # new: use standalone stdio servers (multi-provider)
   ```

2. Verify all 18 tools work via stdio.
3. Compare tool call latency (expect +1-5ms per call).
4. Run for 24h minimum.
5. In production, set `USE_STANDALONE_MCP=true` and monitor for errors.
6. Keep the old code for 1 week as fallback.
"#;

const MCP_ON_ROLLBACK: &str = r#"
1. Set the flag back:

   ```env
   USE_STANDALONE_MCP=false
   ```

2. Confirm tool calls go through the in-process servers again.
"#;

const CODEX_BACKEND_DESCRIPTION: &str = r#"
Deploys `CodexProvider` and provider selection in the backend. Codex is reachable through the API
only; there is no frontend yet.
"#;

const CODEX_BACKEND_FORWARD: &str = r#"
1. Deploy the backend with `CodexProvider`.
2. Stream creation and query handling start a fresh session when the provider changed:

   ```typescript
   // In stream creation / query handling:
   if (stream.lastProvider !== payload.provider) {
     // Don't pass resumeSessionId — start fresh
     payload.resumeSessionId = undefined
     // Optionally emit a system message: "Provider changed from Claude to Codex"
   }
   ```

3. Check that a workspace set to `codex` through the API starts a new session.
"#;

const CODEX_BACKEND_ROLLBACK: &str = r#"
1. Redeploy the previous backend release.
2. Workspaces keep `agent_provider = 'claude'`; nothing else to undo.
"#;

const SELECTOR_DESCRIPTION: &str = r#"
The provider selector ships in the frontend, visible only where `ENABLE_CODEX_PROVIDER` is on:
internal workspaces first.
"#;

const SELECTOR_FORWARD: &str = r#"
1. Deploy the frontend with the provider selector.
2. Enable `ENABLE_CODEX_PROVIDER` for internal workspaces only.
3. Switch an internal workspace to Codex and back; each switch shows the "Switched to Codex" divider
   and starts a new session.
"#;

const SELECTOR_ROLLBACK: &str = r#"
1. Turn `ENABLE_CODEX_PROVIDER` off: the selector disappears.
2. Workspaces already on Codex keep their setting until switched back.
"#;

const GA_DESCRIPTION: &str = r#"
General availability. After a week on the new path, Phase 5 removes the old MCP code:

- Delete `createSdkMcpServer` usage from `packages/tools/src/mcp-server.ts`
- Remove the feature flag check
- Clean up imports
"#;

const GA_FORWARD: &str = r#"
1. Enable `ENABLE_CODEX_PROVIDER` for all users.
2. Watch provider switches and error rates.
3. After one week, remove the old in-process MCP code (Phase 5).
"#;

const GA_ROLLBACK: &str = r#"
1. Turn `ENABLE_CODEX_PROVIDER` off for everyone except internal workspaces.
2. Sessions restart fresh on the next query; no data is modified or deleted.
"#;

#[cfg(test)]
mod tests {
    #[test]
    fn the_demo_plan_is_valid_and_has_stages_zero_to_five() {
        let plan = super::plan();
        plan.validate().unwrap();
        let names: Vec<_> = plan.stages.iter().map(|s| s.name.split(':').next().unwrap().to_string()).collect();
        assert_eq!(names, ["Stage 0", "Stage 1", "Stage 2", "Stage 3", "Stage 4", "Stage 5"]);
        assert!(plan.stages[0].forward_runbook.contains("ADD COLUMN IF NOT EXISTS agent_provider"));
        assert!(plan.stages[0].rollback_runbook.contains("DROP COLUMN IF EXISTS agent_provider"));
    }
}
