// Federation key caches in the running server (issue 12, docs/FEDERATION.md): the registry
// fetches each trusted upstream issuer's JWKS through its discovery document at start, refreshes
// it per Cache-Control max-age (clamped to min_refresh), counts attempts in /metrics, logs a
// failure once per change (not per retry), and a restart during an upstream outage starts from
// the stored set.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { cliOk, initDataDir, poll, removeDir, sleep, startServer, stopOk, testCleanExit } from '../lib/idpd.mjs';
import { startUpstream } from '../lib/upstream.mjs';
import { fedPolicy, sample } from '../lib/federation.mjs';

describe('federation JWKS registry', () => {
  let up;
  let dir;
  let srv;
  const servers = [];
  const metrics = async () => (await fetch(`${srv.url}/metrics`)).text();
  const fetched = async (result) =>
    sample(await metrics(), 'idpd_federation_jwks_fetch_total', { issuer: 'up', result }) ?? 0;

  before(async () => {
    up = await startUpstream({ alg: 'ES256' });
    up.setMaxAge(1);
    dir = initDataDir({ env: { IDPD_ALGS: 'ES256' } });
    const f = path.join(dir, 'fed.yaml');
    writeFileSync(f, fedPolicy(up));
    cliOk(['policy', 'apply', f], { dataDir: dir });
    srv = await startServer(dir, { env: { IDPD_ALGS: 'ES256' } });
    servers.push(srv);
  });
  after(async () => {
    for (const s of servers) await s.stop();
    await up?.close();
    if (dir) removeDir(dir);
  });

  test('fetched at start through discovery; the metrics families are there', async () => {
    await poll(async () => (await fetched('ok')) >= 1, 5000);
    assert.ok(up.requestCount('/.well-known/openid-configuration') >= 1);
    assert.ok(up.keysRequests >= 1);
    const m = await metrics();
    assert.match(m, /# TYPE idpd_federation_jwks_fetch_total counter/);
    assert.match(m, /# TYPE idpd_federation_jwks_age_seconds gauge/);
    assert.match(m, /# TYPE idpd_federation_tokens_total counter/);
    const age = sample(m, 'idpd_federation_jwks_age_seconds', { issuer: 'up' });
    assert.ok(age >= 0 && age < 5, `age ${age}`);
    for (const r of ['http_status', 'too_large', 'invalid', 'too_many_keys', 'network', 'internal'])
      assert.equal(sample(m, 'idpd_federation_jwks_fetch_total', { issuer: 'up', result: r }), 0);
  });

  test('refreshed per Cache-Control max-age (1 s), not per `refresh` (2 s)', async () => {
    const a = await fetched('ok');
    await sleep(3500);
    const b = await fetched('ok');
    // max-age=1 -> about one fetch a second (with refresh 2s it would be at most 2)
    assert.ok(b - a >= 3, `${b - a} fetches in 3.5 s`);
    // discovery is not read again while fetches succeed
    assert.equal(up.requestCount('/.well-known/openid-configuration'), 1);
  });

  test('a failing /keys is counted per attempt, logged once, and the recovery logged', async () => {
    up.failKeys(500);
    const a = await fetched('http_status');
    await poll(async () => (await fetched('http_status')) >= a + 2, 8000);
    // the last good set is kept (stale_if_error 1h): age grows past the refresh interval
    const logs = srv.logs().filter((l) => /federation issuer up: JWKS fetch failed/.test(l));
    assert.equal(logs.length, 1, logs.join('\n'));
    assert.match(logs[0], /http_status/);
    // a failed attempt reads discovery again
    assert.ok(up.requestCount('/.well-known/openid-configuration') >= 2);
    up.failKeys(null);
    await poll(() => srv.logs().some((l) => /federation issuer up: JWKS fetched again/.test(l)), 8000);
  });

  test('a restart during an outage starts from the stored set', async () => {
    up.failKeys(503);
    await srv.stop();
    srv = await startServer(dir, { env: { IDPD_ALGS: 'ES256' } });
    servers.push(srv);
    await poll(() => srv.logs().some((l) => /federation issuer up: starting from its stored JWKS/.test(l)), 5000);
    await poll(async () => (await fetched('http_status')) >= 1, 5000);
    const age = sample(await metrics(), 'idpd_federation_jwks_age_seconds', { issuer: 'up' });
    assert.ok(age >= 0, `a set is in use (age ${age})`);
    up.failKeys(null);
  });

  testCleanExit(() => [srv]);
});
