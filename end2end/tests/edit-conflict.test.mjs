import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TEST_TIMEOUT_MS, openPage, useApp, waitForText } from '../support/app.mjs';

const app = useApp({ demo: false });

test(
  'a stale edit in a second tab shows a conflict message instead of overwriting',
  { timeout: TEST_TIMEOUT_MS },
  app.test(async ({ page, context, api }) => {
    const created = await api.post('/api/v1/plans', { title: 'Original title', summary: 'Edited in two tabs.' });
    const editUrl = `/plans/${created.id}/edit`;

    const tabA = page;
    const tabB = await context.newPage();
    await openPage(tabA, editUrl);
    await openPage(tabB, editUrl);
    for (const tab of [tabA, tabB]) {
      const title = tab.getByLabel('Title');
      await title.waitFor({ state: 'visible' });
      assert.equal(await title.inputValue(), 'Original title');
    }

    await tabA.getByLabel('Title').fill('Title from tab A');
    await tabA.getByRole('button', { name: 'Save plan' }).click();
    await tabA.waitForURL(new RegExp(`/plans/${created.id}\\?edit=1$`));
    await waitForText(tabA.locator('article.plan h1'), 'Title from tab A');

    await tabB.getByLabel('Title').fill('Title from tab B');
    await tabB.getByRole('button', { name: 'Save plan' }).click();
    const alert = tabB.locator('.error-box.conflict[role="alert"]');
    await alert.waitFor({ state: 'visible' });
    assert.match(await alert.textContent(), /changed by someone else/);

    // Tab B stays on the form with its text, ready to be copied.
    assert.equal(new URL(tabB.url()).pathname, editUrl);
    assert.equal(await tabB.getByLabel('Title').inputValue(), 'Title from tab B');
    assert.equal(await tabB.getByRole('button', { name: 'Save plan' }).isEnabled(), true);

    const plan = await api.get(`/api/v1/plans/${created.id}`);
    assert.equal(plan.title, 'Title from tab A');
    assert.equal(plan.version, created.version + 1, 'only tab A saved');
  }),
);
