import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PASSWORD, TEST_TIMEOUT_MS, openPage, useApp, waitForText } from '../support/app.mjs';

const app = useApp({ demo: true });
const QUEUE_TITLE = 'Move work orders to the new queue system';

test(
  'a stakeholder reads the demo plan waiting in review as a document, signs it off, and sees it back in review with the reason after the lead edits it',
  { timeout: TEST_TIMEOUT_MS },
  app.test(
    async ({ page, api }) => {
      // The demo people hold their roles on the demo plans; give them known passwords.
      await app.person('lead');
      const summary = (await api.get('/api/v1/plans')).items.find((p) => p.title === QUEUE_TITLE);
      assert.ok(summary, 'the demo has a second plan');
      const plan = await api.get(`/api/v1/plans/${summary.id}`);
      assert.equal(plan.status, 'in_review');

      // It is in the stakeholder's inbox.
      await openPage(page, '/inbox');
      await page.locator('li.inbox-item', { hasText: QUEUE_TITLE }).waitFor();

      // The page a stakeholder gets is a document: no form in the server's HTML, no Edit button.
      const { cookie } = await app.session('stakeholder', PASSWORD);
      const html = await (await fetch(app.url(`/plans/${plan.id}`), { headers: { cookie } })).text();
      assert.ok(html.includes('Sign off version'), 'the sign-off is there');
      const article = html.slice(html.indexOf('<article '), html.indexOf('</article>'));
      assert.ok(article.length > 1000, 'the page has the plan');
      assert.ok(!/<form[\s>]/.test(article), 'no form in the stakeholder\'s plan page');
      assert.ok(!/<input[\s>]/.test(article), 'no input in the stakeholder\'s plan page');

      // The stakeholder (this browser) sees who holds what, and signs off.
      await openPage(page, `/plans/${plan.id}`);
      assert.equal(await page.getByRole('link', { name: 'Edit', exact: true }).count(), 0);
      const roles = page.locator('section.roles');
      assert.match(await roles.innerText(), /Stakeholder\s+Sam Stakeholder\s+stakeholder@example\.com/);
      assert.match(await roles.innerText(), /Migration lead\s+Lee Lead/);
      await waitForText(page.locator('.review-summary'), 'In review: 0 of 1 stakeholders have signed off.');
      await page.getByLabel(/Comment/).fill('Rollback steps read well.');
      await page.getByRole('button', { name: `Sign off version ${plan.version}` }).click();
      await waitForText(page.locator('.facts .badge'), 'Approved');
      assert.equal((await api.get(`/api/v1/plans/${plan.id}`)).status, 'approved');

      // The lead, in another browser, edits a stage of the approved plan.
      const stage = plan.stages[1];
      const lead = await app.browser.newContext({ baseURL: app.baseUrl });
      try {
        await app.signIn(lead, 'lead');
        const leadPage = await lead.newPage();
        await openPage(leadPage, `/plans/${plan.id}/stages/${stage.id}/edit`);
        await leadPage.getByLabel('Goal').fill('Workers read from both queues; the new one takes 10% of the work orders.');
        await leadPage.getByRole('button', { name: 'Save stage' }).click();
        await leadPage.waitForURL(new RegExp(`/plans/${plan.id}\\?edit=1$`));
      } finally {
        await lead.close();
      }

      // The stakeholder's page, loaded again, says the plan is back in review and why.
      await openPage(page, `/plans/${plan.id}`);
      await waitForText(page.locator('.facts .badge'), 'In review');
      const note = await page.locator('.review-note').innerText();
      assert.match(note, /Sign-off needed again/);
      assert.ok(note.includes(`lead edited stage “${stage.name}”`), note);
      await page.getByRole('button', { name: /^Sign off version/ }).waitFor();
      assert.match(await page.locator('.review-summary').innerText(), /0 of 1/);
    },
    { as: 'stakeholder' },
  ),
);
