import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TEST_TIMEOUT_MS, WAIT_MS, eventually, openPage, useApp, waitForText } from '../support/app.mjs';

const app = useApp({ demo: true });

/** Waits until the first element of `locator` shows text matching `pattern`. */
const waitForMatch = (locator, pattern) =>
  eventually(async () => assert.match((await locator.first().textContent({ timeout: 1_000 })) ?? '', pattern));

const stageItem = (page, name) => page.locator('li.stage', { has: page.locator('h3.stage-name', { hasText: name }) });

/** An approved plan of two stages with a required check each; the demo's people in their roles. */
async function approvedPlan(title) {
  // The lead is this test's browser, signed in already (a new password would end that session).
  for (const who of ['oncall', 'stakeholder']) await app.person(who);
  let plan = await app.api.post('/api/v1/plans', { title, stages: [{ name: 'Canary 5%' }, { name: 'Everyone' }] });
  for (const [i, text] of [[0, 'Canary error rate under 1%'], [1, 'Support queue normal']]) {
    plan = await app.api.post(`/api/v1/plans/${plan.id}/stages/${plan.stages[i].id}/checklist`, { version: plan.version, text });
  }
  for (const [username, role] of [['lead', 'migration_lead'], ['oncall', 'on_call'], ['stakeholder', 'stakeholder']]) {
    plan = await app.api.post(`/api/v1/plans/${plan.id}/roles`, { username, role });
  }
  plan = await app.api.post(`/api/v1/plans/${plan.id}/review`, { version: plan.version });
  const stakeholder = await app.as('stakeholder');
  plan = await stakeholder('POST', `/api/v1/plans/${plan.id}/signoffs`, { version: plan.version, decision: 'approved' });
  assert.equal(plan.status, 'approved');
  return plan;
}

test(
  'while the on-call records a check in one stage, what the lead is typing in another stage and in the discussion stays, and the lead sends it',
  { timeout: TEST_TIMEOUT_MS },
  app.test(
    async ({ page }) => {
      const plan = await approvedPlan('Two people on one plan');
      const [canaryId, everyoneId] = plan.stages.map((s) => s.id);
      await openPage(page, `/plans/${plan.id}`);
      await page.waitForSelector('body[data-live="true"]', { state: 'attached', timeout: WAIT_MS });

      // The lead (this browser) is half-way through writing two things.
      const canary = stageItem(page, 'Canary 5%');
      await canary.getByRole('button', { name: 'Record the result of: Canary error rate under 1%', exact: true }).click();
      await canary.getByLabel('Comment', { exact: true }).fill('Error rate 0.2% over the last hour');
      await page.getByRole('button', { name: 'Write a comment', exact: true }).click();
      await page.getByLabel('Your comment', { exact: true }).fill('Starting the canary at 14:00');

      // Meanwhile the on-call records the other stage's check and the stakeholder comments.
      const oncall = await app.as('oncall');
      const everyoneCheck = plan.stages[1].checklist[0].id;
      await oncall('PUT', `/api/v1/plans/${plan.id}/stages/${everyoneId}/checklist/${everyoneCheck}/result`, {
        status: 'pass',
        comment: 'Queue at its usual 40 tickets',
      });
      const stakeholder = await app.as('stakeholder');
      await stakeholder('POST', `/api/v1/plans/${plan.id}/comments`, { body: 'Ping me before the canary starts' });

      // The lead's page shows both without a reload...
      const everyone = stageItem(page, 'Everyone');
      await waitForMatch(everyone.locator('.check-state'), /^Pass by oncall, /);
      await waitForText(page.locator('.discussion .comment-body').first(), 'Ping me before the canary starts');
      // ...and what the lead was typing is still there.
      assert.equal(await canary.getByLabel('Comment', { exact: true }).inputValue(), 'Error rate 0.2% over the last hour');
      assert.equal(await page.getByLabel('Your comment', { exact: true }).inputValue(), 'Starting the canary at 14:00');

      // The lead's own result is recorded as typed.
      await canary.getByLabel('Result', { exact: true }).selectOption('pass');
      await canary.getByRole('button', { name: 'Record', exact: true }).click();
      await waitForMatch(canary.locator('.check-state'), /^Pass by lead, /);
      assert.equal(await page.locator('.error-box').count(), 0, 'no error or conflict is shown');
      const saved = await app.api.get(`/api/v1/plans/${plan.id}`);
      const check = saved.stages.find((s) => s.id === canaryId).checklist[0];
      assert.equal(check.status, 'pass');
      assert.equal(check.comment, 'Error rate 0.2% over the last hour');

      // The comment the lead was writing posts, and its form closes.
      await page.getByRole('button', { name: 'Post', exact: true }).click();
      await waitForText(page.locator('.discussion .comment-body').nth(1), 'Starting the canary at 14:00');
      await page.getByRole('button', { name: 'Write a comment', exact: true }).waitFor();
      assert.equal(await page.getByLabel('Your comment', { exact: true }).count(), 0);
    },
    { as: 'lead' },
  ),
);
