import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TEST_TIMEOUT_MS, eventually, openPage, stageNames, useApp, waitForHydration, waitForStageNames, waitForText } from '../support/app.mjs';

const app = useApp({ demo: true });
const DEMO_TITLE = 'Migrate workspaces to multi-provider (Claude and Codex)';

function escapeHtml(s) {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

test(
  'the demo plan shows its six stages in order, already in the server-rendered HTML',
  { timeout: TEST_TIMEOUT_MS },
  app.test(async ({ page, api, fetch }) => {
    await openPage(page, '/plans');
    const link = page.locator('tr.plan-row a.plan-title', { hasText: DEMO_TITLE });
    await link.waitFor({ state: 'visible' });
    assert.equal((await link.textContent()).trim(), DEMO_TITLE);

    await link.click();
    await page.waitForURL(/\/plans\/\d+$/);
    await page.locator('article.plan h1', { hasText: DEMO_TITLE }).waitFor({ state: 'visible' });
    await page.waitForFunction(() => document.querySelectorAll('ol.timeline > li.stage h3.stage-name').length === 6);

    const names = await stageNames(page);
    assert.equal(names.length, 6, `six stages, got ${JSON.stringify(names)}`);
    names.forEach((name, i) => assert.ok(name.startsWith(`Stage ${i}:`), `stage ${i + 1} is "${name}"`));

    // The API agrees on the order.
    const id = Number(new URL(page.url()).pathname.split('/').pop());
    const plan = await api.get(`/api/v1/plans/${id}`);
    assert.deepEqual(plan.stages.map((s) => s.name), names);

    // A full load of the same address lands on the same order once hydrated.
    await openPage(page, `/plans/${id}`);
    await waitForStageNames(page, names);

    // Server-rendered: the HTML alone (no JavaScript) has the stages and the SQL.
    const res = await fetch(`/plans/${id}`, { headers: { accept: 'text/html' } });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/html/);
    const html = await res.text();
    for (const name of names) {
      assert.ok(html.includes(escapeHtml(name)), `the server HTML contains "${name}"`);
    }
    let last = -1;
    for (const name of names) {
      const at = html.indexOf(`>${escapeHtml(name)}<`);
      assert.ok(at > last, `"${name}" comes after the stage before it in the server HTML`);
      last = at;
    }
    assert.ok(html.includes('<code class="language-sql">'), 'the server HTML contains a SQL code block');
  }),
);

test(
  'the plan list is server-rendered and links to the demo plan',
  { timeout: TEST_TIMEOUT_MS },
  app.test(async ({ page, fetch }) => {
    const res = await fetch('/plans');
    assert.equal(res.status, 200);
    const html = await res.text();
    assert.ok(html.includes(escapeHtml(DEMO_TITLE)), 'the list HTML names the demo plan');
    assert.match(html, /class="plan-row"/);

    await openPage(page, '/plans');
    await waitForHydration(page);
    // The provider migration under way, its rehearsal, and the queue migration in review.
    const titles = await page.locator('tr.plan-row a.plan-title').allInnerTexts();
    assert.deepEqual(
      [...titles].sort(),
      [DEMO_TITLE, 'Move work orders to the new queue system', 'Rehearsal: standalone MCP servers on staging'].sort(),
    );
    await page.getByRole('link', { name: 'New plan' }).first().waitFor();
  }),
);

const stageItem = (page, i) => page.locator('ol.timeline > li.stage').nth(i);

test(
  'the lead reads the running demo plan as a document, then opens the edit mode, which offers forms only for the stages not yet started',
  { timeout: TEST_TIMEOUT_MS },
  app.test(
    async ({ page, api }) => {
      const summary = (await api.get('/api/v1/plans')).items.find((p) => p.title === DEMO_TITLE);
      await openPage(page, `/plans/${summary.id}`);
      await waitForHydration(page);

      // Read mode: what was decided and what runs now, and not one form.
      await waitForText(page.locator('.facts .badge').first(), 'Executing');
      for (const [i, status] of [[0, 'Passed'], [1, 'Passed'], [2, 'Active'], [3, 'Pending']]) {
        await waitForText(stageItem(page, i).locator('.stage-head .badge'), status);
      }
      assert.match(await stageItem(page, 0).locator('li.check').first().innerText(), /Pass by oncall/);
      assert.match(await stageItem(page, 1).innerText(), /Fail by oncall/);
      assert.match(await stageItem(page, 1).locator('.gate-history').innerText(), /Go on .*“Latency blip explained/s);
      await eventually(async () => assert.match(await stageItem(page, 2).locator('.soak').innerText(), /Soaking: /));
      await stageItem(page, 2).locator('svg.guard-chart').waitFor();
      assert.equal(await page.locator('article.plan form').count(), 0, 'no form in read mode');
      // The Markdown the server rendered (left out of the hydration data) is on the page.
      const markdown = () => page.locator('article.plan .markdown').evaluateAll((els) => els.map((e) => e.textContent.trim()));
      const rendered = await markdown();
      assert.ok(rendered.length >= 4 && rendered.every((text) => text.length > 40), rendered.join('\n'));
      const stillShown = async (why) => {
        const now = await markdown();
        for (const text of rendered) assert.ok(now.includes(text), `${why}: ${text.slice(0, 60)}`);
      };

      // Edit mode, when asked for: forms on the stages not yet started, none on those that ran.
      await page.getByRole('link', { name: 'Edit', exact: true }).click();
      await page.waitForURL(/\?edit=1$/);
      await stageItem(page, 3).getByLabel('New check').waitFor();
      assert.equal(await stageItem(page, 0).locator('form').count(), 0, 'a passed stage is frozen');
      assert.equal(await stageItem(page, 2).locator('form').count(), 0, 'the active stage is frozen');
      await stillShown('the page drawn anew in edit mode shows the same Markdown');
      await page.getByRole('link', { name: 'Done editing' }).click();
      await page.waitForURL(new RegExp(`/plans/${summary.id}$`));
      await stageItem(page, 3).getByLabel('New check').waitFor({ state: 'detached' });
      await stillShown('and so does read mode again');
    },
    { as: 'lead' },
  ),
);
