import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TEST_TIMEOUT_MS, eventually, openPage, useApp, waitForText } from '../support/app.mjs';

const app = useApp({ demo: false });

test(
  'an admin rolls a flag out to 25% with the slider, tests a key, and the kill switch turns it off everywhere',
  { timeout: TEST_TIMEOUT_MS },
  app.test(async ({ page, api }) => {
    await openPage(page, '/flags');
    await page.getByLabel('Key').fill('USE_STANDALONE_MCP');
    await page.getByLabel('Description').fill('Run MCP servers out of process');
    await page.getByRole('button', { name: 'Create flag' }).click();
    await page.waitForURL(/\/flags\/USE_STANDALONE_MCP$/);
    await page.locator('body[data-hydrated="true"]').waitFor({ state: 'attached' });

    const production = page.locator('section.env-production');
    await production.getByLabel('On', { exact: true }).check();
    await production.locator('input[type="range"]').fill('25');
    await waitForText(production.locator('label', { hasText: 'Rollout' }), 'Rollout: 25% of targeting keys');
    await production.getByRole('button', { name: 'Save production' }).click();
    await waitForText(page.locator('section.env-production .env-state'), 'On, 25%');
    const flag = await api.get('/api/v1/flags/USE_STANDALONE_MCP');
    assert.deepEqual(
      flag.environments.map((e) => [e.environment, e.enabled, e.percentage]),
      [['production', true, 25], ['staging', false, 100]],
    );

    // The browser evaluates with the server's rules: ws-1 lands in bucket 99 of this flag.
    await page.getByLabel('Targeting key', { exact: true }).fill('ws-1');
    await page.getByLabel('Environment', { exact: true }).selectOption('production');
    await eventually(async () => assert.match(await page.locator('.test-result').innerText(), /^false .*Split, bucket 99\)$/));

    // The history and the chart show the change.
    await page.locator('tr.flag-change', { hasText: 'flag.set' }).waitFor();
    assert.match(await page.locator('tr.flag-change').first().innerText(), /production\s+Off\s+On, 25%/);
    assert.match(await page.locator('svg.rollout-chart').getAttribute('aria-label'), /production/);

    page.once('dialog', (d) => d.accept());
    await page.getByRole('button', { name: /Kill switch/ }).click();
    await page.locator('.killed[role="status"]').waitFor();
    await waitForText(page.locator('section.env-production .env-state'), 'Off');
    const killed = await api.get('/api/v1/flags/USE_STANDALONE_MCP');
    assert.ok(killed.killed_at, 'the flag is marked killed');
    assert.ok(killed.environments.every((e) => !e.enabled), 'off in every environment');
  }),
);

test(
  'an admin targets a flag at EU enterprise workspaces with a rule, sees the rules in the order they are tried, and tests a context against them',
  { timeout: TEST_TIMEOUT_MS },
  app.test(async ({ page, api }) => {
    await api.post('/api/v1/flags', { key: 'ENABLE_CODEX_PROVIDER' });
    await api.post('/api/v1/segments', {
      name: 'internal',
      conditions: [{ contextName: 'email', operator: 'STR_ENDS_WITH', values: ['@acme.io'] }],
    });
    await openPage(page, '/flags/ENABLE_CODEX_PROVIDER');
    const production = page.locator('section.env-production');
    await production.getByLabel('On', { exact: true }).check();
    await production.locator('input[type="range"]').fill('0');
    const rules = production.getByLabel(/Targeting rules/);
    // A mistake first: the server names its place, and nothing is saved.
    await rules.fill(JSON.stringify([{ conditions: [{ contextName: 'region', operator: 'EQUALS', values: ['eu'] }], serve: 'on' }]));
    await production.getByRole('button', { name: 'Save production' }).click();
    await eventually(async () => assert.match(await page.locator('.error-box[role="alert"]').innerText(), /Unknown operator "EQUALS"/));
    assert.deepEqual((await api.get('/api/v1/flags/ENABLE_CODEX_PROVIDER')).environments[0].rules, []);

    await rules.fill(JSON.stringify([
      { name: 'staff', segments: ['internal'], serve: 'on' },
      {
        name: 'EU enterprise',
        conditions: [
          { contextName: 'region', operator: 'IN', values: ['eu'] },
          { contextName: 'plan', operator: 'IN', values: ['enterprise'] },
        ],
        serve: 'on',
      },
    ]));
    await production.getByRole('button', { name: 'Save production' }).click();
    await waitForText(production.locator('.env-state'), 'On, 0%, 2 rules');
    const listed = await production.locator('ol.rules > li').allInnerTexts();
    assert.deepEqual(listed, [
      'staff: if in segment internal, serve on',
      'EU enterprise: if region is one of "eu" and plan is one of "enterprise", serve on',
    ]);

    // The page evaluates a context as services are answered, segment included.
    await page.getByLabel('Targeting key', { exact: true }).fill('ws-1');
    await page.getByLabel('Environment', { exact: true }).selectOption('production');
    const context = page.getByLabel('Other attributes of the context (JSON)');
    await context.fill('{"region": "eu", "plan": "enterprise"}');
    await eventually(async () => assert.match(await page.locator('.test-result').innerText(), /^true .*TargetingMatch, by rule 2: EU enterprise/));
    await context.fill('{"email": "ann@acme.io"}');
    await eventually(async () => assert.match(await page.locator('.test-result').innerText(), /^true .*by rule 1: staff/));
    await context.fill('{"region": "us", "plan": "enterprise"}');
    await eventually(async () => assert.match(await page.locator('.test-result').innerText(), /^false .*Static/));
    await context.fill('["not", "an object"]');
    await eventually(async () => assert.match(await page.locator('.test-result').innerText(), /is a JSON object of attributes/));
  }),
);
