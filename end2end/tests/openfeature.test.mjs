// Runway's flags through an off-the-shelf OpenFeature SDK (the Node server SDK with the
// OFREP provider), and Runway's OFREP answers checked against the OFREP OpenAPI schemas.
// No browser page is needed: these talk to the server over HTTP only.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { OpenFeature } from '@openfeature/server-sdk';
import { OFREPProvider } from '@openfeature/ofrep-provider';
import Ajv2020 from 'ajv/dist/2020.js';
import YAML from 'yaml';
import { TEST_TIMEOUT_MS, WAIT_MS, useApp } from '../support/app.mjs';

// Registers the before/after hooks that start and stop the server for this file.
const app = useApp({ demo: false });

const SPEC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/ofrep/openapi.yaml');

/** A flags:read token for `environment`; returns its secret. */
async function flagsToken(name, environment) {
  const made = await app.api.post('/api/v1/tokens', { name, scopes: ['flags:read'], environment });
  assert.match(made.secret, /^rwy_/);
  return made.secret;
}

/** Creates a flag and sets its production state; returns the flag as stored. */
async function flag(key, production) {
  const created = await app.api.post('/api/v1/flags', { key });
  return app.api.send('PUT', `/api/v1/flags/${key}/environments/production`, { version: created.version, ...production });
}

/** POSTs to an OFREP endpoint with the token; returns { status, headers, body }. */
async function ofrep(secret, p, body, headers = {}) {
  const res = await fetch(app.url(p), {
    method: 'POST',
    headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(WAIT_MS),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, body: text ? JSON.parse(text) : undefined };
}

test('an OpenFeature client reads Runway flags through the OFREP provider', { timeout: TEST_TIMEOUT_MS }, async () => {
  const secret = await flagsToken('openfeature-sdk', 'production');
  await flag('new-checkout', { enabled: true, percentage: 100 });
  await flag('beta-search', { enabled: true, percentage: 0, allow: ['user-42'] });

  await OpenFeature.setProviderAndWait(
    new OFREPProvider({ baseUrl: app.baseUrl, headers: [['Authorization', `Bearer ${secret}`]] }),
  );
  try {
    const client = OpenFeature.getClient('runway-e2e');
    const as = (targetingKey) => ({ targetingKey });

    assert.equal(await client.getBooleanValue('new-checkout', false, as('user-42')), true);
    const checkout = await client.getBooleanDetails('new-checkout', false, as('user-42'));
    assert.deepEqual(
      { value: checkout.value, reason: checkout.reason, variant: checkout.variant, errorCode: checkout.errorCode },
      { value: true, reason: 'STATIC', variant: 'on', errorCode: undefined },
    );

    // On at 0%, but user-42 is on the allow list.
    assert.equal(await client.getBooleanValue('beta-search', false, as('user-42')), true);
    const allowed = await client.getBooleanDetails('beta-search', false, as('user-42'));
    assert.deepEqual(
      { value: allowed.value, reason: allowed.reason, variant: allowed.variant },
      { value: true, reason: 'TARGETING_MATCH', variant: 'on' },
    );
    const other = await client.getBooleanDetails('beta-search', true, as('user-7'));
    assert.deepEqual(
      { value: other.value, reason: other.reason, variant: other.variant, errorCode: other.errorCode },
      { value: false, reason: 'STATIC', variant: 'off', errorCode: undefined },
      'the flag answers false; the code default (true) is not used',
    );

    // A flag Runway does not have: the code default, with FLAG_NOT_FOUND.
    assert.equal(await client.getBooleanValue('no-such-flag', true, as('user-42')), true);
    assert.equal(await client.getBooleanValue('no-such-flag', false, as('user-42')), false);
    const missing = await client.getBooleanDetails('no-such-flag', true, as('user-42'));
    assert.equal(missing.value, true);
    assert.equal(missing.reason, 'ERROR');
    assert.equal(missing.errorCode, 'FLAG_NOT_FOUND');

    // A change made in the console reaches the SDK's next evaluation.
    const current = await app.api.get('/api/v1/flags/beta-search');
    await app.api.send('PUT', '/api/v1/flags/beta-search/environments/production', { version: current.version, enabled: false });
    const off = await client.getBooleanDetails('beta-search', true, as('user-42'));
    assert.deepEqual({ value: off.value, reason: off.reason, variant: off.variant }, { value: false, reason: 'DISABLED', variant: 'off' });
  } finally {
    await OpenFeature.close();
  }
});

test('an OpenFeature client gets a rule-targeted flag by the attributes of its context', { timeout: TEST_TIMEOUT_MS }, async () => {
  const secret = await flagsToken('openfeature-rules', 'production');
  await app.api.post('/api/v1/segments', {
    name: 'internal',
    conditions: [{ contextName: 'email', operator: 'STR_ENDS_WITH', values: ['@acme.io'], caseInsensitive: true }],
  });
  await flag('codex-provider', {
    enabled: true,
    percentage: 0,
    rules: [
      { name: 'staff', segments: ['internal'], serve: 'on' },
      {
        name: 'EU enterprise',
        conditions: [
          { contextName: 'region', operator: 'IN', values: ['eu'] },
          { contextName: 'plan', operator: 'IN', values: ['enterprise'] },
          { contextName: 'appVersion', operator: 'SEMVER_GT', value: '2.0.0-beta.1' },
        ],
        serve: 'on',
      },
    ],
  });
  await OpenFeature.setProviderAndWait(
    new OFREPProvider({ baseUrl: app.baseUrl, headers: [['Authorization', `Bearer ${secret}`]] }),
  );
  try {
    const client = OpenFeature.getClient('runway-e2e-rules');
    const eu = await client.getBooleanDetails('codex-provider', false, {
      targetingKey: 'ws-1', region: 'eu', plan: 'enterprise', appVersion: '2.1.0',
    });
    assert.deepEqual(
      { value: eu.value, reason: eu.reason, rule: eu.flagMetadata.rule, index: eu.flagMetadata.ruleIndex },
      { value: true, reason: 'TARGETING_MATCH', rule: 'EU enterprise', index: 1 },
    );
    const staff = await client.getBooleanDetails('codex-provider', false, { targetingKey: 'ws-2', email: 'Ann@ACME.io' });
    assert.deepEqual({ value: staff.value, rule: staff.flagMetadata.rule }, { value: true, rule: 'staff' });
    // An old app version, or the wrong type of attribute: no rule holds, the default (off) answers.
    for (const context of [
      { targetingKey: 'ws-3', region: 'eu', plan: 'enterprise', appVersion: '2.0.0-alpha' },
      { targetingKey: 'ws-3', region: 'eu', plan: 'enterprise', appVersion: 21 },
    ]) {
      const other = await client.getBooleanDetails('codex-provider', true, context);
      assert.deepEqual(
        { value: other.value, reason: other.reason, errorCode: other.errorCode },
        { value: false, reason: 'STATIC', errorCode: undefined },
        JSON.stringify(context),
      );
    }
  } finally {
    await OpenFeature.close();
  }
});

// ---- the OFREP schemas ----

/**
 * An Ajv (JSON Schema 2020-12, as OpenAPI 3.1 uses) holding the spec's component schemas
 * under `ofrep#/$defs/`, and a validator for one of them by name.
 */
async function ofrepSchemas() {
  const spec = YAML.parse(await readFile(SPEC, 'utf8'));
  const rewrite = (node) => {
    if (Array.isArray(node)) return node.map(rewrite);
    if (node && typeof node === 'object') {
      return Object.fromEntries(
        Object.entries(node).map(([k, v]) => [
          k,
          k === '$ref' && typeof v === 'string' ? v.replace('#/components/schemas/', '#/$defs/') : rewrite(v),
        ]),
      );
    }
    return node;
  };
  const defs = rewrite(spec.components.schemas);
  // The spec's codeDefaultFlag ("this schema has no `value` property") is written as an
  // object with no constraints, so it also matches every flag that has a value, and
  // evaluationSuccess's oneOf would then match two branches for any boolean answer.
  // Say what its description says: no value.
  defs.codeDefaultFlag = { ...defs.codeDefaultFlag, not: { required: ['value'] } };
  const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
  ajv.addSchema({ $id: 'ofrep', $defs: defs });
  return (name) => {
    const validate = ajv.compile({ $ref: `ofrep#/$defs/${name}` });
    return (body, what) => {
      const ok = validate(body);
      assert.ok(ok, `${what} does not match ${name}: ${JSON.stringify(body)}\n${ajv.errorsText(validate.errors, { separator: '\n' })}`);
    };
  };
}

test('OFREP answers match the OFREP OpenAPI schemas', { timeout: TEST_TIMEOUT_MS }, async () => {
  const schema = await ofrepSchemas();
  const secret = await flagsToken('schema-check', 'production');
  await flag('schema-on', { enabled: true, percentage: 100 });
  await flag('schema-split', { enabled: true, percentage: 30 });
  await flag('schema-listed', { enabled: true, percentage: 0, allow: ['user-1'] });
  await app.api.post('/api/v1/flags', { key: 'schema-off' });
  // Answered by a rule: its name and place are in the metadata.
  await flag('schema-ruled', {
    enabled: true,
    percentage: 0,
    rules: [{ name: 'example staff', conditions: [{ contextName: 'email', operator: 'STR_ENDS_WITH', values: ['@example.com'] }], serve: 'on' }],
  });
  const single = (key) => `/ofrep/v1/evaluate/flags/${key}`;
  const context = { targetingKey: 'user-1', email: 'user-1@example.com' };

  // Single flag, 200.
  for (const key of ['schema-on', 'schema-split', 'schema-listed', 'schema-off', 'schema-ruled']) {
    const res = await ofrep(secret, single(key), { context });
    assert.equal(res.status, 200, `${key}: ${res.text}`);
    assert.match(res.headers.get('content-type'), /^application\/json/);
    schema('serverEvaluationSuccess')(res.body, `POST ${single(key)}`);
    assert.equal(res.body.key, key);
    assert.equal(typeof res.body.value, 'boolean');
  }

  const ruled = await ofrep(secret, single('schema-ruled'), { context });
  assert.deepEqual([ruled.body.reason, ruled.body.metadata], ['TARGETING_MATCH', { rule: 'example staff', ruleIndex: 0 }]);

  // Single flag, 404.
  const missing = await ofrep(secret, single('schema-missing'), { context });
  assert.equal(missing.status, 404, missing.text);
  schema('flagNotFound')(missing.body, 'a missing flag');
  assert.deepEqual([missing.body.key, missing.body.errorCode], ['schema-missing', 'FLAG_NOT_FOUND']);

  // Single flag, 400: no targeting key for a split, a context that is not an object, broken JSON.
  const failures = [
    ['TARGETING_KEY_MISSING', { context: {} }],
    ['INVALID_CONTEXT', { context: 'user-1' }],
    ['INVALID_CONTEXT', { context: { targetingKey: 7 } }],
    ['PARSE_ERROR', '{"context": {'],
  ];
  for (const [code, body] of failures) {
    const res = await ofrep(secret, single('schema-split'), body);
    assert.equal(res.status, 400, `${JSON.stringify(body)}: ${res.text}`);
    schema('evaluationFailure')(res.body, `a ${code} answer`);
    assert.deepEqual([res.body.key, res.body.errorCode], ['schema-split', code]);
  }

  // Bulk, 200: successes and a per-flag failure side by side.
  for (const ctx of [context, {}]) {
    const res = await ofrep(secret, '/ofrep/v1/evaluate/flags', { context: ctx });
    assert.equal(res.status, 200, res.text);
    assert.ok(res.headers.get('etag'), 'an ETag header');
    schema('bulkEvaluationSuccess')(res.body, `bulk evaluation for ${JSON.stringify(ctx)}`);
    // (The other test's flags share this server.)
    const keys = res.body.flags.map((f) => f.key).filter((k) => k.startsWith('schema-')).sort();
    assert.deepEqual(keys, ['schema-listed', 'schema-off', 'schema-on', 'schema-ruled', 'schema-split']);
    const split = res.body.flags.find((f) => f.key === 'schema-split');
    if (ctx.targetingKey) assert.equal(split.reason, 'SPLIT');
    else assert.equal(split.errorCode, 'TARGETING_KEY_MISSING');

    const again = await ofrep(secret, '/ofrep/v1/evaluate/flags', { context: ctx }, { 'if-none-match': res.headers.get('etag') });
    assert.equal(again.status, 304);
    assert.equal(again.text, '');
  }

  // Bulk, 400.
  const broken = await ofrep(secret, '/ofrep/v1/evaluate/flags', { context: ['user-1'] });
  assert.equal(broken.status, 400, broken.text);
  schema('bulkEvaluationFailure')(broken.body, 'a bulk INVALID_CONTEXT answer');
  assert.equal(broken.body.errorCode, 'INVALID_CONTEXT');
});
