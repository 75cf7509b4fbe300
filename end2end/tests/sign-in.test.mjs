import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ADMIN, TEST_TIMEOUT_MS, openPage, useApp } from '../support/app.mjs';

const app = useApp({ demo: true });

test(
  'an anonymous visitor sees only the sign-in page, signs in, lands where they were going, and signs out',
  { timeout: TEST_TIMEOUT_MS },
  app.test(
    async ({ page }) => {
      // Every page sends a visitor without a session to the sign-in form, and nothing else shows.
      await page.goto('/plans?q=migrate');
      await page.waitForURL(/\/login\?next=/);
      assert.equal(await page.locator('tr.plan-row').count(), 0);
      assert.ok(!(await page.content()).includes('multi-provider'), 'no plan leaks onto the sign-in page');

      await page.getByLabel('Username').fill(ADMIN.username);
      await page.getByLabel('Password').fill('not the password');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('alert').filter({ hasText: 'Wrong username or password.' }).waitFor();

      await page.getByLabel('Password').fill(ADMIN.password);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForURL(/\/plans\?q=migrate$/);
      await page.locator('tr.plan-row').first().waitFor();
      assert.match(await page.locator('.signed-in-as').innerText(), /Signed in as admin/);

      await openPage(page, '/plans');
      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.waitForURL(/\/login\?signed_out=1$/);
      await page.getByText('You are signed out.').waitFor();
      await page.goto('/plans');
      await page.waitForURL(/\/login\?next=/);
    },
    { as: null },
  ),
);
