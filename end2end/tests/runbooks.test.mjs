import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { TEST_TIMEOUT_MS, WAIT_MS, eventually, openPage, useApp, waitForStageNames, waitForText } from '../support/app.mjs';

const app = useApp({ demo: false });

const EXAMPLE = new URL('../../examples/plans/queue-system-migration.md', import.meta.url);

/** Waits until the first element of `locator` has text matching `re`. */
async function waitForMatch(locator, re) {
  await eventually(async () => assert.match((await locator.first().textContent({ timeout: 1_000 })) ?? '', re));
}

const stageItem = (page, name) => page.locator('li.stage', { has: page.locator('h3.stage-name', { hasText: name }) });

test(
  'a lead uploads a Markdown plan, sees its stages, checks and risks in a preview before anything is saved, then creates it',
  { timeout: TEST_TIMEOUT_MS },
  app.test(async ({ page }) => {
    const before = (await app.api.get('/api/v1/plans')).total;
    await openPage(page, '/plans');
    await page.getByRole('link', { name: 'Import Markdown', exact: true }).click();
    await page.waitForURL(/\/plans\/import$/);
    await page.getByLabel('Markdown file', { exact: true }).setInputFiles({
      name: 'queue-system-migration.md',
      mimeType: 'text/markdown',
      buffer: await readFile(EXAMPLE),
    });
    await page.getByRole('button', { name: 'Preview', exact: true }).click();

    // Counted by reading the file: Phase 1-4, three "- [ ]" each, a four-row risk table.
    await waitForText(page.locator('.import-counts'), '4 stages, 12 checklist items, 4 risks. Nothing is saved yet.');
    const rows = page.locator('table.preview-stages tbody tr');
    assert.deepEqual(
      (await rows.locator('th').allTextContents()).map((s) => s.trim()),
      ['Phase 1: Parallel Implementation (Non-Breaking)', 'Phase 2: Feature Flag Integration', 'Phase 3: Gradual Rollout', 'Phase 4: Legacy Removal'],
    );
    // Phase 1: 3 checks, 4 runbook steps, the plan's 3-part rollback.
    assert.deepEqual((await rows.first().locator('td').allTextContents()).slice(2, 5), ['3', '4', '3']);
    assert.equal(await page.locator('table.preview-risks tbody tr').count(), 4);
    const described = (await page.locator('ul.preview-described li').allTextContents()).map((s) => s.trim());
    assert.ok(described.includes('Monitoring During Migration'), described.join(' | '));
    assert.ok(described.includes('Testing Strategy'), described.join(' | '));
    assert.match(await page.locator('ul.preview-thresholds').innerText(), /Error rate > 1% — in the description/);
    // The description itself, as it will be saved, nothing lost.
    assert.match(await page.locator('details.preview-description summary').innerText(), /^The description as it will be saved \(\d+ characters\)$/);
    assert.match(await page.locator('details.preview-description pre').textContent(), /## Monitoring During Migration\n\n### Key Metrics to Watch/);
    assert.equal((await app.api.get('/api/v1/plans')).total, before, 'the preview saved nothing');

    await page.getByRole('button', { name: 'Create plan', exact: true }).click();
    await page.waitForURL(/\/plans\/\d+$/);
    await waitForStageNames(page, ['Phase 1: Parallel Implementation (Non-Breaking)', 'Phase 2: Feature Flag Integration', 'Phase 3: Gradual Rollout', 'Phase 4: Legacy Removal']);
    assert.equal(await page.locator('li.stage ul.checks li').count(), 12);
    assert.equal(await page.locator('tr.risk-row').count(), 4);
    await waitForText(page.locator('h1'), '07 - Appendix: Migration Plan');
    assert.equal((await app.api.get('/api/v1/plans')).total, before + 1);

    // The plan downloads as Markdown again.
    const id = page.url().split('/').pop();
    const download = page.getByRole('link', { name: 'Download Markdown', exact: true });
    assert.equal(await download.getAttribute('href'), `/api/v1/plans/${id}/export.md`);
  }),
);

/** JSON API calls as `username`. */
const as = (username) => app.as(username);

test(
  'on-call runs the forward runbook step by step while a stakeholder watches live, and the finished run keeps its timeline',
  { timeout: TEST_TIMEOUT_MS },
  app.test(
    async ({ page }) => {
      for (const who of ['lead', 'authority', 'stakeholder']) await app.person(who);
      let plan = await app.api.post('/api/v1/plans', {
        title: 'Runbook in the browser',
        stages: [{ name: 'Cutover', forward_runbook: '1. Stop the workers (on-call, 5 min)\n2. Run the migration (30 min)\n3. Start the workers\n' }],
      });
      for (const [username, role] of [['lead', 'migration_lead'], ['oncall', 'on_call'], ['authority', 'rollback_authority'], ['stakeholder', 'stakeholder']]) {
        plan = await app.api.post(`/api/v1/plans/${plan.id}/roles`, { username, role });
      }
      plan = await app.api.post(`/api/v1/plans/${plan.id}/review`, { version: plan.version });
      plan = await (await as('stakeholder'))('POST', `/api/v1/plans/${plan.id}/signoffs`, { version: plan.version, decision: 'approved' });
      plan = await (await as('lead'))('POST', `/api/v1/plans/${plan.id}/stages/${plan.stages[0].id}/gate`, { version: plan.version });
      plan = await (await as('authority'))('POST', `/api/v1/plans/${plan.id}/gates/${plan.stages[0].gates[0].id}/votes`, { vote: 'go' });
      assert.equal(plan.stages[0].status, 'active');

      // The stakeholder watches in a second browser.
      const watcher = await app.browser.newContext({ baseURL: app.baseUrl });
      watcher.setDefaultTimeout(WAIT_MS);
      await app.signIn(watcher, 'stakeholder');
      const watching = await watcher.newPage();
      try {
        await openPage(watching, `/plans/${plan.id}`);
        await watching.waitForSelector('body[data-live="true"]', { state: 'attached' });
        const watched = stageItem(watching, 'Cutover');
        assert.equal(await watched.getByRole('button', { name: 'Start forward runbook' }).count(), 0, 'stakeholders do not run runbooks');

        await openPage(page, `/plans/${plan.id}`);
        const cutover = stageItem(page, 'Cutover');
        await cutover.getByRole('button', { name: 'Start forward runbook', exact: true }).click();
        const run = cutover.locator('article.run');
        await waitForMatch(run.locator('h5'), /^Forward runbook run #\d+ — running$/);
        await eventually(async () => assert.match(await run.locator('.run-elapsed').innerText(), /Running: \d+ s elapsed of 35 min 0 s planned\./));
        await waitForMatch(watched.locator('article.run h5'), / — running$/);

        await run.getByRole('button', { name: 'Mark step 1 done: Stop the workers (on-call, 5 min)', exact: true }).click();
        await waitForMatch(watched.locator('li.run-step[data-step="0"] .step-outcome'), /^Done by oncall at .* · took \d+ s$/);
        // This page has reloaded the plan too before anything is typed into it.
        await waitForMatch(run.locator('li.run-step[data-step="0"] .step-outcome'), /^Done by oncall/);
        await run.getByLabel('Reason for skipping step 2', { exact: true }).fill('Ran it in the maintenance window');
        await run.locator('li.run-step[data-step="1"]').getByRole('button', { name: 'Skip', exact: true }).click();
        await waitForMatch(watched.locator('li.run-step[data-step="1"] .step-outcome'), /^Skipped by oncall at .*: “Ran it in the maintenance window”$/);
        await waitForMatch(run.locator('li.run-step[data-step="1"] .step-outcome'), /^Skipped by oncall/);
        await run.getByLabel('Note', { exact: true }).fill('Workers were slow to stop');
        await run.getByRole('button', { name: 'Add note', exact: true }).click();
        await waitForMatch(watched.locator('ul.run-notes'), /oncall at .*: Workers were slow to stop/);
        await waitForMatch(run.locator('ul.run-notes'), /Workers were slow to stop/);
        await run.getByRole('button', { name: 'Mark step 3 done: Start the workers', exact: true }).click();

        // Finished: read-only, with its timeline, on both screens.
        await waitForMatch(watched.locator('article.run h5'), / — finished$/);
        await eventually(async () => assert.match(await watched.locator('article.run .run-elapsed').innerText(), /^Finished .*: took \d+ s of 35 min 0 s planned\.$/));
        const timeline = (await watched.locator('.run-timeline li').allTextContents()).map((s) => s.replace(/^\S+ \S+ /, ''));
        assert.deepEqual(
          timeline.map((t) => t.replace(/^.*?(Started|Step|Note|Finished)/, '$1')),
          [
            'Started by oncall',
            'Step 1 done by oncall: Stop the workers (on-call, 5 min)',
            'Step 2 skipped by oncall: Run the migration (30 min)',
            'Note by oncall: Workers were slow to stop',
            'Step 3 done by oncall: Start the workers',
            'Finished',
          ],
        );
        await waitForMatch(run.locator('h5'), / — finished$/);
        assert.equal(await run.getByRole('button', { name: /^Mark step/ }).count(), 0, 'a finished run is read-only');
      } finally {
        await watcher.close();
      }
    },
    { as: 'oncall' },
  ),
);
