// GET /forward-auth (docs/FORWARD_AUTH.md) spoken to directly, as a proxy would: each status and
// header, the policy's routes: (public, scopes, permissions, audience, host, methods), nginx and
// Traefik header names, hostile headers and refused paths, HEAD, a rotated key, an expired token,
// a deleted client, a revoked token and a deactivated user (through the node's denylist).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import {
  accessToken, cliOk, createClient, initDataDir, poll, postForm, rawRequest, revoke, sleep, startServer, stopOk,
  storeKind, storeSql, testCleanExit,
} from '../lib/idpd.mjs';
import { Agent, authorizeUrl, codeFrom, createCodeClient, pkcePair, provisionUser, signIn } from '../lib/oidc.mjs';

const ALGS = { IDPD_ALGS: 'ES256 EdDSA' };
const API = 'https://api.example';
const NS = 'https://idpd.example/claims/';
const CB = 'http://127.0.0.1:9/cb';
const PW = 'Forward-Pw-7c1e0d';

/** The policy: editor and viewer clients, and the routes under test. */
export function routesPolicy(editorId, viewerId) {
  return `version: 1
claim_namespace: "${NS}"
permissions:
  orders.read: ""
  orders.write: ""
roles:
  viewer: { permissions: [orders.read] }
  editor: { permissions: [orders.write], includes: [viewer] }
scopes:
  openid: {}
  orders:read: { requires: [orders.read], claims: [roles] }
  orders:write: { requires: [orders.write], claims: [roles] }
  orders:team: { requires: [orders.read], claims: [groups] }
resources:
  "${API}": { scopes: [orders:read, orders:write, orders:team] }
bindings:
  groups:
    fa-team: [viewer]
  users:
    "fauser@example.com": [editor]
  clients:
    "${editorId}": [editor]
    "${viewerId}": [viewer]
routes:
  - { path: /public, public: true }
  - { path: /api, scopes: [orders:read], audience: "${API}" }
  - { path: /api/orders, methods: [POST, PUT], scopes: [orders:write] }
  - { host: admin.example, path: /, permissions: [orders.write] }
  - { path: /other-aud, scopes: [orders:read], audience: https://elsewhere.example }
`;
}

/** GET /forward-auth with the nginx headers (opts.traefik: the Traefik ones). */
export function fa(url, { method = 'GET', uri = '/api/x', host, token, traefik = false, headers = {}, verb = 'GET' } = {}) {
  const h = traefik ? { 'X-Forwarded-Method': method, 'X-Forwarded-Uri': uri } : { 'X-Original-Method': method, 'X-Original-URI': uri };
  if (host) h['X-Forwarded-Host'] = host;
  if (token) h.Authorization = `Bearer ${token}`;
  return fetch(`${url}/forward-auth`, { method: verb, headers: { ...h, ...headers } });
}

function assertChallenge(r, error) {
  const w = r.headers.get('www-authenticate') || '';
  assert.match(w, /^Bearer realm="idpd"/, w);
  if (error) assert.match(w, new RegExp(`error="${error}"`), w);
  else assert.doesNotMatch(w, /error=/, w);
}

const raw = (url, lines) => rawRequest(url, Buffer.from([`GET /forward-auth HTTP/1.1`, `Host: ${new URL(url).host}`,
  'Connection: close', ...lines].join('\r\n') + '\r\n\r\n', 'latin1'));

describe('GET /forward-auth', () => {
  let dir;
  let srv;
  let editor;
  let viewer;
  let brief;
  let plain;
  before(async () => {
    dir = initDataDir({ env: ALGS });
    editor = createClient(dir, { name: 'editor', scope: 'orders:read orders:write', audiences: [API] });
    viewer = createClient(dir, { name: 'viewer', scope: 'orders:read orders:write', audiences: [API] });
    brief = createClient(dir, { name: 'brief', scope: 'orders:read', audiences: [API], ttl: 2 });
    plain = createClient(dir, { name: 'plain', scope: 'orders:read', audiences: [API] });
    const f = path.join(dir, 'routes.yaml');
    writeFileSync(f, routesPolicy(editor.client_id, viewer.client_id).replace(`"${viewer.client_id}": [viewer]`,
      `"${viewer.client_id}": [viewer]\n    "${brief.client_id}": [viewer]\n    "${plain.client_id}": [viewer]`));
    cliOk(['policy', 'apply', f], { dataDir: dir });
    srv = await startServer(dir, { env: ALGS });
  });
  after(async () => { await srv?.stop(); });

  test('allowed: 200 with the identity headers, no body', async () => {
    const tok = await accessToken(srv.url, editor, { scope: 'orders:read orders:write', resource: API });
    const r = await fa(srv.url, { token: tok, uri: '/api/orders?x=1' });
    assert.equal(r.status, 200, await r.clone().text());
    assert.equal(r.headers.get('x-auth-subject'), editor.client_id);
    assert.equal(r.headers.get('x-auth-client-id'), editor.client_id);
    assert.equal(r.headers.get('x-auth-scope'), 'orders:read orders:write');
    assert.equal(r.headers.get('x-auth-roles'), decodeJwt(tok)[`${NS}roles`].join(','));
    assert.match(r.headers.get('x-auth-roles'), /editor/);
    assert.equal(r.headers.get('x-auth-groups'), null, 'a claim the token lacks: no header');
    assert.equal(r.headers.get('www-authenticate'), null);
    assert.equal(r.headers.get('cache-control'), 'no-store');
    assert.equal(await r.text(), '');
    // HEAD (routed as GET) and Traefik's header names give the same answer
    const h = await fa(srv.url, { token: tok, verb: 'HEAD' });
    assert.equal(h.status, 200);
    assert.equal(h.headers.get('x-auth-subject'), editor.client_id);
    const t = await fa(srv.url, { token: tok, traefik: true, method: 'POST', uri: '/api/orders/7' });
    assert.equal(t.status, 200);
    assert.equal(t.headers.get('x-auth-client-id'), editor.client_id);
    // the original HEAD of a GET rule
    assert.equal((await fa(srv.url, { token: tok, method: 'HEAD', uri: '/api/x' })).status, 200);
  });

  test("Envoy's ext_authz form: the check in the original method, path_prefix with a query", async () => {
    const tok = await accessToken(srv.url, editor, { scope: 'orders:read orders:write', resource: API });
    const ro = await accessToken(srv.url, plain, { scope: 'orders:read', resource: API });
    const envoy = (verb, uri, token) => fetch(`${srv.url}/forward-auth?envoy=${encodeURIComponent(uri)}`, {
      method: verb, headers: { 'X-Forwarded-Method': verb, 'X-Forwarded-Uri': uri, 'X-Forwarded-Host': 'app.example',
        ...(token ? { Authorization: `Bearer ${token}` } : {}), 'Content-Length': '0' } });
    for (const verb of ['POST', 'PUT']) {
      const r = await envoy(verb, '/api/orders/7', tok);
      assert.equal(r.status, 200, `${verb}: ${await r.clone().text()}`);
      assert.equal(r.headers.get('x-auth-client-id'), editor.client_id);
      const w = await envoy(verb, '/api/orders/7', ro);
      assert.equal(w.status, 403, verb);
      assertChallenge(w, 'insufficient_scope');
    }
    for (const verb of ['PATCH', 'DELETE', 'OPTIONS']) {
      const r = await envoy(verb, '/api/x', tok);
      assert.equal(r.status, 200, `${verb}: ${await r.clone().text()}`);
      const n = await envoy(verb, '/api/x');
      assert.equal(n.status, 401, verb);
      assertChallenge(n, 'invalid_token');
    }
  });

  test('401 invalid_token: no token, malformed, bad signature, foreign or unsigned token', async () => {
    const none = await fa(srv.url, {});
    assert.equal(none.status, 401);
    assertChallenge(none, 'invalid_token');
    assert.equal((await none.json()).error, 'invalid_token');
    const tok = await accessToken(srv.url, editor, { scope: 'orders:read', resource: API });
    const [h, p, s] = tok.split('.');
    const bad = [`${h}.${p}.${s.slice(0, -4)}AAAA`, 'not a token', 'a.b.c',
      `${Buffer.from('{"alg":"none","typ":"at+jwt"}').toString('base64url')}.${p}.`, 'x'.repeat(20000)];
    for (const b of bad) {
      const r = await fa(srv.url, { headers: { Authorization: `Bearer ${b}` } });
      assert.equal(r.status, 401, b.slice(0, 40));
      assertChallenge(r, 'invalid_token');
    }
    const basic = await fa(srv.url, { headers: { Authorization: 'Basic Zm9vOmJhcg==' } });
    assert.equal(basic.status, 401);
    assertChallenge(basic, 'invalid_token');
  });

  test('403 insufficient_scope with the scope attribute; audience and permissions', async () => {
    const readOnly = await accessToken(srv.url, editor, { scope: 'orders:read', resource: API });
    const r = await fa(srv.url, { token: readOnly, method: 'POST', uri: '/api/orders' });
    assert.equal(r.status, 403);
    assertChallenge(r, 'insufficient_scope');
    assert.match(r.headers.get('www-authenticate'), /scope="orders:write"/);
    assert.equal((await r.json()).error, 'insufficient_scope');
    // the rule's audience is not the token's
    const o = await fa(srv.url, { token: readOnly, uri: '/other-aud' });
    assert.equal(o.status, 403);
    assertChallenge(o, 'insufficient_scope');
    // host rule needs permission orders.write: the viewer lacks it, the editor has it
    const v = await accessToken(srv.url, viewer, { scope: 'orders:read', resource: API });
    const pv = await fa(srv.url, { token: v, host: 'Admin.Example:443', uri: '/x' });
    assert.equal(pv.status, 403);
    assertChallenge(pv, 'insufficient_scope');
    assert.equal((await fa(srv.url, { token: readOnly, host: 'admin.example', uri: '/x' })).status, 200);
  });

  test('no rule: 403 access_denied without a Bearer error; public rule: 200, no identity', async () => {
    const tok = await accessToken(srv.url, editor, { scope: 'orders:read', resource: API });
    const r = await fa(srv.url, { token: tok, uri: '/nothing/here' });
    assert.equal(r.status, 403);
    assert.equal(r.headers.get('www-authenticate'), null);
    assert.equal((await r.json()).error, 'access_denied');
    for (const t of [undefined, tok, 'garbage']) {
      const p = await fa(srv.url, { token: t, uri: '/public/page' });
      assert.equal(p.status, 200);
      assert.equal(p.headers.get('x-auth-subject'), null);
    }
    // "/publicx" is not under "/public"
    assert.equal((await fa(srv.url, { uri: '/publicx' })).status, 403);
  });

  test('proxy misconfiguration: 400 invalid_request; hostile paths and hosts: 403, never 5xx', async () => {
    const tok = await accessToken(srv.url, editor, { scope: 'orders:read', resource: API });
    for (const headers of [{}, { 'X-Original-Method': 'GET' }, { 'X-Original-URI': '/api' }]) {
      const r = await fetch(`${srv.url}/forward-auth`, { headers: { Authorization: `Bearer ${tok}`, ...headers } });
      assert.equal(r.status, 400, JSON.stringify(headers));
      assert.equal((await r.json()).error, 'invalid_request');
    }
    const clash = await fa(srv.url, { token: tok, headers: { 'X-Forwarded-Uri': '/public' } });
    assert.equal(clash.status, 400, 'X-Original-URI and X-Forwarded-Uri disagree');
    assert.equal((await fa(srv.url, { token: tok, method: 'G(T' })).status, 400);
    for (const uri of ['/api/../admin', '/public/%2e%2e/api', '/api/%2F..', '//api', '/public\\..\\api', '/api/%00',
      '/public/./x', `/api/${'a'.repeat(3000)}`, 'api', '*']) {
      const r = await fa(srv.url, { token: tok, uri });
      assert.equal(r.status, 403, uri);
      assert.equal((await r.json()).error, 'access_denied', uri);
    }
    for (const host of ['a b', 'evil.example, admin.example', '[::1', 'x'.repeat(300)]) {
      const r = await fa(srv.url, { token: tok, host });
      assert.equal(r.status, 403, host);
    }
    // raw bytes fetch refuses: control characters in the URI, a header-splitting attempt
    const c = await raw(srv.url, ['X-Original-Method: GET', 'X-Original-URI: /public/\x01x']);
    assert.ok(c.status === 403 || c.status === 400, String(c.status));
    const s = await raw(srv.url, ['X-Original-Method: GET', 'X-Original-URI: /public\r X-Auth-Subject: admin']);
    assert.ok(s.status > 0 && s.status < 500, String(s.status));
    assert.equal(s.headers['x-auth-subject'], undefined);
  });

  test('a rotated key: old and new tokens pass', async () => {
    const old = await accessToken(srv.url, editor, { scope: 'orders:read', resource: API });
    assert.equal((await fa(srv.url, { token: old })).status, 200);
    cliOk(['key', 'rotate', '--force', '--alg', 'ES256'], { dataDir: dir, env: ALGS });
    const fresh = await poll(async () => {
      const t = await accessToken(srv.url, editor, { scope: 'orders:read', resource: API });
      return decodeProtectedHeader(t).kid !== decodeProtectedHeader(old).kid ? t : null;
    }, 3000);
    assert.ok(fresh, 'the server signs with the new key');
    assert.equal((await fa(srv.url, { token: fresh })).status, 200);
    assert.equal((await fa(srv.url, { token: old })).status, 200, 'the retired key still verifies');
  });

  test('an expired token: 401 invalid_token', async () => {
    const tok = await accessToken(srv.url, brief, { scope: 'orders:read', resource: API });
    assert.equal((await fa(srv.url, { token: tok })).status, 200);
    const exp = decodeJwt(tok).exp * 1000;
    await sleep(Math.max(0, exp - Date.now()) + 50);
    const r = await fa(srv.url, { token: tok });
    assert.equal(r.status, 401);
    assertChallenge(r, 'invalid_token');
  });

  test('a deleted client: its tokens are refused (401)', async () => {
    const tok = await accessToken(srv.url, plain, { scope: 'orders:read', resource: API });
    assert.equal((await fa(srv.url, { token: tok })).status, 200);
    cliOk(['client', 'delete', plain.client_id], { dataDir: dir });
    assert.ok(await poll(async () => (await fa(srv.url, { token: tok })).status === 401, 3000));
  });

  test('a revoked token: 401 within the background tail', async () => {
    const tok = await accessToken(srv.url, viewer, { scope: 'orders:read', resource: API });
    assert.equal((await fa(srv.url, { token: tok })).status, 200);
    const rv = await revoke(srv.url, viewer, tok);
    assert.equal(rv.status, 200, rv.text);
    assert.ok(await poll(async () => (await fa(srv.url, { token: tok })).status === 401, 3000));
    const other = await accessToken(srv.url, viewer, { scope: 'orders:read', resource: API });
    assert.equal((await fa(srv.url, { token: other })).status, 200, 'only the revoked jti');
  });

  test('a deactivated user: their tokens are refused (401) within the background tail', async () => {
    const web = createCodeClient(dir, { name: 'fa-web', scope: 'openid orders:read', redirectUris: [CB], audiences: [API] });
    await sleep(600);
    const { user, scim } = await provisionUser(srv, dir, 'fauser@example.com', PW);
    const { verifier, challenge } = pkcePair();
    const { final } = await signIn(new Agent(srv.url), authorizeUrl(srv.issuer, { client_id: web.client_id, redirect_uri: CB,
      response_type: 'code', scope: 'openid orders:read', resource: API, code_challenge: challenge,
      code_challenge_method: 'S256' }), 'fauser@example.com', PW);
    const t = await postForm(srv.url, '/token', web, { grant_type: 'authorization_code', code: codeFrom(final).code,
      redirect_uri: CB, code_verifier: verifier });
    assert.equal(t.status, 200, t.text);
    const ok = await fa(srv.url, { token: t.json.access_token });
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get('x-auth-subject'), user.id);
    assert.equal(ok.headers.get('x-auth-client-id'), web.client_id);
    const p = await scim.patch(`/Users/${user.id}`, [{ op: 'replace', path: 'active', value: false }]);
    assert.equal(p.status, 200, p.text);
    assert.ok(await poll(async () => (await fa(srv.url, { token: t.json.access_token })).status === 401, 3000));
  });

  test("X-Auth-Groups: the user's groups the policy binds (a scope with claims: [groups]), no others", async () => {
    const web = createCodeClient(dir, { name: 'fa-groups', scope: 'openid orders:read orders:team', redirectUris: [CB],
      audiences: [API] });
    await sleep(600);
    const { user, scim } = await provisionUser(srv, dir, 'fagroups@example.com', PW);
    for (const name of ['fa-team', 'fa-unbound']) {
      const g = await scim.post('/Groups', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: name,
        members: [{ value: user.id }] });
      assert.equal(g.status, 201, g.text);
    }
    const { verifier, challenge } = pkcePair();
    const { final } = await signIn(new Agent(srv.url), authorizeUrl(srv.issuer, { client_id: web.client_id, redirect_uri: CB,
      response_type: 'code', scope: 'openid orders:read orders:team', resource: API, code_challenge: challenge,
      code_challenge_method: 'S256' }), 'fagroups@example.com', PW);
    const t = await postForm(srv.url, '/token', web, { grant_type: 'authorization_code', code: codeFrom(final).code,
      redirect_uri: CB, code_verifier: verifier });
    assert.equal(t.status, 200, t.text);
    assert.deepEqual(decodeJwt(t.json.access_token)[`${NS}groups`], ['fa-team'], 'only the bound group');
    const r = await fa(srv.url, { token: t.json.access_token });
    assert.equal(r.status, 200, await r.clone().text());
    assert.equal(r.headers.get('x-auth-subject'), user.id);
    assert.equal(r.headers.get('x-auth-groups'), 'fa-team');
  });

  testCleanExit(() => [srv]);
});

describe('GET /forward-auth with an overflowed denylist', () => {
  let srv;
  let c;
  test('fails closed: 503 temporarily_unavailable with Retry-After, never 200', async () => {
    const dir = initDataDir({ env: ALGS });
    c = createClient(dir, { name: 'c', scope: 'orders:read', audiences: [API] });
    const f = path.join(dir, 'routes.yaml');
    writeFileSync(f, routesPolicy(c.client_id, 'nobody'));
    cliOk(['policy', 'apply', f], { dataDir: dir });
    // more retained revocations than the list holds (DENYLIST_DEFAULT_MAX_JTI = 100000)
    const now = Math.floor(Date.now() / 1000);
    const N = 100001;
    storeSql(dir, storeKind === 'pg'
      // PostgreSQL numbers events from rev_bound.seq (migrations/0003_rev_events.sql)
      ? `INSERT INTO rev_events (seq, kind, subject, epoch, event_at, until_at)
           SELECT i, 1, 'jti-' || i, 0, ${now}, ${now + 3600} FROM generate_series(1, ${N}) AS i;
         UPDATE rev_bound SET seq = ${N} WHERE id = 1`
      : `INSERT INTO rev_events (kind, subject, epoch, event_at, until_at)
           WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${N})
           SELECT 1, 'jti-' || i, 0, ${now}, ${now + 3600} FROM n`);
    srv = await startServer(dir, { env: ALGS });
    const tok = await accessToken(srv.url, c, { scope: 'orders:read', resource: API });
    const r = await fa(srv.url, { token: tok });
    assert.equal(r.status, 503, await r.clone().text());
    assert.equal(r.headers.get('retry-after'), '5');
    assert.equal(r.headers.get('x-auth-subject'), null);
    assert.equal((await r.json()).error, 'temporarily_unavailable');
    // what needs no token is still answered
    assert.equal((await fa(srv.url, { uri: '/public/x' })).status, 200);
    assert.equal((await fa(srv.url, { uri: '/api/x' })).status, 401);
    await stopOk(srv);
  });
});

describe('GET /forward-auth when the revocation events cannot be read', () => {
  test('fails closed once the tail is stale (503 + Retry-After), recovers when the store is back', async () => {
    const dir = initDataDir({ env: ALGS });
    const c = createClient(dir, { name: 'c', scope: 'orders:read', audiences: [API] });
    const f = path.join(dir, 'routes.yaml');
    writeFileSync(f, routesPolicy(c.client_id, 'nobody'));
    cliOk(['policy', 'apply', f], { dataDir: dir });
    const srv = await startServer(dir, { env: ALGS });
    try {
      const tok = await accessToken(srv.url, c, { scope: 'orders:read', resource: API });
      assert.equal((await fa(srv.url, { token: tok })).status, 200);
      // the node's tail now fails on every wake-up (as with an unreachable store)
      storeSql(dir, 'ALTER TABLE rev_events RENAME TO rev_events_away');
      const t0 = Date.now();
      const r = await poll(async () => {
        const x = await fa(srv.url, { token: tok });
        return x.status === 503 ? x : null;
      }, 9000, 200);
      assert.ok(r, 'a stale revocation list still let the token through');
      assert.ok(Date.now() - t0 >= 4000, 'not before the 5 s bound (4 wake-ups, at least 5 s)');
      assert.equal(r.headers.get('retry-after'), '5');
      const body = await r.json();
      assert.equal(body.error, 'temporarily_unavailable');
      assert.doesNotMatch(body.error_description || '', /rev_events|sqlite|table/i, '5xx: a generic body');
      assert.equal((await fa(srv.url, { uri: '/public/x' })).status, 200, 'public rules need no revocation state');
      storeSql(dir, 'ALTER TABLE rev_events_away RENAME TO rev_events');
      assert.ok(await poll(async () => (await fa(srv.url, { token: tok })).status === 200, 3000));
    } finally {
      await stopOk(srv);
    }
  });
});
