// Starts one Runway server on a fresh database (SQLite file or a new PostgreSQL
// database) and stops it again. Each test file gets its own server, so tests never
// see each other's data.
//
// Environment:
//   RUNWAY_BIN                 the server binary (default ../target/release/runway)
//   RUNWAY_SITE_ROOT           the built assets (default ../target/site)
//   RUNWAY_E2E_DATABASE        "sqlite" (default) or "postgres"
//   RUNWAY_TEST_POSTGRES_URL   admin connection used to create and drop the test database
//                              (default postgres://postgres@127.0.0.1:5432/postgres)
import { spawn, execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** Every server starts with this admin, added with `runway user add` before it starts. */
export const ADMIN = { username: 'admin', password: 'e2e admin password' };
/** The password tests give the other people they sign in as. */
export const PASSWORD = 'e2e person password';

/** Runs `runway user add NAME --admin` with the password on stdin, as an operator would. */
function addAdmin(bin, databaseUrl, env) {
  return new Promise((resolve, reject) => {
    const child = execFile(
      bin,
      ['user', 'add', ADMIN.username, '--admin', '--database-url', databaseUrl],
      { env, timeout: STARTUP_TIMEOUT_MS },
      (error, stdout, stderr) => (error ? reject(new Error(`runway user add failed: ${error.message}\n${stderr}`)) : resolve(stdout)),
    );
    child.stdin.end(`${ADMIN.password}\n`);
  });
}

/** The end2end/ folder; default paths are relative to it, whatever the cwd. */
export const E2E_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const STARTUP_TIMEOUT_MS = 30_000;
const POLL_INTERVAL_MS = 100;
const STOP_TIMEOUT_MS = 5_000;
const LOG_LINES_KEPT = 200;

export function databaseKind() {
  const kind = (process.env.RUNWAY_E2E_DATABASE || 'sqlite').toLowerCase();
  if (kind !== 'sqlite' && kind !== 'postgres') {
    throw new Error(`RUNWAY_E2E_DATABASE must be "sqlite" or "postgres", not "${kind}"`);
  }
  return kind;
}

function resolveFromEnv(name, fallback) {
  const value = process.env[name];
  return value ? path.resolve(value) : path.resolve(E2E_DIR, fallback);
}

/** A port nobody listens on right now (the server binds it a moment later). */
function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Keeps the last lines of a stream in memory, for failure reports. */
class LogTail {
  constructor(limit) {
    this.limit = limit;
    this.lines = [];
    this.partial = '';
    this.seen = 0;
  }
  push(chunk) {
    const parts = (this.partial + chunk.toString('utf8')).split('\n');
    this.partial = parts.pop();
    for (const line of parts) {
      this.lines.push(line);
      this.seen += 1;
      if (this.lines.length > this.limit) this.lines.shift();
    }
  }
  /** Lines that came after the first `seen` (as far as they are still kept). */
  since(seen) {
    return this.lines.slice(Math.max(0, this.lines.length - (this.seen - seen)));
  }
  text() {
    return [...this.lines, this.partial].filter((l) => l !== '').join('\n');
  }
}

async function psql(adminUrl, sql) {
  try {
    await execFileAsync('psql', [adminUrl, '-v', 'ON_ERROR_STOP=1', '-q', '-X', '-c', sql], { timeout: 30_000 });
  } catch (e) {
    throw new Error(`psql failed (${sql}): ${e.stderr || e.message}`);
  }
}

async function createPostgresDatabase() {
  const adminUrl = process.env.RUNWAY_TEST_POSTGRES_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
  const name = `runway_e2e_${randomBytes(6).toString('hex')}`;
  await psql(adminUrl, `CREATE DATABASE "${name}"`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  url.search = '';
  return {
    url: url.href,
    drop: () => psql(adminUrl, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`),
  };
}

function waitForExit(child, ms) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/**
 * Starts a server and waits until GET /healthz answers 200.
 * Returns { baseUrl, database, logs(), stop() }.
 */
export async function startServer({ demo = true } = {}) {
  const bin = resolveFromEnv('RUNWAY_BIN', '../target/release/runway');
  const siteRoot = resolveFromEnv('RUNWAY_SITE_ROOT', '../target/site');
  if (!existsSync(bin)) throw new Error(`no server binary at ${bin}: build it with "cargo leptos build --release --split" or set RUNWAY_BIN`);
  const pkg = path.join(siteRoot, 'pkg');
  if (!existsSync(pkg) || !readdirSync(pkg).some((f) => f.endsWith('.wasm'))) {
    throw new Error(`no browser bundle (.wasm) in ${pkg}: build it with "cargo leptos build --release --split" or set RUNWAY_SITE_ROOT`);
  }
  // Without --split the lazy pages' imports stay unresolved and no page hydrates.
  if (!readdirSync(pkg).some((f) => f.startsWith('__wasm_split.'))) {
    throw new Error(`the browser bundle in ${pkg} was built without --split: build it with "cargo leptos build --release --split"`);
  }

  const kind = databaseKind();
  const tmp = await mkdtemp(path.join(tmpdir(), 'runway-e2e-'));
  let pg = null;
  let databaseUrl;
  if (kind === 'postgres') {
    try {
      pg = await createPostgresDatabase();
    } catch (e) {
      await rm(tmp, { recursive: true, force: true });
      throw e;
    }
    databaseUrl = pg.url;
  } else {
    databaseUrl = `sqlite://${path.join(tmp, 'runway.db')}`;
  }

  const cleanup = async () => {
    if (pg) await pg.drop();
    await rm(tmp, { recursive: true, force: true });
  };

  // Options come from the command line only: drop RUNWAY_* settings of the caller.
  // Plain log lines (no colour codes) read better in failure reports.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('RUNWAY_')));
  env.NO_COLOR = '1';

  try {
    await addAdmin(bin, databaseUrl, env);
  } catch (e) {
    await cleanup();
    throw e;
  }

  let lastError;
  for (let attempt = 1; attempt <= 3; attempt++) {
    const port = await freePort();
    const baseUrl = `http://127.0.0.1:${port}`;
    const args = ['--addr', `127.0.0.1:${port}`, '--database-url', databaseUrl, '--site-root', siteRoot,
      '--secret-key-file', path.join(tmp, 'secret.key'), '--flag-snapshot-file', path.join(tmp, 'flag-snapshot.json')];
    if (!demo) args.push('--no-demo');
    const logs = new LogTail(LOG_LINES_KEPT);
    const child = spawn(bin, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (c) => logs.push(c));
    child.stderr.on('data', (c) => logs.push(c));
    let spawnError = null;
    child.on('error', (e) => {
      spawnError = e;
    });
    // Never leave a server behind, even if the test process dies early.
    const killOnExit = () => child.kill('SIGKILL');
    process.once('exit', killOnExit);

    const stopChild = async () => {
      process.removeListener('exit', killOnExit);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        if (!(await waitForExit(child, STOP_TIMEOUT_MS))) {
          child.kill('SIGKILL');
          await waitForExit(child, STOP_TIMEOUT_MS);
        }
      }
    };

    const deadline = Date.now() + STARTUP_TIMEOUT_MS;
    let healthy = false;
    while (Date.now() < deadline) {
      if (spawnError || child.exitCode !== null || child.signalCode !== null) break;
      try {
        const res = await fetch(`${baseUrl}/healthz`, { signal: AbortSignal.timeout(2_000) });
        if (res.status === 200) {
          healthy = true;
          break;
        }
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, POLL_INTERVAL_MS));
    }

    if (healthy) {
      return {
        baseUrl,
        database: kind,
        pid: child.pid,
        logs: () => logs.text(),
        /** How many whole lines the server has printed, and those printed after such a count. */
        logCount: () => logs.seen,
        logsSince: (seen) => logs.since(seen),
        stop: async () => {
          await stopChild();
          await cleanup();
        },
      };
    }

    await stopChild();
    const why = spawnError
      ? `could not start ${bin}: ${spawnError.message}`
      : child.exitCode !== null || child.signalCode !== null
        ? `the server exited (code ${child.exitCode}, signal ${child.signalCode}) before it was healthy`
        : `GET /healthz did not answer 200 within ${STARTUP_TIMEOUT_MS} ms`;
    lastError = new Error(`${why}\n--- server output ---\n${logs.text()}`);
    // Another process took the port between our check and the bind: try another one.
    if (!/cannot listen/.test(logs.text())) break;
  }
  await cleanup();
  throw lastError;
}
