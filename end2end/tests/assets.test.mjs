import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TEST_TIMEOUT_MS, useApp } from '../support/app.mjs';

const app = useApp({ demo: false });

// What a first visit downloads besides the HTML, brotli-compressed: 559 KB on 2026-12-02
// (the WASM 535 KB of it). The target for a whole first visit is 270 KB; this budget keeps the
// bundle from growing back while it is cut down, and comes down with it.
const BUNDLE_BUDGET_BYTES = 600 * 1024;

test(
  'the browser bundle is served brotli-compressed under hashed names cached for good, within its byte budget',
  { timeout: TEST_TIMEOUT_MS },
  app.test(async ({ fetch }) => {
    const html = await (await fetch('/plans')).text();
    const assets = [...html.matchAll(/(?:href|src)="(\/pkg\/[^"]+)"/g)].map((m) => m[1]);
    for (const ext of ['.js', '.wasm', '.css']) {
      assert.ok(assets.some((a) => a.endsWith(ext)), `the page links a ${ext} file: ${assets}`);
    }
    let total = 0;
    for (const asset of new Set(assets)) {
      assert.match(asset, /\/pkg\/[^/.]+\.[A-Za-z0-9_-]{22}\.(js|wasm|css)$/, 'a content-hashed name');
      const res = await fetch(asset, { headers: { 'accept-encoding': 'br, gzip' } });
      assert.equal(res.status, 200, asset);
      assert.equal(res.headers.get('content-encoding'), 'br', asset);
      assert.equal(res.headers.get('cache-control'), 'public, max-age=31536000, immutable', asset);
      total += Number(res.headers.get('content-length'));
    }
    assert.ok(total <= BUNDLE_BUDGET_BYTES, `the compressed bundle is ${total} bytes, over its budget of ${BUNDLE_BUDGET_BYTES}`);

    // A client that takes no compression still gets the file.
    const wasm = assets.find((a) => a.endsWith('.wasm'));
    const plain = await fetch(wasm, { headers: { 'accept-encoding': 'identity' } });
    assert.equal(plain.status, 200);
    assert.equal(plain.headers.get('content-encoding'), null);
    assert.equal(plain.headers.get('content-type'), 'application/wasm');
  }),
);
