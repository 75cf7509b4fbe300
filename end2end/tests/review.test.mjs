import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TEST_TIMEOUT_MS, openPage, useApp, waitForText } from '../support/app.mjs';

const app = useApp({ demo: true });

test(
  'a stakeholder signs off, the lead edits the approved plan, and the stakeholder sees it back in review with the reason',
  { timeout: TEST_TIMEOUT_MS },
  app.test(
    async ({ page, context, api }) => {
      // The demo people hold their roles on the demo plan; give them known passwords.
      await app.person('lead');
      const [summary] = (await api.get('/api/v1/plans')).items;
      let plan = await api.get(`/api/v1/plans/${summary.id}`);
      plan = await api.post(`/api/v1/plans/${plan.id}/review`, { version: plan.version });
      assert.equal(plan.status, 'in_review');

      // The stakeholder (this browser) sees who holds what, and signs off.
      await openPage(page, `/plans/${plan.id}`);
      const roles = page.locator('section.roles');
      assert.match(await roles.innerText(), /Stakeholder\s+Sam Stakeholder\s+stakeholder@example\.com/);
      assert.match(await roles.innerText(), /Migration lead\s+Lee Lead/);
      await waitForText(page.locator('.review-summary'), 'In review: 0 of 1 stakeholders have signed off.');
      await page.getByLabel(/Comment/).fill('Rollback steps read well.');
      await page.getByRole('button', { name: `Sign off version ${plan.version}` }).click();
      await waitForText(page.locator('.facts .badge'), 'Approved');
      assert.equal((await api.get(`/api/v1/plans/${plan.id}`)).status, 'approved');

      // The lead, in another browser, edits a stage of the approved plan.
      const lead = await app.browser.newContext({ baseURL: app.baseUrl });
      try {
        await app.signIn(lead, 'lead');
        const leadPage = await lead.newPage();
        const stage = plan.stages[1];
        await openPage(leadPage, `/plans/${plan.id}/stages/${stage.id}/edit`);
        await leadPage.getByLabel('Goal').fill('Deploy the standalone MCP servers, flag off, on every host.');
        await leadPage.getByRole('button', { name: 'Save stage' }).click();
        await leadPage.waitForURL(new RegExp(`/plans/${plan.id}$`));
      } finally {
        await lead.close();
      }

      // The stakeholder's page, loaded again, says the plan is back in review and why.
      await openPage(page, `/plans/${plan.id}`);
      await waitForText(page.locator('.facts .badge'), 'In review');
      const note = await page.locator('.review-note').innerText();
      assert.match(note, /Sign-off needed again/);
      assert.match(note, /lead edited stage “Stage 1: MCP refactoring behind a feature flag”/);
      await page.getByRole('button', { name: /^Sign off version/ }).waitFor();
      assert.match(await page.locator('.review-summary').innerText(), /0 of 1/);
    },
    { as: 'stakeholder' },
  ),
);
