import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TEST_TIMEOUT_MS, eventually, openPage, useApp } from '../support/app.mjs';

const app = useApp({ demo: false });

test(
  'an admin adds a person, creates an API token that is shown once and works, and revokes it',
  { timeout: TEST_TIMEOUT_MS },
  app.test(async ({ page }) => {
    await openPage(page, '/people');
    await page.getByLabel('Username').fill('dana');
    await page.getByLabel('Display name').fill('Dana Ops');
    await page.getByLabel('Contact').fill('dana@example.com');
    await page.getByLabel('Password').fill('dana long password');
    await page.getByRole('button', { name: 'Add person' }).click();
    await page.locator('tr.person-row', { hasText: 'Dana Ops' }).waitFor();

    await openPage(page, '/tokens');
    await page.getByLabel('Name', { exact: true }).fill('deploy-bot');
    await page.getByLabel('plans:read').check();
    await page.getByRole('button', { name: 'Create token' }).click();
    const secret = (await page.locator('code.secret').innerText()).trim();
    assert.match(secret, /^rwy_[0-9a-f]{64}$/);

    // The token works, and the list shows its last use but never the secret again.
    const read = await fetch(app.url('/api/v1/plans'), { headers: { authorization: `Bearer ${secret}` } });
    assert.equal(read.status, 200);
    await openPage(page, '/tokens');
    const row = page.locator('tr.token-row', { hasText: 'deploy-bot' });
    assert.ok(!(await page.content()).includes(secret), 'the secret is not shown again');
    assert.doesNotMatch(await row.innerText(), /never/);

    page.once('dialog', (d) => d.accept());
    await row.getByRole('button', { name: 'Revoke token deploy-bot' }).click();
    await eventually(async () => assert.match(await row.innerText(), /revoked/));
    const after = await fetch(app.url('/api/v1/plans'), { headers: { authorization: `Bearer ${secret}` } });
    assert.equal(after.status, 401);
  }),
);

test(
  'a member sees neither the admin pages nor their links',
  { timeout: TEST_TIMEOUT_MS },
  app.test(
    async ({ page }) => {
      await openPage(page, '/plans');
      assert.equal(await page.getByRole('link', { name: 'API tokens' }).count(), 0);
      const res = await page.goto('/tokens');
      assert.equal(res.status(), 403);
      await page.getByText('Only admins may do this.').waitFor();
    },
    { as: 'member' },
  ),
);
