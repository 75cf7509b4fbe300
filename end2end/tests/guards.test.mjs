import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TEST_TIMEOUT_MS, WAIT_MS, eventually, openPage, useApp, waitForText } from '../support/app.mjs';

const app = useApp({ demo: false });

const stageItem = (page, name) => page.locator('li.stage', { has: page.locator('h3.stage-name', { hasText: name }) });

/** A draft plan with lead, on-call, authority and stakeholder. */
async function draftPlan() {
  // The lead is the browser's own person, added by app.test.
  for (const who of ['oncall', 'authority', 'stakeholder']) await app.person(who);
  let plan = await app.api.post('/api/v1/plans', { title: 'Queue migration with guards', stages: [{ name: 'Shadow writes' }, { name: 'Cut over' }] });
  for (const [username, role] of [['lead', 'migration_lead'], ['oncall', 'on_call'], ['authority', 'rollback_authority'], ['stakeholder', 'stakeholder']]) {
    plan = await app.api.post(`/api/v1/plans/${plan.id}/roles`, { username, role });
  }
  return plan;
}

/** Sends the plan for review, signs it off, and starts its first stage (guards watch it from then). */
async function start(id) {
  let plan = await app.api.get(`/api/v1/plans/${id}`);
  plan = await app.api.post(`/api/v1/plans/${plan.id}/review`, { version: plan.version });
  plan = await (await app.as('stakeholder'))('POST', `/api/v1/plans/${plan.id}/signoffs`, { version: plan.version, decision: 'approved' });
  plan = await (await app.as('lead'))('POST', `/api/v1/plans/${plan.id}/stages/${plan.stages[0].id}/gate`, { version: plan.version });
  plan = await (await app.as('authority'))('POST', `/api/v1/plans/${plan.id}/gates/${plan.stages[0].gates[0].id}/votes`, { vote: 'go' });
  assert.equal(plan.stages[0].status, 'active');
  return plan;
}

/** A service sending metrics with its own metrics:write token. */
async function metricsService() {
  const { secret } = await app.api.post('/api/v1/tokens', { name: 'checkout-metrics', scopes: ['metrics:write'] });
  return async (points) => {
    const res = await fetch(app.url('/api/v1/metrics'), {
      method: 'POST',
      headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
      body: JSON.stringify(points),
      signal: AbortSignal.timeout(WAIT_MS),
    });
    assert.equal(res.status, 200, await res.clone().text());
    return res.json();
  };
}

const errorRates = (...values) => values.map((value) => ({ metric: 'error_rate', value, labels: { host: 'web-1' } }));

test(
  'a lead adds a guard, a breaching batch turns it red live, and its chart shows the threshold and the breach, readable by pointer and keyboard',
  { timeout: TEST_TIMEOUT_MS },
  app.test(
    async ({ page }) => {
      const plan = await draftPlan();
      await openPage(page, `/plans/${plan.id}?edit=1`);
      await page.waitForSelector('body[data-live="true"]', { state: 'attached' });
      const stage = stageItem(page, 'Shadow writes');
      const guards = stage.getByRole('region', { name: 'Guards of Shadow writes' });

      await guards.locator('details.add-guard summary').click();
      await guards.getByLabel('Metric', { exact: true }).fill('error_rate');
      await guards.getByLabel('Comparison', { exact: true }).selectOption('>');
      await guards.getByLabel('Threshold', { exact: true }).fill('5');
      await guards.getByLabel('Evaluation window (seconds)', { exact: true }).fill('60');
      await guards.getByLabel('Minimum samples', { exact: true }).fill('3');
      await guards.getByLabel('Action', { exact: true }).selectOption('pause');
      await guards.getByRole('button', { name: 'Add guard', exact: true }).click();

      const guard = guards.locator('article.guard');
      await waitForText(guard.locator('.guard-condition'), 'error_rate > 5');
      await waitForText(guard.locator('.badge'), 'Not watching (stage pending)');
      await waitForText(guard.locator('.guard-settings'), 'Mean over 60 s, at least 3 samples · Action: Pause the plan');
      await waitForText(guard.locator('p.empty'), 'No samples of error_rate yet. Services send them to POST /api/v1/metrics.');

      // Signed off with its guard and started; a started stage's guards are fixed, so its form goes.
      await start(plan.id);
      await waitForText(stage.locator('.stage-head .badge'), 'Active');
      await guards.locator('details.add-guard').waitFor({ state: 'detached' });
      await waitForText(guard.locator('.badge'), 'Watching');

      // A healthy batch, then one that lifts the mean to 6.75: the page turns red without a reload.
      const send = await metricsService();
      await send(errorRates(1, 2, 1.5));
      const report = await send(errorRates(12, 12, 12));
      assert.equal(report.breaches.length, 1, JSON.stringify(report));
      await waitForText(guard.locator('.badge'), 'Breached');
      assert.match(await guard.getAttribute('class'), /\bbreached\b/);
      const breach = guard.getByRole('alert').filter({ has: page.locator('.breach-what') });
      await eventually(async () => assert.match(await breach.locator('.breach-what').innerText(), /^Breached at .*: mean 6\.75 over 6 samples above 5\.$/));
      await waitForText(breach.locator('.breach-outcome'), 'The plan is paused: the next gate cannot open until this breach is resolved.');
      const red = await breach.evaluate((el) => getComputedStyle(el).borderLeftColor || getComputedStyle(el).borderColor);
      const [r, g, b] = red.match(/\d+/g).map(Number);
      assert.ok(r > 150 && g < 100 && b < 100, `the breach is shown in red, not ${red}`);

      // The chart: one breach point, the threshold line, and every bucket's point with its value.
      const chart = guard.locator('svg.guard-chart');
      assert.match(await chart.getAttribute('aria-label'), /^error_rate from .* UTC; threshold 5; 1 breach; latest/);
      assert.equal(await chart.locator('circle.breach-point').count(), 1);
      assert.match(await chart.locator('circle.breach-point title').textContent(), /^Breach at \d\d:\d\d:\d\d: 6\.75$/);
      assert.equal(await chart.locator('line.threshold-line').count(), 1);
      const points = chart.locator('circle.point');
      assert.ok((await points.count()) >= 1);
      const values = await points.evaluateAll((cs) => cs.map((c) => Number(c.dataset.value)));
      assert.ok(values.some((v) => v > 5), `a bucket above the threshold: ${values}`);

      // Readable without JavaScript: the server's HTML already holds the chart.
      const html = await (await app.fetch(`/plans/${plan.id}`)).text();
      assert.match(html, /<svg[^>]*class="guard-chart"/);
      assert.match(html, /class="breach-point"/);

      // With it: the pointer and the keyboard read values out.
      const readout = guard.locator('.chart-readout');
      await waitForText(readout, 'Hover over or focus the chart and use the arrow keys to read values.');
      const box = await chart.boundingBox();
      await chart.hover({ position: { x: box.width - 20, y: box.height / 2 } });
      await eventually(async () => assert.match(await readout.innerText(), /^\d\d:\d\d:\d\d UTC — [\d.]+ \(\d+ samples?\)$/));
      await chart.focus();
      await page.keyboard.press('Home');
      const first = await points.first().locator('title').textContent();
      await waitForText(readout, first);
      await page.keyboard.press('End');
      const last = await points.last().locator('title').textContent();
      await waitForText(readout, last);

      // On-call resolves it; the guard watches again.
      const oncall = await app.browser.newContext({ baseURL: app.baseUrl });
      oncall.setDefaultTimeout(WAIT_MS);
      await app.signIn(oncall, 'oncall');
      try {
        const other = await oncall.newPage();
        await openPage(other, `/plans/${plan.id}`);
        const theirs = stageItem(other, 'Shadow writes').locator('article.guard');
        await theirs.getByLabel('What was done about it', { exact: true }).fill('Rolled the bad node out of the pool');
        await theirs.getByRole('button', { name: 'Resolve breach', exact: true }).click();
        await waitForText(theirs.locator('.badge'), 'Watching');
      } finally {
        await oncall.close();
      }
      await waitForText(guard.locator('.badge'), 'Watching');
      await eventually(async () => assert.match(await guard.locator('li.resolved-breach').innerText(), /mean 6\.75 — resolved by oncall at .*: “Rolled the bad node out of the pool”$/));

      // The next stage's form lets guards roll it back on their own; changed after sign-off,
      // it waits for the stakeholder, and the page says so.
      const next = stageItem(page, 'Cut over');
      await waitForText(next.locator('.auto-rollback-state'), 'Automatic rollback: off — a breaching roll-back guard asks the rollback authorities.');
      await openPage(page, `/plans/${plan.id}/stages/${plan.stages[1].id}/edit`);
      await page.getByLabel('Guards may roll this stage back without waiting for a rollback authority', { exact: true }).check();
      await page.getByRole('button', { name: 'Save stage', exact: true }).click();
      await page.waitForURL(new RegExp(`/plans/${plan.id}\\?edit=1$`));
      await waitForText(
        stageItem(page, 'Cut over').locator('.auto-rollback-state'),
        'Automatic rollback: on — a breaching roll-back guard rolls this stage back without waiting for approval.',
      );
      const waiting = stageItem(page, 'Cut over').getByRole('status').filter({ hasText: 'Changed after sign-off' });
      await eventually(async () => assert.match(await waiting.innerText(), /lead edited stage “Cut over” on .*Waiting for sign-off from stakeholder\./s));
    },
    { as: 'lead' },
  ),
);
