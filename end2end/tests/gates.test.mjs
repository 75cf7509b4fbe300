import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PASSWORD, TEST_TIMEOUT_MS, WAIT_MS, eventually, openPage, useApp, waitForText } from '../support/app.mjs';

const app = useApp({ demo: true });

/** JSON API calls as `username`. */
const as = (username) => app.as(username);

/**
 * An approved plan whose first stage turns `flag` on for 5% of production, with the demo's
 * lead, on-call, rollback authority and stakeholder in their roles (passwords PASSWORD).
 * `signedIn`: the person this test's browser is already signed in as (setting their
 * password again would end that session).
 */
async function approvedPlan(title, flag, signedIn) {
  for (const who of ['lead', 'oncall', 'authority', 'stakeholder']) if (who !== signedIn) await app.person(who);
  await app.api.post('/api/v1/flags', { key: flag, description: 'Browser test flag' });
  let plan = await app.api.post('/api/v1/plans', {
    title,
    stages: [
      { name: 'Canary 5%', min_soak_minutes: 60, rollback_runbook: '1. Confirm the flag is off.\n2. Tell #incidents.' },
      { name: 'Everyone' },
    ],
  });
  const stage = plan.stages[0].id;
  plan = await app.api.send('PUT', `/api/v1/plans/${plan.id}/stages/${stage}/flags`, {
    version: plan.version,
    changes: [{ flag, environment: 'production', enabled: true, percentage: 5 }],
  });
  for (const [username, role] of [['lead', 'migration_lead'], ['oncall', 'on_call'], ['authority', 'rollback_authority'], ['stakeholder', 'stakeholder']]) {
    plan = await app.api.post(`/api/v1/plans/${plan.id}/roles`, { username, role });
  }
  plan = await app.api.post(`/api/v1/plans/${plan.id}/review`, { version: plan.version });
  const stakeholder = await as('stakeholder');
  plan = await stakeholder('POST', `/api/v1/plans/${plan.id}/signoffs`, { version: plan.version, decision: 'approved' });
  assert.equal(plan.status, 'approved');
  return plan;
}

/** A second signed-in browser window. */
async function browserAs(username) {
  const context = await app.browser.newContext({ baseURL: app.baseUrl });
  context.setDefaultTimeout(WAIT_MS);
  await app.signIn(context, username);
  return { context, page: await context.newPage() };
}

async function waitForLive(page) {
  await page.waitForSelector('body[data-live="true"]', { state: 'attached', timeout: WAIT_MS });
}

const stageItem = (page, name) => page.locator('li.stage', { has: page.locator('h3.stage-name', { hasText: name }) });

test(
  'the lead asks for go, the rollback authority approves from the inbox, and the stakeholder watching sees the stage go live',
  { timeout: TEST_TIMEOUT_MS },
  app.test(
    async ({ page }) => {
      const flag = 'E2E_GATE_FLAG';
      const plan = await approvedPlan('Gate in the browser', flag, 'stakeholder');

      // The stakeholder (this browser) watches the plan page.
      await openPage(page, `/plans/${plan.id}`);
      await waitForLive(page);
      const canary = stageItem(page, 'Canary 5%');
      await waitForText(canary.locator('.badge'), 'Pending');

      const lead = await browserAs('lead');
      const authority = await browserAs('authority');
      try {
        await openPage(lead.page, `/plans/${plan.id}`);
        await lead.page.getByLabel('Why it is ready (optional)').first().fill('Canary dashboards green for an hour');
        await lead.page.getByRole('button', { name: 'Request go/no-go for Canary 5%' }).click();
        await stageItem(lead.page, 'Canary 5%').locator('.gate-open').waitFor();

        // Without reloading, the stakeholder sees the request.
        await waitForText(canary.locator('.badge'), 'Awaiting decision');
        assert.match(await canary.locator('.gate-open').innerText(), /asked by lead .*Canary dashboards green for an hour/s);

        // The rollback authority finds it in the inbox, with the count in the header.
        await openPage(authority.page, '/inbox');
        await waitForText(authority.page.locator('.count-badge'), '1');
        const item = authority.page.locator('li.inbox-item');
        assert.match(await item.innerText(), /Go\/no-go for Canary 5% on Gate in the browser/);
        await item.getByLabel('Comment').fill('Error budget is fine');
        await item.getByRole('button', { name: 'Go: Go/no-go for Canary 5% on Gate in the browser', exact: true }).click();
        await authority.page.locator('p.empty').waitFor();
        await eventually(async () => assert.equal(await authority.page.locator('.count-badge').count(), 0));

        // The stakeholder's open page shows the stage active and soaking, still without a reload.
        await waitForText(canary.locator('.badge'), 'Active');
        await eventually(async () => assert.match(await canary.locator('.soak').innerText(), /Soaking: \d+ min \d\d s left/));
        assert.match(await canary.locator('.gate-history').innerText(), /Go on .*asked by lead \(Go authority\) — “Error budget is fine”/);
        const flagNow = await app.api.get(`/api/v1/flags/${flag}`);
        const production = flagNow.environments.find((e) => e.environment === 'production');
        assert.deepEqual([production.enabled, production.percentage], [true, 5]);
      } finally {
        await lead.context.close();
        await authority.context.close();
      }
    },
    { as: 'stakeholder' },
  ),
);

test(
  'on-call asks for a rollback, the rollback authority approves it, the flags are exactly as before and the time is shown against the target',
  { timeout: TEST_TIMEOUT_MS },
  app.test(
    async ({ page }) => {
      const flag = 'E2E_ROLLBACK_FLAG';
      let plan = await approvedPlan('Rollback in the browser', flag, 'oncall');
      const before = await app.api.get(`/api/v1/flags/${flag}`);
      const lead = await as('lead');
      const authorityApi = await as('authority');
      plan = await lead('POST', `/api/v1/plans/${plan.id}/stages/${plan.stages[0].id}/gate`, { version: plan.version });
      plan = await authorityApi('POST', `/api/v1/plans/${plan.id}/gates/${plan.stages[0].gates[0].id}/votes`, { vote: 'go' });
      assert.equal(plan.stages[0].status, 'active');

      // On-call (this browser) keeps the flags list open in a second tab.
      const flags = await page.context().newPage();
      await openPage(flags, '/flags');
      await waitForLive(flags);
      const row = flags.locator(`tr.flag-row[data-key="${flag}"]`);
      await eventually(async () => assert.match(await row.innerText(), /On, 5%/));

      await openPage(page, `/plans/${plan.id}`);
      const canary = stageItem(page, 'Canary 5%');
      assert.equal(await canary.getByLabel('Reason to roll back').count(), 0, 'the rollback form waits to be asked for');
      await canary.getByRole('button', { name: 'Roll back Canary 5%…' }).click();
      await canary.getByLabel('Reason to roll back').fill('Error rate 6% > 5%');
      await canary.getByRole('button', { name: 'Request rollback of Canary 5%' }).click();
      await canary.locator('.rollback-open').waitFor();

      const authority = await browserAs('authority');
      try {
        await openPage(authority.page, `/plans/${plan.id}`);
        const stage = stageItem(authority.page, 'Canary 5%');
        await stage.getByLabel('Comment (required to reject)').fill('Agreed, roll back');
        await stage.getByRole('button', { name: 'Approve rollback of Canary 5%' }).click();
        await waitForText(stage.locator('.badge'), 'Rolled back');
      } finally {
        await authority.context.close();
      }

      // On-call's plan page and flags tab update by themselves.
      await waitForText(canary.locator('.badge'), 'Rolled back');
      await eventually(async () => assert.match(await canary.locator('.rollback-time').innerText(), /Rolled back in \d+\.\d+ s \(within the 30 s target\), approved by authority/));
      assert.match(await canary.getByRole('region', { name: 'Rollback runbook for Canary 5%' }).innerText(), /Confirm the flag is off/);
      await eventually(async () => assert.doesNotMatch(await row.innerText(), /On, 5%/));

      const after = await app.api.get(`/api/v1/flags/${flag}`);
      const strip = (f) => f.environments.map(({ updated_at, ...rest }) => rest);
      assert.deepEqual(strip(after), strip(before), 'every environment is exactly as before the stage');
      const stored = (await app.api.get(`/api/v1/plans/${plan.id}`)).stages[0].rollbacks[0];
      assert.equal(stored.status, 'approved');
      assert.ok(Number.isInteger(stored.duration_ms) && stored.duration_ms >= 0 && stored.target_seconds === 30, JSON.stringify(stored));
    },
    { as: 'oncall' },
  ),
);
