// The verified-token cache behind POST /introspect and /userinfo (issue 14 item 4;
// src/handle/oauth/own_token.h): a repeated token pays one signature check (the /metrics hit and
// miss counters show it), yet the answer is never staler than a fresh check — a revoked token, a
// deactivated user, a key removed from the JWKS and an expired token are inactive on the very
// next request although the token is cached. verify_cache_size bounds the cache; 0 turns it off.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import {
  accessToken, cli, cliOk, createClient, getJson, initDataDir, introspect, poll, postForm, revoke, sleep,
  startServer, stopOk, storeSql, testCleanExit,
} from '../lib/idpd.mjs';
import { Agent, authorizeUrl, codeFrom, createCodeClient, pkcePair, provisionUser, signIn } from '../lib/oidc.mjs';

const API = 'https://api.example.com';
const ENV = { IDPD_ALGS: 'ES256' };
const PW = 'Cache-Horse-7d1e0b';
const CB = 'http://127.0.0.1:9/cb';

/** The verified-token cache's counters from /metrics. */
async function cacheStats(srv) {
  const text = await (await fetch(`${srv.url}/metrics`)).text();
  const get = (name) => {
    const m = new RegExp(`^${name} (\\d+)$`, 'm').exec(text);
    assert.ok(m, `${name} missing from /metrics`);
    return Number(m[1]);
  };
  return { hits: get('idpd_verify_cache_hits_total'), misses: get('idpd_verify_cache_misses_total'),
    entries: get('idpd_verify_cache_entries') };
}

const delta = (a, b) => ({ hits: b.hits - a.hits, misses: b.misses - a.misses, entries: b.entries - a.entries });

describe('introspection through the verified-token cache', () => {
  let dir;
  let srv;
  let c; // client_credentials client
  let brief; // its twin with 2 s tokens
  let web; // code-flow client
  let rs; // a resource server that may introspect every token
  before(async () => {
    dir = initDataDir({ env: ENV });
    c = createClient(dir, { name: 'c', audiences: [API] });
    brief = createClient(dir, { name: 'brief', audiences: [API], ttl: 2 });
    web = createCodeClient(dir, { name: 'web' });
    rs = createClient(dir, { name: 'rs', introspect: 'any' });
    srv = await startServer(dir, { env: ENV });
  });
  after(() => stopOk(srv));

  test('metrics: the three cache series are exposed as counter, counter and gauge', async () => {
    const text = await (await fetch(`${srv.url}/metrics`)).text();
    assert.match(text, /^# TYPE idpd_verify_cache_hits_total counter$/m);
    assert.match(text, /^# TYPE idpd_verify_cache_misses_total counter$/m);
    assert.match(text, /^# TYPE idpd_verify_cache_entries gauge$/m);
  });

  test('the same token introspected 20 times: active each time, 1 miss then 19 hits, one entry', async () => {
    const tok = await accessToken(srv.url, c);
    const s0 = await cacheStats(srv);
    let first;
    for (let i = 0; i < 20; i++) {
      const r = await introspect(srv.url, c, tok);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.active, true, `introspection ${i}`);
      if (i === 0) first = r.json;
      else assert.deepEqual(r.json, first, 'a cached answer is the same answer');
    }
    assert.equal(first.jti, decodeJwt(tok).jti);
    assert.deepEqual(delta(s0, await cacheStats(srv)), { hits: 19, misses: 1, entries: 1 });
  });

  test('a token that fails verification is not cached (every try is a miss)', async () => {
    const tok = await accessToken(srv.url, c);
    const bad = `${tok.slice(0, -4)}${tok.slice(-4) === 'AAAA' ? 'BBBB' : 'AAAA'}`;
    const s0 = await cacheStats(srv);
    for (let i = 0; i < 3; i++) assert.equal((await introspect(srv.url, c, bad)).json.active, false);
    assert.deepEqual(delta(s0, await cacheStats(srv)), { hits: 0, misses: 3, entries: 0 });
  });

  test('revoked (POST /revoke) -> active:false on the next request, though answered from the cache', async () => {
    const tok = await accessToken(srv.url, c);
    assert.equal((await introspect(srv.url, c, tok)).json.active, true);
    assert.equal((await introspect(srv.url, c, tok)).json.active, true);
    const r = await revoke(srv.url, c, tok);
    assert.equal(r.status, 200, r.text);
    const s0 = await cacheStats(srv);
    const i = await introspect(srv.url, c, tok);
    assert.deepEqual(i.json, { active: false });
    // the signature check was skipped (a hit), the revocation rule was not
    assert.deepEqual(delta(s0, await cacheStats(srv)), { hits: 1, misses: 0, entries: 0 });
  });

  test('a user deactivated over SCIM -> introspection active:false and /userinfo 401 at once', async () => {
    const { user, scim } = await provisionUser(srv, dir, 'carol@example.com', PW);
    const { verifier, challenge } = pkcePair();
    const { final } = await signIn(new Agent(srv.url), authorizeUrl(srv.issuer, { client_id: web.client_id,
      redirect_uri: CB, response_type: 'code', scope: 'openid profile', code_challenge: challenge,
      code_challenge_method: 'S256' }), 'carol@example.com', PW);
    const t = await postForm(srv.url, '/token', web, { grant_type: 'authorization_code',
      code: codeFrom(final).code, redirect_uri: CB, code_verifier: verifier });
    assert.equal(t.status, 200, t.text);
    const at = t.json.access_token;
    const userinfo = () => fetch(`${srv.url}/userinfo`, { headers: { authorization: `Bearer ${at}` } });
    const s0 = await cacheStats(srv);
    assert.equal((await introspect(srv.url, rs, at)).json.active, true);
    assert.equal((await introspect(srv.url, rs, at)).json.active, true);
    const ui = await userinfo();
    assert.equal(ui.status, 200);
    assert.equal((await ui.json()).sub, user.id);
    // /userinfo shares the cache: one miss in all, then hits
    assert.deepEqual(delta(s0, await cacheStats(srv)), { hits: 2, misses: 1, entries: 1 });

    const p = await scim.patch(`/Users/${user.id}`, [{ op: 'replace', path: 'active', value: false }]);
    assert.equal(p.status, 200, p.text);
    const s1 = await cacheStats(srv);
    assert.deepEqual((await introspect(srv.url, rs, at)).json, { active: false });
    const ui2 = await userinfo();
    assert.equal(ui2.status, 401);
    assert.match(ui2.headers.get('www-authenticate') || '', /error="invalid_token"/);
    assert.deepEqual(delta(s1, await cacheStats(srv)), { hits: 2, misses: 0, entries: 0 });
  });

  test('its signing key removed from the JWKS -> active:false at once (the cached entry is dropped)', async () => {
    const tok = await accessToken(srv.url, c);
    const kid = decodeProtectedHeader(tok).kid;
    assert.equal((await introspect(srv.url, c, tok)).json.active, true);
    // rotated out: the key is retired but still published, so the cached token stays active
    cliOk(['key', 'rotate', '--force', '--alg', 'ES256'], { dataDir: dir, env: ENV });
    assert.ok(await poll(async () => decodeProtectedHeader(await accessToken(srv.url, c)).kid !== kid, 3000),
      'tokens are signed with the new key');
    const s0 = await cacheStats(srv);
    assert.equal((await introspect(srv.url, c, tok)).json.active, true, 'a retired key still verifies');
    assert.deepEqual(delta(s0, await cacheStats(srv)), { hits: 1, misses: 0, entries: 0 });
    // deleted: the key leaves the key set (the store's generation trigger makes the server reload)
    storeSql(dir, `DELETE FROM signing_keys WHERE kid = '${kid}'`);
    assert.ok(await poll(async () => !(await getJson(`${srv.url}/jwks.json`)).json.keys.some((k) => k.kid === kid), 3000),
      'the key left the JWKS');
    const s1 = await cacheStats(srv);
    assert.deepEqual((await introspect(srv.url, c, tok)).json, { active: false });
    const d = delta(s1, await cacheStats(srv));
    assert.equal(d.hits, 0, 'no cached answer for a token whose key is gone');
    assert.equal(d.misses, 1);
    assert.equal(d.entries, -1, 'its entry was dropped');
  });

  test('an expired token -> active:false from the second of its exp on, though cached', async () => {
    const tok = await accessToken(srv.url, brief);
    const { exp } = decodeJwt(tok);
    assert.ok(exp - Date.now() / 1000 <= 2.5, 'a 2 s token');
    assert.equal((await introspect(srv.url, brief, tok)).json.active, true);
    const s0 = await cacheStats(srv);
    assert.equal((await introspect(srv.url, brief, tok)).json.active, true);
    assert.deepEqual(delta(s0, await cacheStats(srv)), { hits: 1, misses: 0, entries: 0 });
    await sleep(Math.max(0, exp * 1000 - Date.now()) + 50);
    const s1 = await cacheStats(srv);
    assert.deepEqual((await introspect(srv.url, brief, tok)).json, { active: false });
    assert.deepEqual(delta(s1, await cacheStats(srv)), { hits: 0, misses: 1, entries: -1 });
  });

  testCleanExit(() => [srv]);
});

describe('verify_cache_size', () => {
  let dir;
  let off;
  let two;
  let c;
  before(async () => {
    dir = initDataDir({ env: ENV });
    c = createClient(dir, { name: 'c', audiences: [API] });
    off = await startServer(dir, { env: { ...ENV, IDPD_VERIFY_CACHE_SIZE: '0' } });
    two = await startServer(dir, { env: { ...ENV, IDPD_VERIFY_CACHE_SIZE: '2' } });
  });
  after(async () => {
    await stopOk(off);
    await stopOk(two);
  });

  test('0: no cache — every introspection verifies, nothing is counted or held, revocation works', async () => {
    const tok = await accessToken(off.url, c);
    for (let i = 0; i < 3; i++) assert.equal((await introspect(off.url, c, tok)).json.active, true);
    assert.deepEqual(await cacheStats(off), { hits: 0, misses: 0, entries: 0 });
    assert.equal((await revoke(off.url, c, tok)).status, 200);
    assert.equal((await introspect(off.url, c, tok)).json.active, false);
  });

  test('2: at most 2 entries whatever the number of tokens; each still introspects active', async () => {
    const toks = [];
    for (let i = 0; i < 6; i++) toks.push(await accessToken(two.url, c));
    for (const t of toks) assert.equal((await introspect(two.url, c, t)).json.active, true);
    const s = await cacheStats(two);
    assert.equal(s.entries, 2);
    assert.equal(s.misses, 6);
    for (const t of toks) assert.equal((await introspect(two.url, c, t)).json.active, true);
    assert.equal((await cacheStats(two)).entries, 2);
  });

  test('1000000 is accepted, 1000001 and -1 are refused by serve --check', () => {
    const ok = cli(['serve', '--check'], { dataDir: dir, env: { ...ENV, IDPD_VERIFY_CACHE_SIZE: '1000000' } });
    assert.equal(ok.status, 0, ok.stderr);
    for (const v of ['1000001', '-1']) {
      const r = cli(['serve', '--check'], { dataDir: dir, env: { ...ENV, IDPD_VERIFY_CACHE_SIZE: v } });
      assert.equal(r.status, 1, `${v}: ${r.stdout}`);
      assert.match(r.stderr, /verify_cache_size: (must be between 0 and 1000000|not a non-negative decimal integer)/);
    }
  });

  testCleanExit(() => [off, two]);
});
