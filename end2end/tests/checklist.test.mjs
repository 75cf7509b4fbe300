import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ADMIN, TEST_TIMEOUT_MS, eventually, openPage, useApp } from '../support/app.mjs';

const app = useApp({ demo: false });

test(
  'the lead adds a required check to a stage and the on-call records it passed with evidence',
  { timeout: TEST_TIMEOUT_MS },
  app.test(
    async ({ page, api }) => {
      // The admin creates the plan, so they lead it; oli (this browser) is on call.
      const plan = await api.post('/api/v1/plans', { title: 'Provider columns', stages: [{ name: 'Stage 0: DB migration' }] });
      await api.post(`/api/v1/plans/${plan.id}/roles`, { username: 'oli', role: 'on_call' });
      const lead = await app.browser.newContext({ baseURL: app.baseUrl });
      try {
        await app.signIn(lead, ADMIN.username, ADMIN.password);
        const leadPage = await lead.newPage();
        await openPage(leadPage, `/plans/${plan.id}?edit=1`);
        await leadPage.getByLabel('New check').fill('Backups verified');
        await leadPage.getByRole('button', { name: 'Add check' }).click();
        await leadPage.locator('li.check', { hasText: 'Backups verified' }).waitFor();
      } finally {
        await lead.close();
      }

      // The on-call (this browser) records the result; the page shows who and when.
      await openPage(page, `/plans/${plan.id}`);
      const check = page.locator('li.check', { hasText: 'Backups verified' });
      assert.match(await check.innerText(), /required/);
      assert.equal(await page.getByRole('button', { name: 'Add check' }).count(), 0, 'on-call does not edit the checklist');
      assert.equal(await check.getByLabel('Result', { exact: true }).count(), 0, 'the result form waits to be asked for');
      await check.getByRole('button', { name: 'Record the result of: Backups verified' }).click();
      await check.getByLabel('Result', { exact: true }).selectOption('pass');
      await check.getByLabel('Comment').fill('Restored to staging');
      await check.getByLabel('Evidence link').fill('https://grafana.example.com/d/backups');
      await check.getByRole('button', { name: 'Record', exact: true }).click();
      await eventually(async () => assert.match(await page.locator('li.check .check-state').innerText(), /^Pass by oli, /));
      const [item] = (await api.get(`/api/v1/plans/${plan.id}`)).stages[0].checklist;
      assert.deepEqual([item.status, item.comment, item.evidence_url, item.checked_by], ['pass', 'Restored to staging', 'https://grafana.example.com/d/backups', 'oli']);
    },
    { as: 'oli' },
  ),
);
