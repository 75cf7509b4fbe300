import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TEST_TIMEOUT_MS, openPage, useApp, waitForText } from '../support/app.mjs';

const app = useApp({ demo: true });

test(
  'submitting the new-plan form with an empty title shows "Title is required." and creates nothing',
  { timeout: TEST_TIMEOUT_MS },
  app.test(async ({ page, api }) => {
    const before = (await api.get('/api/v1/plans')).total;
    const writes = [];
    page.on('request', (r) => {
      if (r.method() !== 'GET' && r.url().includes('/api/')) writes.push(`${r.method()} ${r.url()}`);
    });

    await openPage(page, '/plans/new');
    await page.getByLabel('Summary').fill('A plan without a title');
    await page.getByRole('button', { name: 'Create plan' }).click();

    const message = page.locator('#field-title-error');
    await waitForText(message, 'Title is required.');
    const title = page.getByLabel('Title');
    assert.equal(await title.getAttribute('aria-invalid'), 'true');
    assert.match((await title.getAttribute('aria-describedby')) ?? '', /\bfield-title-error\b/);
    assert.equal(new URL(page.url()).pathname, '/plans/new');
    assert.equal(await page.getByLabel('Summary').inputValue(), 'A plan without a title', 'the rest of the form is kept');

    // Typing clears the message.
    await title.fill('Now with a title');
    await waitForText(message, '');
    assert.equal(await title.getAttribute('aria-invalid'), 'false');

    assert.deepEqual(writes, [], 'nothing was sent to the API');
    assert.equal((await api.get('/api/v1/plans')).total, before, 'no plan was created');
  }),
);
