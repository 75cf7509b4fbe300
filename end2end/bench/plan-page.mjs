// The pages a stakeholder opens, measured: what a first and a later visit of the demo plan
// page download (a real browser's transfer sizes), how fast the server renders that page and
// how big it is, and the server's resident memory after a spell of page load.
//
//   cargo leptos build --release --split --precompress      # the server and the bundle it measures
//   cd end2end && node bench/plan-page.mjs
//
// Environment: RUNWAY_BIN, RUNWAY_SITE_ROOT (as for the browser tests; defaults are the
// release build), RUNWAY_E2E_DATABASE (sqlite), BENCH_SECONDS (60: the load before the memory
// reading), BENCH_CONCURRENCY (8).
import { readFileSync } from 'node:fs';
import { launchBrowser, waitForHydration } from '../support/app.mjs';
import { ADMIN, PASSWORD, startServer } from '../support/server.mjs';

const SECONDS = Number(process.env.BENCH_SECONDS || 60);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY || 8);
const DEMO_TITLE = 'Migrate workspaces to multi-provider (Claude and Codex)';

const kb = (bytes) => `${(bytes / 1024).toFixed(1)} KB`;
const met = (ok) => (ok ? 'met' : 'NOT met');

async function session(baseUrl, username, password) {
  const res = await fetch(`${baseUrl}/api/v1/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  if (!res.ok) throw new Error(`signing in as ${username}: ${res.status} ${await res.text()}`);
  return { cookie: res.headers.get('set-cookie').split(';')[0], csrf: (await res.json()).csrf_token };
}

/** Bytes on the wire per response of one page load, from the browser's own accounting. */
async function visit(page, url) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  const sizes = new Map();
  const urls = new Map();
  cdp.on('Network.responseReceived', (e) => urls.set(e.requestId, e.response.url));
  cdp.on('Network.loadingFinished', (e) => sizes.set(e.requestId, e.encodedDataLength));
  await page.goto(url, { waitUntil: 'load' });
  await waitForHydration(page);
  // The live stream is the last thing the page opens (and never finishes).
  await page.waitForSelector('body[data-live="true"]', { state: 'attached' });
  await cdp.detach();
  const rows = [...sizes].map(([id, bytes]) => [new URL(urls.get(id) ?? url).pathname, bytes]);
  return { total: rows.reduce((n, [, b]) => n + b, 0), rows };
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** Requests the page from `clients` clients at once for `ms`; returns the sorted latencies. */
async function load(url, cookie, ms, clients = CONCURRENCY) {
  const latencies = [];
  const until = Date.now() + ms;
  const client = async () => {
    while (Date.now() < until) {
      const start = performance.now();
      const res = await fetch(url, { headers: { cookie, accept: 'text/html' } });
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`${url} answered ${res.status}`);
      latencies.push(performance.now() - start);
    }
  };
  await Promise.all(Array.from({ length: clients }, client));
  return latencies.sort((a, b) => a - b);
}

function rssMb(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)[1]) / 1024;
}

/**
 * SQL statements one render of the page runs, counted from sqlx's statement log on a server of
 * its own (logging every statement would slow the timed one).
 */
async function countStatements() {
  process.env.RUST_LOG = 'info,sqlx::query=debug';
  const counted = await startServer({ demo: true });
  delete process.env.RUST_LOG;
  try {
    const admin = await session(counted.baseUrl, ADMIN.username, ADMIN.password);
    const plans = await (await fetch(`${counted.baseUrl}/api/v1/plans`, { headers: { cookie: admin.cookie } })).json();
    const demo = plans.items.find((p) => p.title === DEMO_TITLE);
    const before = counted.logCount();
    await (await fetch(`${counted.baseUrl}/plans/${demo.id}`, { headers: { cookie: admin.cookie } })).text();
    return counted.logsSince(before).filter((l) => l.includes('sqlx::query')).length;
  } finally {
    await counted.stop();
  }
}

const statementCount = await countStatements();
const server = await startServer({ demo: true });
const browser = await launchBrowser();
try {
  const admin = await session(server.baseUrl, ADMIN.username, ADMIN.password);
  const res = await fetch(`${server.baseUrl}/api/v1/users/stakeholder/password`, {
    method: 'PUT',
    headers: { cookie: admin.cookie, 'x-csrf-token': admin.csrf, 'content-type': 'application/json' },
    body: JSON.stringify({ password: PASSWORD }),
  });
  if (!res.ok) throw new Error(`setting the stakeholder's password: ${res.status}`);
  const plans = await (await fetch(`${server.baseUrl}/api/v1/plans`, { headers: { cookie: admin.cookie } })).json();
  const demo = plans.items.find((p) => p.title === DEMO_TITLE);
  const url = `${server.baseUrl}/plans/${demo.id}`;
  const stakeholder = await session(server.baseUrl, 'stakeholder', PASSWORD);
  const idleMb = rssMb(server.pid);

  const [name, value] = stakeholder.cookie.split('=');
  const context = await browser.newContext();
  await context.addCookies([{ name, value, url: server.baseUrl, httpOnly: true, sameSite: 'Lax' }]);
  const page = await context.newPage();
  const first = await visit(page, url);
  const later = await visit(page, url);
  await context.close();

  const html = Buffer.byteLength(await (await fetch(url, { headers: { cookie: stakeholder.cookie } })).text());
  await load(url, stakeholder.cookie, 1_000); // warm-up, not counted
  // One client: the time a render takes. Then CONCURRENCY at once: what the 2 cores serve,
  // where a request mostly waits for the others (p50 about clients / pages per second).
  const alone = await load(url, stakeholder.cookie, 10_000, 1);
  const latencies = await load(url, stakeholder.cookie, SECONDS * 1_000);
  const busyMb = rssMb(server.pid);
  const p50 = percentile(alone, 50);

  console.log(`Demo plan page, signed in as the stakeholder (${server.database}; one client for 10 s, then ${CONCURRENCY} at once for ${SECONDS} s):`);
  console.log(`First visit on the wire:   ${kb(first.total)} (target at most 270 KB: ${met(first.total <= 270 * 1024)})`);
  for (const [path, bytes] of first.rows.sort((a, b) => b[1] - a[1])) console.log(`  ${kb(bytes).padStart(9)}  ${path}`);
  const others = later.rows.filter(([path]) => !path.startsWith('/plans/')).reduce((n, [, b]) => n + b, 0);
  console.log(`Later visit on the wire:   ${kb(later.total)} (of which not the page itself: ${kb(others)}; target: only the HTML)`);
  console.log(`Server-rendered HTML:      ${kb(html)} (target at most 40 KB: ${met(html <= 40 * 1024)})`);
  console.log(`SQL statements per render: ${statementCount} (target at most 10 for the plan itself)`);
  console.log(`Render p50 ${p50.toFixed(1)} ms, p99 ${percentile(alone, 99).toFixed(1)} ms, one client (target p50 under 5 ms: ${met(p50 < 5)})`);
  console.log(`Under load: p50 ${percentile(latencies, 50).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms, ${(latencies.length / SECONDS).toFixed(0)} pages/s (${CONCURRENCY} clients at once)`);
  console.log(`Resident memory: ${idleMb.toFixed(0)} MB idle, ${busyMb.toFixed(0)} MB after the load (target under 60 MB: ${met(busyMb < 60)})`);
} finally {
  await browser.close();
  await server.stop();
}
