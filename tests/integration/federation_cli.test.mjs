// `idpd federation status|refresh|test` against the mock upstream (issue 12, docs/FEDERATION.md):
// status before any fetch (unfetched) and after, refresh success and failure (exit codes, the
// reason, the stored status), a refresh reaching a running server through the store generation,
// and test: an accepted token with its steps, mapped claims, subject and policy decision, and
// each of a few refusals with the failing step and exit 1.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  cli, cliAsync, cliOk, initDataDir, poll, removeDir, sleep, startServer, storeSql, testCleanExit,
} from '../lib/idpd.mjs';
import { startUpstream } from '../lib/upstream.mjs';
import { fedPolicy, sample } from '../lib/federation.mjs';

const AUD = 'https://idpd.example';
const now = () => Math.floor(Date.now() / 1000);
const EXTRA = `      claims:
        email: {from: email}
`;
const BINDINGS = `bindings:
  issuers:
    up:
      subjects: {"alice": [viewer]}
`;

describe('idpd federation', () => {
  let up;
  let dir;
  let srv;
  // sync: only for commands that do not fetch (spawnSync would stall the in-process upstream)
  const fed = (args, opts = {}) => cli(['federation', ...args], { dataDir: dir, ...opts });
  const fedA = (args) => cliAsync(['federation', ...args], { dataDir: dir });
  const claims = (extra = {}) => ({ iss: up.issuer, sub: 'alice', aud: AUD, iat: now(), exp: now() + 300, email: 'a@up.example', ...extra });

  before(async () => {
    up = await startUpstream({ alg: 'ES256' });
    dir = initDataDir({ env: { IDPD_ALGS: 'ES256' } });
    const f = path.join(dir, 'fed.yaml');
    writeFileSync(f, fedPolicy(up, { extra: EXTRA, jwks: 'refresh: 60s, min_refresh: 30s, max_refresh: 1h, kid_miss_cooldown: 30s, stale_if_error: 1h, fetch_timeout: 2s' }) + BINDINGS);
    cliOk(['policy', 'apply', f], { dataDir: dir });
  });
  after(async () => {
    await srv?.stop();
    await up?.close();
    if (dir) removeDir(dir);
  });

  test('status before any fetch: unfetched, no kids; an unknown name exits 1', () => {
    const r = fed(['status', '--json']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.json.issuers.length, 1);
    const s = r.json.issuers[0];
    assert.deepEqual(s, { name: 'up', issuer: up.issuer, state: 'unfetched', kids: [], last_success: null, last_attempt: null, last_error: null, next_refresh: null });
    const t = fed(['status']);
    assert.equal(t.status, 0);
    assert.match(t.stdout, /^up http:\/\/127\.0\.0\.1:\d+\n {2}state: unfetched\n/);
    const u = fed(['status', 'nope']);
    assert.equal(u.status, 1);
    assert.match(u.stderr, /no issuer nope in the active policy/);
    assert.equal(fed(['status', 'a', 'b']).status, 2);
    assert.equal(fed(['bogus']).status, 2);
  });

  test('test with no stored keys fetches them; an accepted token shows every step and the decision', async () => {
    const tok = await up.sign(claims());
    const r = await fedA(['test', 'up', tok, '--json']);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    const j = r.json;
    assert.equal(j.accepted, true);
    assert.equal(j.result, 'accepted');
    assert.equal(j.keys, 'fetched');
    assert.deepEqual(j.steps.map((s) => s.step), ['size', 'compact_jws', 'alg_refused', 'issuer', 'alg_allowed', 'key', 'signature', 'typ', 'times', 'audience', 'require', 'subject']);
    assert.ok(j.steps.every((s) => s.result === 'pass'));
    assert.deepEqual(j.claims, { email: 'a@up.example' });
    assert.deepEqual(j.subject, { sub: 'up:alice', local: false, would_create: false });
    assert.deepEqual(j.policy.roles, ['viewer']);
    assert.deepEqual(j.policy.permissions, ['p.read']);
    // a second run uses the stored set: no new /keys request
    const n = up.keysRequests;
    const again = fed(['test', 'up', tok, '--json']);
    assert.equal(again.status, 0);
    assert.equal(again.json.keys, 'stored');
    assert.equal(up.keysRequests, n);
    // the text form
    const t = fed(['test', 'up', tok]);
    assert.equal(t.status, 0);
    assert.match(t.stdout, /^up: ACCEPTED \(keys: stored\)\n/);
    assert.match(t.stdout, /roles \["viewer"\] permissions \["p.read"\]/);
    // from stdin
    const s = fed(['test', 'up', '-', '--json'], { input: tok + '\n' });
    assert.equal(s.status, 0, s.stderr);
  });

  test('test consumes no jti: the same assertion passes twice and nothing is recorded', async () => {
    const a = await up.sign(claims({ aud: 'http://127.0.0.1:8080/token', jti: 'dry-run-1' }));
    for (let i = 0; i < 2; i++) {
      const r = fed(['test', 'up', a, '--use', 'assertion', '--audience', 'http://127.0.0.1:8080/token', '--json']);
      assert.equal(r.status, 0, r.stdout + r.stderr);
      assert.equal(r.json.accepted, true);
    }
    assert.equal(storeSql(dir, 'SELECT count(*) FROM fed_jti'), '0');
  });

  const refusals = [
    ['expired', () => claims({ iat: now() - 900, exp: now() - 600 }), {}, 'times', 'expired'],
    ['wrong audience', () => claims({ aud: 'https://other.example' }), {}, 'audience', 'audience'],
    ['a key never published', () => claims(), { unpublished: true }, 'key', 'unknown_kid'],
    ['an unknown issuer', () => claims({ iss: 'https://stranger.example' }), {}, 'issuer', 'unknown_issuer'],
  ];
  for (const [what, mk, opts, step, reason] of refusals) {
    test(`test refuses ${what}: exit 1, the failing step, the later ones not reached`, async () => {
      const tok = await up.sign(mk(), opts);
      const r = fed(['test', 'up', tok, '--json']);
      assert.equal(r.status, 1, r.stdout + r.stderr);
      assert.equal(r.json.accepted, false);
      assert.equal(r.json.result, reason);
      const i = r.json.steps.findIndex((s) => s.step === step);
      assert.ok(i >= 0);
      assert.equal(r.json.steps[i].result, 'fail');
      assert.equal(r.json.steps[i].reason, reason);
      assert.ok(r.json.steps.slice(0, i).every((s) => s.result === 'pass'));
      assert.ok(r.json.steps.slice(i + 1).every((s) => s.result === 'not_reached'));
      assert.equal(r.json.policy, undefined);
      // no token bytes in the output
      assert.ok(!r.stdout.includes(tok.split('.')[2]));
    });
  }

  test('test refuses garbage and a token of another use; usage errors exit 2', () => {
    const r = fed(['test', 'up', 'not-a-jwt', '--json']);
    assert.equal(r.status, 1);
    assert.equal(r.json.result, 'malformed');
    assert.equal(r.json.steps[1].result, 'fail');
    assert.equal(fed(['test', 'up']).status, 2);
    assert.equal(fed(['test', 'up', 'x', '--use', 'cookie']).status, 2);
    assert.equal(fed(['refresh']).status, 2);
    assert.equal(fed(['status', '--use', 'jwt']).status, 2);
  });

  test('refresh: exit 0, the status is ok with the kids; a failing upstream exits 1 with the reason', async () => {
    await up.rotate();
    const r = await fedA(['refresh', 'up']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^up: fetched 2 key\(s\); next refresh /);
    let s = fed(['status', 'up', '--json']).json.issuers[0];
    assert.equal(s.state, 'ok');
    assert.deepEqual([...s.kids].sort(), [...up.kids()].sort());
    assert.ok(s.last_success);
    assert.equal(s.last_error, null);
    up.failKeys(500);
    const f = await fedA(['refresh', 'up']);
    assert.equal(f.status, 1);
    assert.match(f.stderr, /idpd federation refresh: up: .*HTTP status 500/);
    s = fed(['status', 'up', '--json']).json.issuers[0];
    assert.equal(s.state, 'stale'); // the last good set is still within stale_if_error
    assert.match(s.last_error, /HTTP status 500/);
    assert.equal(s.kids.length, 2);
    const t = fed(['status', 'up']);
    assert.match(t.stdout, /last error: HTTP status 500/);
    up.failKeys(null);
    const j = await fedA(['refresh', 'up', '--json']);
    assert.equal(j.status, 0);
    assert.equal(j.json.refreshed, true);
  });

  test('a refresh from the CLI reaches a running server (store generation)', async () => {
    srv = await startServer(dir, { env: { IDPD_ALGS: 'ES256' } });
    const metrics = async () => (await fetch(`${srv.url}/metrics`)).text();
    await poll(async () => (sample(await metrics(), 'idpd_federation_jwks_fetch_total', { issuer: 'up', result: 'ok' }) ?? 0) >= 1, 5000);
    await sleep(2200);
    const age = sample(await metrics(), 'idpd_federation_jwks_age_seconds', { issuer: 'up' });
    assert.ok(age >= 2, `age ${age}`);
    assert.equal((await fedA(['refresh', 'up'])).status, 0);
    await poll(async () => sample(await metrics(), 'idpd_federation_jwks_age_seconds', { issuer: 'up' }) < 1.5, 5000);
    assert.ok(srv.logs().some((l) => /federation issuer up: took the JWKS another process stored/.test(l)));
    // the server fetched only once (refresh 60s): the new set came from the store
    assert.equal(sample(await metrics(), 'idpd_federation_jwks_fetch_total', { issuer: 'up', result: 'ok' }), 1);
    // and the server's own attempt left a status row
    const s = fed(['status', 'up', '--json']).json.issuers[0];
    assert.equal(s.state, 'ok');
  });

  testCleanExit(() => [srv]);
});

describe('idpd federation refresh: hostile discovery', () => {
  let up;
  let dir;
  before(async () => {
    up = await startUpstream({ alg: 'ES256' });
    dir = initDataDir({ env: { IDPD_ALGS: 'ES256' } });
    // configured with a trailing slash: discovery is <issuer>.well-known/... (no double slash),
    // and the document's issuer (no slash) differs byte for byte
    const f = path.join(dir, 'fed.yaml');
    writeFileSync(f, fedPolicy({ issuer: `${up.url}/` }, { name: 'slash' }));
    cliOk(['policy', 'apply', f], { dataDir: dir });
  });
  after(async () => {
    await up?.close();
    if (dir) removeDir(dir);
  });

  test('an issuer mismatch in the discovery document is refused, and no key is fetched', async () => {
    const r = await cliAsync(['federation', 'refresh', 'slash'], { dataDir: dir });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /discovery: its issuer differs from the configured issuer/);
    assert.equal(up.requestCount('/.well-known/openid-configuration'), 1);
    assert.equal(up.requestCount('//.well-known/openid-configuration'), 0);
    assert.equal(up.keysRequests, 0);
    const s = cli(['federation', 'status', '--json'], { dataDir: dir }).json.issuers[0];
    assert.equal(s.state, 'failing');
    assert.match(s.last_error, /issuer differs/);
  });
});
