import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TEST_TIMEOUT_MS, eventually, openPage, useApp, waitForText } from '../support/app.mjs';

const app = useApp({ demo: false });

const FLAG = 'ENABLE_CODEX_PROVIDER';
const KEY = 'sk-test-0123456789abcdefghij';

/** Codex offered to every workspace: its availability flag on for 100% of production. */
async function enableCodex() {
  const providers = await app.api.get('/api/v1/providers');
  if (!providers.some((p) => p.id === 'codex')) {
    await app.api.post('/api/v1/providers', { id: 'codex', display_name: 'Codex', description: 'OpenAI Codex agents', needs_key: true, flag: FLAG });
  }
  const existing = await app.fetch(`/api/v1/flags/${FLAG}`, { headers: { accept: 'application/json' } });
  const flag = existing.ok ? await existing.json() : await app.api.post('/api/v1/flags', { key: FLAG, description: 'Codex for workspaces' });
  await app.api.send('PUT', `/api/v1/flags/${FLAG}/environments/production`, { version: flag.version, enabled: true, percentage: 100 });
}

test(
  'a member switches their workspace to Codex with an API key: the card is current, the key shows only by its end, the history has the divider',
  { timeout: TEST_TIMEOUT_MS },
  app.test(
    async ({ page }) => {
      await enableCodex();
      await app.api.post('/api/v1/workspaces', { id: 'ws-e2e-switch', name: 'Switch in the browser', members: ['maria'] });

      await openPage(page, '/workspaces/ws-e2e-switch');
      await waitForText(page.locator('.provider-card.current .provider-name'), 'Claude');
      await waitForText(page.locator('.key-state'), 'No API key');

      await page.getByRole('radio', { name: 'Codex', exact: true }).check();
      await page.getByLabel('API key for Codex', { exact: true }).fill(KEY);
      await page.getByRole('button', { name: 'Switch to Codex', exact: true }).click();

      await waitForText(page.locator('.provider-card.current .provider-name'), 'Codex');
      await waitForText(page.locator('.key-state'), 'API key: set, ends in …ghij');
      await waitForText(page.locator('ol.workspace-history li.divider .divider-text'), 'Switched to Codex');
      assert.equal(await page.getByRole('radio', { name: 'Codex', exact: true }).isChecked(), true);
      assert.ok(!(await page.content()).includes(KEY), 'the key is nowhere in the page');

      // The server-rendered page of a fresh load says the same, still without the key.
      const res = await openPage(page, '/workspaces/ws-e2e-switch');
      const html = await res.text();
      assert.ok(!html.includes(KEY), 'the key is nowhere in the server-rendered HTML');
      assert.match(html, /ends in …ghij/);
      assert.match(await page.locator('li.divider').innerText(), /Switched to Codex\s*from Claude, by maria on/);

      const agent = await app.api.get('/api/v1/workspaces/ws-e2e-switch/agent-provider');
      assert.equal(agent.provider, 'codex');
      assert.equal(agent.key_configured, true);
    },
    { as: 'maria' },
  ),
);

test(
  'an admin imports a CSV file: the progress bar fills, the summary counts 3 created and the bad line is listed by number',
  { timeout: TEST_TIMEOUT_MS },
  app.test(async ({ page }) => {
    const csv = [
      'id,name,agent_provider',
      'imp-1,Imported one,claude',
      'imp-2,Imported two,no-such-provider',
      'imp-3,Imported three,claude',
      'imp-4,Imported four,claude',
    ].join('\n');
    await openPage(page, '/workspaces');
    await page.getByLabel('CSV file', { exact: true }).setInputFiles({ name: 'workspaces.csv', mimeType: 'text/csv', buffer: Buffer.from(`${csv}\n`) });
    await page.getByRole('button', { name: 'Import', exact: true }).click();

    const progress = page.getByRole('progressbar', { name: 'Import progress' });
    await eventually(async () => {
      assert.equal(await progress.getAttribute('max'), '4');
      assert.equal(await progress.getAttribute('value'), '4');
    });
    await waitForText(page.locator('.import-lines'), '4 of 4 lines');
    await waitForText(page.locator('.import-status'), 'Import finished.');
    const summary = page.getByRole('list', { name: 'Import summary' });
    assert.deepEqual(
      (await summary.getByRole('listitem').allTextContents()).map((s) => s.trim()),
      ['3 created', '0 updated', '0 unchanged', '1 rejected'],
    );
    const rejected = page.locator('tr.rejected-line');
    assert.equal(await rejected.count(), 1);
    await waitForText(rejected.locator('td').first(), '3');

    // The list loads again with the new workspaces (and not the refused one).
    const shown = () => page.locator('tr.workspace-row').evaluateAll((rows) => rows.map((r) => r.dataset.workspaceId));
    await eventually(async () => assert.deepEqual((await shown()).filter((id) => id.startsWith('imp-')), ['imp-1', 'imp-3', 'imp-4']));
  }),
);
