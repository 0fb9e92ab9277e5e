// The signing key set stays bounded and reloads never freeze (docs/SECURITY.md "Keys and
// reloads"): repeated forced rotations keep the JWKS within JWKS_MAX_KEYS; the key, client and
// policy snapshots reload independently; a failing reload and a store that cannot write show in
// /readyz (503 with the reason) and in /metrics; a restart always works.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  accessToken, cli, cliAsync, cliOk, createClient, getJson, initDataDir, poll, startServer, stopOk,
  storeSql, storeUri, testCleanExit, token,
} from '../lib/idpd.mjs';

const API = 'https://api.example.com';
const JWKS_MAX_KEYS = 64; // src/jose/jwk.h
// Every algorithm (the default), RSA keys of the smallest allowed size to keep the test fast.
const ENV = { IDPD_RSA_BITS: '2048' };

const keyList = (dir) => cliOk(['key', 'list', '--json'], { dataDir: dir, env: ENV }).json;
const metrics = async (srv) => (await fetch(`${srv.url}/metrics`)).text();
const sql = storeSql;
/** The few expressions SQLite and PostgreSQL spell differently, for dir's store. */
const dialect = (dir) => (storeUri(dir)
  ? { now: 'CAST(extract(epoch FROM now()) AS bigint)', hex: (c) => `upper(encode(${c}, 'hex'))`,
    blob: (h) => `decode('${h}', 'hex')` }
  : { now: "CAST(strftime('%s', 'now') AS INTEGER)", hex: (c) => `hex(${c})`, blob: (h) => `X'${h}'` });

/** The client can get a token within 3 s (the server picked it up). */
const getsToken = (srv, c) => poll(async () => (await token(srv.url, c)).status === 200, 3000);
/** The client is refused (401) within 3 s. */
const refused = (srv, c) => poll(async () => (await token(srv.url, c)).status === 401, 3000);

describe('forced rotations beyond the JWKS bound', () => {
  let dir;
  let srv;
  let early;
  before(async () => {
    dir = initDataDir({ env: ENV });
    early = createClient(dir, { audiences: [API], env: ENV });
    srv = await startServer(dir, { env: ENV });
  });
  after(() => stopOk(srv));

  test('16 x `key rotate --force`: the store and the JWKS stay within the bound and follow', async () => {
    for (let i = 0; i < 16; i++) {
      const r = await cliAsync(['key', 'rotate', '--force'], { dataDir: dir, env: ENV });
      assert.equal(r.status, 0, `rotation ${i}: ${r.stderr}`);
    }
    const keys = keyList(dir);
    assert.ok(keys.length <= JWKS_MAX_KEYS, `${keys.length} keys stored`);
    const current = keys.filter((k) => k.state === 'current').map((k) => k.kid);
    assert.equal(current.length, 4, 'one current key per algorithm');
    // the running server publishes the new key set (its reload did not stop)
    const jwks = await poll(async () => {
      const j = (await getJson(`${srv.url}/jwks.json`)).json;
      return current.every((kid) => j.keys.some((k) => k.kid === kid)) ? j : null;
    }, 3000);
    assert.ok(jwks, 'the JWKS publishes the current keys');
    assert.ok(jwks.keys.length <= JWKS_MAX_KEYS, `${jwks.keys.length} keys published`);
  });

  test('a client created afterwards gets a token, one deleted afterwards gets 401', async () => {
    const late = createClient(dir, { audiences: [API], env: ENV });
    assert.ok(await getsToken(srv, late), 'new client gets a token');
    cliOk(['client', 'delete', early.client_id], { dataDir: dir, env: ENV });
    assert.ok(await refused(srv, early), 'deleted client is refused');
  });

  test('/readyz is ok and /metrics reports every reload as ok', async () => {
    const r = await getJson(`${srv.url}/readyz`);
    assert.equal(r.status, 200, r.text);
    const m = await metrics(srv);
    for (const s of ['keys', 'clients', 'policy']) assert.match(m, new RegExp(`^idpd_reload_ok\\{snapshot="${s}"\\} 1$`, 'm'));
    assert.match(m, /^idpd_store_writable 1$/m);
  });

  test('a restart works and serves tokens', async () => {
    await stopOk(srv);
    srv = await startServer(dir, { env: ENV });
    const late = createClient(dir, { audiences: [API], env: ENV });
    assert.ok(await getsToken(srv, late));
    assert.equal((await getJson(`${srv.url}/readyz`)).status, 200);
    assert.ok((await getJson(`${srv.url}/jwks.json`)).json.keys.length <= JWKS_MAX_KEYS);
  });

  testCleanExit(() => [srv]);
});

describe('a rotation_period that could exceed the bound', () => {
  // 4 algorithms, retired keys kept 1h + 30s + 1m: rotating every 2 minutes could keep 128 keys
  const SHORT = { ...ENV, IDPD_ROTATION_PERIOD: '2m', IDPD_PUBLISH_AHEAD: '1m', IDPD_JWKS_MAX_AGE: '1m' };
  const WHY = /rotation_period: 120 s is too short: .* use at least 265 s/;
  let dir;
  before(() => { dir = initDataDir({ env: ENV }); });

  test('serve --check refuses it with the shortest period that fits', () => {
    const r = cli(['serve', '--check'], { dataDir: dir, env: SHORT, timeout: 20000 });
    assert.equal(r.status, 1);
    assert.match(r.stderr, WHY);
    const ok = cli(['serve', '--check'], { dataDir: dir, env: { ...SHORT, IDPD_ROTATION_PERIOD: '265s' }, timeout: 20000 });
    assert.equal(ok.status, 0, ok.stderr);
  });

  test('serve refuses to start with it', async () => {
    await assert.rejects(startServer(dir, { env: SHORT, timeoutMs: 10000 }), WHY);
  });
});

describe('a store already over the bound (written by an older version)', () => {
  const E = { IDPD_ALGS: 'ES256' };
  let dir;
  let srv;
  let flag;
  before(() => {
    dir = initDataDir({ env: E });
    flag = path.join(dir, 'disk-full');
    // 70 more retired ES256 keys, retired within the last minutes (their window is not over)
    sql(dir, `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 70)
      INSERT INTO signing_keys (kid, alg, state, created_at, activated_at, retired_at, enc_private, public_jwk)
      SELECT 'old-' || i, alg, 2, created_at, activated_at, ${dialect(dir).now} - i,
             enc_private, replace(public_jwk, kid, 'old-' || i)
      FROM signing_keys, n WHERE state = 1`);
    assert.equal(keyList(dir).length, 72);
  });
  after(() => stopOk(srv));

  test('serve starts even when it cannot prune at once, publishes the newest keys, prunes later', async () => {
    writeFileSync(flag, ''); // the start-up rotation tick cannot delete anything
    srv = await startServer(dir, { env: { ...E, IDPD_FAULT_STORE_FULL: flag } });
    const keys = keyList(dir);
    const jwks = (await getJson(`${srv.url}/jwks.json`)).json;
    assert.equal(jwks.keys.length, JWKS_MAX_KEYS);
    for (const k of keys.filter((x) => x.state !== 'retired')) assert.ok(jwks.keys.some((j) => j.kid === k.kid), k.state);
    assert.ok(!jwks.keys.some((j) => j.kid === 'old-70'), 'the key retired longest ago is left out');
    assert.ok(srv.logs().some((l) => /not published/.test(l)), 'the server logs what it left out');
    assert.match((await getJson(`${srv.url}/readyz`)).json.reason, /^store: writes failing/);
    rmSync(flag);
    // the next rotation tick (every 10 s) deletes the oldest retired keys
    assert.ok(await poll(() => keyList(dir).length <= JWKS_MAX_KEYS, 15000, 500), 'pruned to the bound');
    assert.ok(await poll(async () => (await getJson(`${srv.url}/readyz`)).status === 200, 3000));
  });

  testCleanExit(() => [srv]);
});

describe('one failing snapshot reload', () => {
  const ALGS = { IDPD_ALGS: 'ES256 EdDSA' };
  let dir;
  let srv;
  let c;
  before(async () => {
    dir = initDataDir({ env: ALGS });
    c = createClient(dir, { audiences: [API], env: ALGS });
    srv = await startServer(dir, { env: ALGS });
  });
  after(() => stopOk(srv));

  test('a key row that fails to decrypt: keys 503 in /readyz, clients still reload, fixing it recovers', async () => {
    const where = "alg = 'EdDSA' AND state = 1"; // the current EdDSA key
    const d = dialect(dir);
    const blob = sql(dir, `SELECT ${d.hex('enc_private')} FROM signing_keys WHERE ${where}`);
    assert.match(blob, /^[0-9A-F]+$/);
    // flip the last byte (the GCM tag): the row no longer decrypts
    const last = (parseInt(blob.slice(-2), 16) ^ 1).toString(16).padStart(2, '0').toUpperCase();
    sql(dir, `UPDATE signing_keys SET enc_private = ${d.blob(blob.slice(0, -2) + last)} WHERE ${where}`);

    const bad = await poll(async () => {
      const r = await getJson(`${srv.url}/readyz`);
      return r.status === 503 ? r : null;
    }, 3000);
    assert.ok(bad, '/readyz turns 503');
    assert.match(bad.json.reason, /^keys: reload failing: /);
    const m = await metrics(srv);
    assert.match(m, /^idpd_reload_ok\{snapshot="keys"\} 0$/m);
    assert.match(m, /^idpd_reload_failures_total\{snapshot="keys"\} [1-9]\d*$/m);
    assert.match(m, /^idpd_reload_ok\{snapshot="clients"\} 1$/m);

    // the client snapshot still follows the store, and tokens are still signed (previous keys)
    const late = createClient(dir, { audiences: [API], env: ALGS });
    assert.ok(await getsToken(srv, late), 'a client created while keys fail gets a token');
    assert.ok(await accessToken(srv.url, c));

    sql(dir, `UPDATE signing_keys SET enc_private = ${d.blob(blob)} WHERE ${where}`);
    const ok = await poll(async () => (await getJson(`${srv.url}/readyz`)).status === 200, 3000);
    assert.ok(ok, '/readyz back to 200 once the row is fixed');
    assert.match(await metrics(srv), /^idpd_reload_ok\{snapshot="keys"\} 1$/m);
  });

  testCleanExit(() => [srv]);
});

describe('readiness includes the store being able to write', () => {
  let dir;
  let srv;
  let flag;
  before(async () => {
    dir = initDataDir({ env: { IDPD_ALGS: 'ES256' } });
    flag = path.join(dir, 'disk-full');
    srv = await startServer(dir, { env: { IDPD_ALGS: 'ES256', IDPD_FAULT_STORE_FULL: flag } });
  });
  after(() => stopOk(srv));

  test('/readyz is 503 while the disk is full and 200 again after', async () => {
    assert.equal((await getJson(`${srv.url}/readyz`)).status, 200);
    writeFileSync(flag, '');
    const bad = await poll(async () => {
      const r = await getJson(`${srv.url}/readyz`);
      return r.status === 503 ? r : null;
    }, 5000);
    assert.ok(bad, '/readyz turns 503 while writes fail');
    assert.match(bad.json.reason, /^store: writes failing: /);
    assert.match(await metrics(srv), /^idpd_store_writable 0$/m);
    rmSync(flag);
    assert.ok(!existsSync(flag));
    const ok = await poll(async () => (await getJson(`${srv.url}/readyz`)).status === 200, 5000);
    assert.ok(ok, '/readyz back to 200 once writes succeed');
    assert.match(await metrics(srv), /^idpd_store_writable 1$/m);
  });

  testCleanExit(() => [srv]);
});
