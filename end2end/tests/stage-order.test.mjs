import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TEST_TIMEOUT_MS, openPage, stageNames, useApp, waitForHydration, waitForStageNames, waitForText } from '../support/app.mjs';

const app = useApp({ demo: false });

async function addStage(page, planId, name) {
  await page.getByRole('link', { name: 'Add stage' }).click();
  await page.waitForURL(new RegExp(`/plans/${planId}/stages/new$`));
  const field = page.getByLabel('Name');
  await field.waitFor({ state: 'visible' });
  await field.fill(name);
  await page.getByLabel('Goal').fill(`${name} is done`);
  await page.getByRole('button', { name: 'Add stage' }).click();
  await page.waitForURL(new RegExp(`/plans/${planId}\\?edit=1$`));
  await page.locator('h3.stage-name', { hasText: name }).waitFor({ state: 'visible' });
}

test(
  'a user creates a plan, adds two stages, reorders them, reloads and sees the new order',
  { timeout: TEST_TIMEOUT_MS },
  app.test(async ({ page, api }) => {
    await openPage(page, '/plans/new');
    await page.getByLabel('Title').fill('Reorder check');
    await page.getByLabel('Summary').fill('Two stages swapped in the browser.');
    await page.getByLabel('Owner').fill('e2e');
    await page.getByRole('button', { name: 'Create plan' }).click();
    await page.waitForURL(/\/plans\/\d+\?edit=1$/);
    const planId = Number(new URL(page.url()).pathname.split('/').pop());
    // A new plan opens in edit mode, ready for its stages.
    await waitForText(page.locator('article.plan h1'), 'Reorder check');

    await addStage(page, planId, 'Alpha');
    await addStage(page, planId, 'Beta');
    await waitForStageNames(page, ['Alpha', 'Beta']);

    const before = (await api.get(`/api/v1/plans/${planId}`)).version;
    // The first stage cannot move up, the last cannot move down.
    assert.equal(await page.getByRole('button', { name: 'Move Alpha up' }).isDisabled(), true);
    assert.equal(await page.getByRole('button', { name: 'Move Beta down' }).isDisabled(), true);

    // The page loads the plan once after its own change, not again when the change comes
    // back on the live stream; someone else's change loads it once more.
    const loads = [];
    page.on('request', (r) => {
      if (/\/_fn\/get_plan_view/.test(r.url())) loads.push(r.url());
    });
    await page.getByRole('button', { name: 'Move Beta up' }).click();
    await waitForStageNames(page, ['Beta', 'Alpha']);
    await page.waitForFunction(
      (v) => Number(document.querySelector('article.plan')?.dataset.version) > v,
      before,
    );
    const { version } = await api.get(`/api/v1/plans/${planId}`);
    const theirs = await api.post(`/api/v1/plans/${planId}/risks`, { version, risk: 'Someone else adds a risk', likelihood: 'low', impact: 'low', mitigation: '' });
    await page.locator('tr.risk-row', { hasText: 'Someone else adds a risk' }).waitFor();
    await page.waitForFunction((v) => Number(document.querySelector('article.plan')?.dataset.version) >= v, theirs.version);
    assert.equal(loads.length, 2, `plan loads: ${loads.length}`);
    const afterRisk = theirs.version;

    await page.reload({ waitUntil: 'load' });
    await waitForHydration(page);
    assert.deepEqual(await stageNames(page), ['Beta', 'Alpha']);

    const plan = await api.get(`/api/v1/plans/${planId}`);
    assert.deepEqual(plan.stages.map((s) => s.name), ['Beta', 'Alpha']);
    assert.ok(plan.version > before, `the reorder bumped the version (${before} -> ${plan.version})`);
    assert.ok(afterRisk > before);

    // And the moved stage can go back down again from the reloaded page.
    await page.getByRole('button', { name: 'Move Beta down' }).click();
    await waitForStageNames(page, ['Alpha', 'Beta']);
    assert.deepEqual((await api.get(`/api/v1/plans/${planId}`)).stages.map((s) => s.name), ['Alpha', 'Beta']);
  }),
);
