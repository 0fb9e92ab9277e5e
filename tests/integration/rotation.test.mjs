// Key rotation while the server runs (DESIGN §6): next -> current -> retired, visible within ~1 s,
// old tokens keep verifying; and rotation under concurrent token traffic loses no request.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createLocalJWKSet, createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import {
  accessToken, cliAsync, cliOk, createClient, getJson, initDataDir, introspect, poll, sleep,
  startServer, stopOk, token, testCleanExit,
} from '../lib/idpd.mjs';

const API = 'https://api.example.com';
const ALGS = { IDPD_ALGS: 'ES256 EdDSA' };

const keyList = (dir) => cliOk(['key', 'list', '--json'], { dataDir: dir }).json;
const kidOf = (keys, alg, state) => keys.find((k) => k.alg === alg && k.state === state)?.kid;

describe('key rotation with the server running', () => {
  let dir;
  let srv;
  let c;
  before(async () => {
    dir = initDataDir({ env: ALGS });
    c = createClient(dir, { audiences: [API] });
    srv = await startServer(dir, { env: ALGS });
  });
  after(() => stopOk(srv));

  test('next becomes current, a new next is published, old tokens stay valid', async () => {
    const before = keyList(dir);
    const oldCurrent = kidOf(before, 'ES256', 'current');
    const oldNext = kidOf(before, 'ES256', 'next');
    const oldTok = await accessToken(srv.url, c);
    assert.equal(decodeProtectedHeader(oldTok).kid, oldCurrent);

    cliOk(['key', 'rotate', '--force', '--alg', 'ES256'], { dataDir: dir, env: ALGS });
    const afterKeys = keyList(dir);
    const newNext = kidOf(afterKeys, 'ES256', 'next');
    assert.ok(newNext && newNext !== oldNext && newNext !== oldCurrent);
    assert.equal(kidOf(afterKeys, 'ES256', 'current'), oldNext);

    const t0 = Date.now();
    const published = await poll(async () => {
      const j = (await getJson(`${srv.url}/jwks.json`)).json;
      return j.keys.some((k) => k.kid === newNext) ? j : null;
    }, 2000);
    assert.ok(published, 'new next key in the JWKS within 2 s');
    assert.ok(published.keys.some((k) => k.kid === oldCurrent), 'retired key still published');
    assert.ok(published.keys.some((k) => k.kid === oldNext), 'new current key published');

    const signsWithNew = await poll(async () =>
      decodeProtectedHeader(await accessToken(srv.url, c)).kid === oldNext, 2000);
    assert.ok(signsWithNew, 'tokens carry the previous next kid within 2 s');
    assert.ok(Date.now() - t0 < 4000);
    // it stays that way
    for (let i = 0; i < 5; i++) assert.equal(decodeProtectedHeader(await accessToken(srv.url, c)).kid, oldNext);

    const JWKS = createRemoteJWKSet(new URL(`${srv.url}/jwks.json`));
    const { payload } = await jwtVerify(oldTok, JWKS, {
      issuer: srv.issuer, audience: API, typ: 'at+jwt', algorithms: ['ES256'],
    });
    assert.equal(payload.client_id, c.client_id);
    const r = await introspect(srv.url, c, oldTok);
    assert.equal(r.json.active, true, 'a token signed by the retired key introspects active');
    // EdDSA keys were not touched
    assert.equal(kidOf(afterKeys, 'EdDSA', 'current'), kidOf(before, 'EdDSA', 'current'));
  });

  testCleanExit(() => [srv]);
});

describe('rotation under load', () => {
  let dir;
  let srv;
  let c;
  before(async () => {
    dir = initDataDir({ env: ALGS });
    c = createClient(dir, { audiences: [API] });
    srv = await startServer(dir, { env: ALGS });
  });
  after(() => stopOk(srv));

  test('20 workers for 3 s while 3 forced rotations run: no failed request, every token verifies', async () => {
    const tokens = [];
    const failures = [];
    let stop = false;
    const worker = async () => {
      while (!stop) {
        try {
          const r = await token(srv.url, c);
          if (r.status === 200) tokens.push(r.json.access_token);
          else failures.push(`${r.status} ${r.text}`);
        } catch (e) {
          failures.push(String(e));
        }
      }
    };
    const rotations = (async () => {
      const results = [];
      for (let i = 0; i < 3; i++) {
        await sleep(700);
        results.push(await cliAsync(['key', 'rotate', '--force', '--alg', 'ES256'], { dataDir: dir, env: ALGS }));
      }
      return results;
    })();
    const workers = Array.from({ length: 20 }, worker);
    await sleep(3000);
    const rot = await rotations;
    stop = true;
    await Promise.all(workers);
    for (const r of rot) assert.equal(r.status, 0, `key rotate: ${r.stderr}`);
    assert.deepEqual(failures.slice(0, 5), [], `${failures.length} failed requests`);
    assert.ok(tokens.length >= 20, `only ${tokens.length} tokens issued`);

    // every token verifies against the JWKS fetched afterwards (retired keys stay published)
    await sleep(600);
    const jwks = createLocalJWKSet((await getJson(`${srv.url}/jwks.json`)).json);
    const kids = new Set();
    for (const t of tokens) {
      kids.add(decodeProtectedHeader(t).kid);
      await jwtVerify(t, jwks, { issuer: srv.issuer, audience: API, typ: 'at+jwt', algorithms: ['ES256'] });
    }
    assert.ok(kids.size >= 2, `tokens were signed by ${kids.size} key(s); rotation did not take effect`);
    const states = keyList(dir).filter((k) => k.alg === 'ES256');
    for (const kid of kids) assert.ok(states.some((k) => k.kid === kid), `kid ${kid} known to key list`);
  });

  testCleanExit(() => [srv]);
});
