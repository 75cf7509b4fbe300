import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TEST_TIMEOUT_MS, eventually, openPage, useApp } from '../support/app.mjs';

const app = useApp({ demo: false });

test(
  "a plan's history lists its changes newest first, filters by action, and exports the same entries",
  { timeout: TEST_TIMEOUT_MS },
  app.test(async ({ page, fetch }) => {
    const plan = await app.api.post('/api/v1/plans', { title: 'Audited plan', stages: [{ name: 'Only stage' }] });
    await openPage(page, `/plans/${plan.id}/edit`);
    await page.getByLabel('Title').fill('Audited plan, renamed');
    await page.getByRole('button', { name: 'Save plan' }).click();
    await page.waitForURL(new RegExp(`/plans/${plan.id}\\?edit=1$`));

    // From the plan page, "History" opens the audit log filtered to this plan.
    await page.getByRole('link', { name: 'History' }).click();
    await page.waitForURL(`**/audit?plan_id=${plan.id}`);
    const actions = () => page.locator('tr.audit-row').evaluateAll((rows) => rows.map((r) => r.dataset.action));
    await eventually(async () => assert.deepEqual(await actions(), ['plan.update', 'plan.create']));

    // The update shows what changed.
    const row = page.locator('tr.audit-row').first();
    await row.getByText('Before and after').click();
    await eventually(async () => assert.match(await row.innerText(), /"title": "Audited plan, renamed"/));

    // Filtering by action is a plain GET form: it also works before the WASM loads.
    await page.getByLabel('Action').selectOption('plan.create');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL(/action=plan\.create/);
    await eventually(async () => assert.deepEqual(await actions(), ['plan.create']));

    // The export link carries the same filters.
    const href = await page.getByRole('link', { name: 'Export CSV' }).getAttribute('href');
    const csv = await (await fetch(href)).text();
    const rows = csv.trim().split(/\r?\n/);
    assert.equal(rows.length, 2, csv);
    assert.match(rows[1], /,plan\.create,/);
  }),
);
