// What every test file needs: one server on a fresh database and one Chromium,
// started in before() and stopped in after(), and a wrapper that gives each test a
// fresh browser context and, when it fails, reports the server's last log lines,
// the page's console errors, and a screenshot in test-results/.
import { after, before } from 'node:test';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { ADMIN, E2E_DIR, PASSWORD, startServer } from './server.mjs';

export { ADMIN, PASSWORD };

/** Upper bound for any single wait on the page (selector, navigation, condition). */
export const WAIT_MS = 15_000;
/** Upper bound for one whole test. */
export const TEST_TIMEOUT_MS = 90_000;
/** Upper bound for starting (or stopping) the server and the browser. */
export const HOOK_TIMEOUT_MS = 60_000;

const CHROMIUM = process.env.RUNWAY_CHROMIUM || '/usr/bin/chromium';

export function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    timeout: HOOK_TIMEOUT_MS,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
      '--disable-sync',
      '--disable-quic',
    ],
  });
}

/** Waits until the WASM has hydrated the server-rendered page (clicks before that are lost). */
export async function waitForHydration(page) {
  await page.waitForSelector('body[data-hydrated="true"]', { state: 'attached', timeout: WAIT_MS });
}

/** A full page load of `url` (absolute path), then hydration. */
export async function openPage(page, url) {
  const res = await page.goto(url, { waitUntil: 'load', timeout: WAIT_MS });
  await waitForHydration(page);
  return res;
}

/** The stage names of the plan page, in the order shown. */
export function stageNames(page) {
  return page.locator('ol.timeline > li.stage h3.stage-name').allTextContents().then((a) => a.map((s) => s.trim()));
}

/** Waits until the plan page shows exactly these stage names, in this order. */
export async function waitForStageNames(page, names) {
  try {
    await page.waitForFunction(
      (expected) => {
        const shown = [...document.querySelectorAll('ol.timeline > li.stage h3.stage-name')].map((h) => h.textContent.trim());
        return JSON.stringify(shown) === JSON.stringify(expected);
      },
      names,
      { timeout: WAIT_MS, polling: 100 },
    );
  } catch (e) {
    const shown = await stageNames(page).catch(() => '(page gone)');
    throw new Error(`expected the stages ${JSON.stringify(names)}, the page shows ${JSON.stringify(shown)}: ${e.message}`);
  }
}

/**
 * Retries `check` (an async function that throws while the condition is not met)
 * every 100 ms until it passes or WAIT_MS is over; then rethrows its last error.
 */
export async function eventually(check, { timeout = WAIT_MS, interval = 100 } = {}) {
  const deadline = Date.now() + timeout;
  for (;;) {
    try {
      return await check();
    } catch (e) {
      if (Date.now() >= deadline) {
        e.message = `still failing after ${timeout} ms: ${e.message}`;
        throw e;
      }
    }
    await new Promise((r) => setTimeout(r, interval));
  }
}

/** Waits until the first element of `locator` shows exactly `text` (trimmed). */
export async function waitForText(locator, text) {
  await eventually(async () => {
    const shown = (await locator.first().textContent({ timeout: 1_000 }))?.trim();
    if (shown !== text) throw new Error(`expected ${locator} to show ${JSON.stringify(text)}, it shows ${JSON.stringify(shown)}`);
  });
}

function slug(name) {
  return name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 80);
}

/**
 * Registers before()/after() for this file and returns the app handle:
 *   app.baseUrl, app.database, app.api.get/post(path[, body]), app.test(fn)
 * `app.test(fn)` wraps a test body: fn({ page, context, api, url }).
 */
export function useApp({ demo = true } = {}) {
  // The admin's API session: cookie and CSRF token, signed in on first use.
  let adminSession = null;
  const app = {
    server: null,
    browser: null,
    get baseUrl() {
      return app.server.baseUrl;
    },
    get database() {
      return app.server.database;
    },
    url: (p) => new URL(p, app.server.baseUrl).href,

    /** Signs in over the API; returns { cookie, csrf } or throws. */
    async session(username, password = PASSWORD) {
      const res = await fetch(app.url('/api/v1/session'), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username, password }),
        signal: AbortSignal.timeout(WAIT_MS),
      });
      if (!res.ok) throw new Error(`signing in as ${username} answered ${res.status}: ${await res.text()}`);
      const cookie = res.headers.get('set-cookie').split(';')[0];
      return { cookie, csrf: (await res.json()).csrf_token };
    },

    /** fetch() as the admin: session cookie, and the CSRF token on changes. */
    async fetch(p, init = {}) {
      adminSession ??= await app.session(ADMIN.username, ADMIN.password);
      const headers = { ...(init.headers ?? {}), cookie: adminSession.cookie };
      if (init.method && init.method !== 'GET') headers['x-csrf-token'] = adminSession.csrf;
      return fetch(app.url(p), { ...init, headers, signal: AbortSignal.timeout(WAIT_MS) });
    },

    /** Adds a person (or, for an existing one such as a demo person, sets their password to PASSWORD). */
    async person(username, { admin = false } = {}) {
      const res = await app.fetch('/api/v1/users', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username, password: PASSWORD, admin, contact: `${username}@example.com` }),
      });
      if (res.status === 409) {
        await app.api.send('PUT', `/api/v1/users/${username}/password`, { password: PASSWORD });
      } else if (!res.ok) {
        throw new Error(`adding ${username} answered ${res.status}: ${await res.text()}`);
      }
    },

    /** JSON API calls as `username` (signed in over the API): `(method, path, body) => answer`. */
    async as(username, password = PASSWORD) {
      const { cookie, csrf } = await app.session(username, password);
      return async (method, path, body) => {
        const res = await fetch(app.url(path), {
          method,
          headers: { cookie, 'x-csrf-token': csrf, 'content-type': 'application/json' },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(WAIT_MS),
        });
        if (!res.ok) throw new Error(`${method} ${path} as ${username} answered ${res.status}: ${await res.text()}`);
        return res.json();
      };
    },

    /** Signs a browser context in as `username` (its cookie, as after the sign-in form). */
    async signIn(context, username, password = PASSWORD) {
      const { cookie } = await app.session(username, password);
      const [name, value] = cookie.split('=');
      await context.addCookies([{ name, value, url: app.baseUrl, httpOnly: true, sameSite: 'Lax' }]);
    },

    api: {
      async send(method, p, body) {
        const res = await app.fetch(p, {
          method,
          headers: { 'content-type': 'application/json', accept: 'application/json' },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
        if (!res.ok) throw new Error(`${method} ${p} answered ${res.status}: ${await res.text()}`);
        return res.status === 204 ? null : res.json();
      },
      get: (p) => app.api.send('GET', p),
      post: (p, body) => app.api.send('POST', p, body),
    },
  };

  before(
    async () => {
      app.server = await startServer({ demo });
      app.browser = await launchBrowser();
    },
    { timeout: HOOK_TIMEOUT_MS },
  );

  after(
    async () => {
      await app.browser?.close().catch(() => {});
      await app.server?.stop();
    },
    { timeout: HOOK_TIMEOUT_MS },
  );

  /** `as`: who the browser is signed in as (`null`: nobody). */
  app.test = (fn, { as = ADMIN.username } = {}) =>
    async function runInBrowser(t) {
      const context = await app.browser.newContext({ baseURL: app.baseUrl });
      context.setDefaultTimeout(WAIT_MS);
      context.setDefaultNavigationTimeout(WAIT_MS);
      if (as && as !== ADMIN.username) await app.person(as);
      if (as) await app.signIn(context, as, as === ADMIN.username ? ADMIN.password : PASSWORD);
      const pageErrors = [];
      context.on('page', (p) => watch(p, pageErrors));
      const page = await context.newPage();
      try {
        await fn({ page, context, api: app.api, url: app.url, fetch: app.fetch });
        if (pageErrors.some((e) => e.startsWith('pageerror'))) {
          throw new Error(`the page threw:\n${pageErrors.join('\n')}`);
        }
      } catch (error) {
        const report = [`--- ${app.database} server output (last lines) ---`, app.server.logs()];
        if (pageErrors.length) report.push('--- browser console errors ---', ...pageErrors);
        const shots = await screenshots(context, t.name, app.database);
        if (shots.length) report.push('--- screenshots ---', ...shots);
        const text = report.join('\n');
        // The runner prints the error message, so the report lands next to the failure.
        if (error instanceof Error) error.message += `\n${text}`;
        else console.error(text);
        throw error;
      } finally {
        await context.close().catch(() => {});
      }
    };

  return app;
}

function watch(page, sink) {
  page.on('pageerror', (e) => sink.push(`pageerror ${page.url()}: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') sink.push(`console.error ${page.url()}: ${m.text()}`);
  });
}

async function screenshots(context, testName, database) {
  const dir = path.join(E2E_DIR, 'test-results');
  const saved = [];
  try {
    await mkdir(dir, { recursive: true });
    let i = 0;
    for (const p of context.pages()) {
      const base = path.join(dir, `${database}-${slug(testName)}-${i++}`);
      await p.screenshot({ path: `${base}.png`, fullPage: true, timeout: 5_000 });
      await writeFile(`${base}.html`, await p.content());
      saved.push(`${base}.png (${p.url()})`);
    }
  } catch {
    // best effort only
  }
  return saved;
}
