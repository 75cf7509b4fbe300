import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TEST_TIMEOUT_MS, openPage, useApp } from '../support/app.mjs';

const app = useApp({ demo: false });

test(
  'markdown is sanitised: scripts and event handlers in a description never run',
  { timeout: TEST_TIMEOUT_MS },
  app.test(async ({ page, fetch }) => {
    const res = await fetch('/api/v1/plans', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        title: 'XSS check',
        description: '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">',
      }),
    });
    assert.equal(res.status, 201, await res.clone().text());
    const plan = await res.json();

    const html = await (await fetch(`/plans/${plan.id}`)).text();
    // The description as the server renders it (the page's hydration data carries the
    // raw text too, but JSON-escaped inside a script, where it is inert).
    const start = html.indexOf('id="description-heading"');
    assert.ok(start > 0, 'the server HTML has the description section');
    const description = html.slice(start, html.indexOf('</section>', start));
    assert.ok(description.includes('class="markdown"'), description);
    assert.ok(!/<script/i.test(description), `no <script> in the rendered description: ${description}`);
    assert.ok(!/onerror/i.test(description), `no onerror in the rendered description: ${description}`);
    assert.ok(!description.includes('__pwned'), `no trace of the payload in the rendered description: ${description}`);

    await openPage(page, `/plans/${plan.id}`);
    const markdown = page.locator('article.plan .markdown');
    await markdown.first().waitFor({ state: 'attached' });
    // If an <img> survived, wait until the browser has given up loading it, so a
    // surviving onerror would have run by now.
    await page.waitForFunction(() => [...document.querySelectorAll('.markdown img')].every((img) => img.complete));

    assert.equal(await page.evaluate(() => typeof window.__pwned), 'undefined');
    assert.equal(await page.locator('.markdown script').count(), 0);
    assert.equal(await page.locator('.markdown [onerror]').count(), 0);
  }),
);
