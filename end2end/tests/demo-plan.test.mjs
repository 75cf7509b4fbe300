import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TEST_TIMEOUT_MS, openPage, stageNames, useApp, waitForHydration, waitForStageNames } from '../support/app.mjs';

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
    const rows = page.locator('tr.plan-row');
    assert.equal(await rows.count(), 1);
    await page.getByRole('link', { name: 'New plan' }).first().waitFor();
  }),
);
