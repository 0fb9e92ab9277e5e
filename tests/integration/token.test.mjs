// POST /token: client_credentials (RFC 6749 §4.4), client authentication (§2.3.1), errors (§5.2),
// resource indicators (RFC 8707), access-token format (RFC 9068).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import {
  accessToken, basic, cliOk, createClient, getJson, initDataDir, postForm, rawPost, rawRequest,
  startServer, stopOk, token, testCleanExit,
} from '../lib/idpd.mjs';

const API = 'https://api.example.com';
const OTHER = 'https://other.example.com';

function assertOAuthError(r, status, error) {
  assert.equal(r.status, status, `expected ${status} ${error}, got ${r.status} ${r.text}`);
  assert.equal(r.json?.error, error, r.text);
  assert.equal(typeof r.json.error_description, 'string', `error_description missing: ${r.text}`);
  assert.match(r.headers.get('content-type') || '', /^application\/json/);
  assert.match(r.headers.get('cache-control') || '', /no-store/);
}

describe('POST /token', () => {
  let dir;
  let srv;
  let c; // scopes api:read api:write, audiences API, OTHER, default alg
  let bare; // no audiences
  let post; // registered for client_secret_post
  const byAlg = {};
  before(async () => {
    dir = initDataDir();
    c = createClient(dir, { name: 'main', audiences: [API, OTHER] });
    bare = createClient(dir, { name: 'bare', scope: 'ping' });
    post = createClient(dir, { name: 'post', audiences: [API], authMethod: 'client_secret_post' });
    for (const alg of ['RS256', 'PS256', 'EdDSA', 'ES256']) {
      byAlg[alg] = createClient(dir, { name: `alg-${alg}`, tokenAlg: alg, audiences: [API] });
    }
    srv = await startServer(dir);
  });
  after(() => stopOk(srv));

  test('client_secret_basic: 200 with the RFC 6749 §5.1 members and no-store', async () => {
    const r = await token(srv.url, c);
    assert.equal(r.status, 200, r.text);
    assert.match(r.headers.get('content-type'), /^application\/json/);
    assert.match(r.headers.get('cache-control'), /no-store/);
    assert.match(r.headers.get('pragma') || '', /no-cache/);
    assert.equal(typeof r.json.access_token, 'string');
    assert.equal(r.json.token_type, 'Bearer');
    assert.equal(r.json.expires_in, 300);
    assert.deepEqual(r.json.scope.split(' ').sort(), ['api:read', 'api:write']);
    assert.equal('refresh_token' in r.json, false);
  });

  test('client_secret_post (a client registered for it): 200', async () => {
    const r = await token(srv.url, { ...post, method: 'post' });
    assert.equal(r.status, 200, r.text);
    assert.equal(decodeJwt(r.json.access_token).client_id, post.client_id);
  });

  test('Basic credentials are form-urlencoded (RFC 6749 §2.3.1): fully percent-encoded id and secret work', async () => {
    const pct = (s) => [...Buffer.from(s)].map((b) => '%' + b.toString(16).toUpperCase().padStart(2, '0')).join('');
    const hdr = 'Basic ' + Buffer.from(`${pct(c.client_id)}:${pct(c.client_secret)}`).toString('base64');
    const r = await postForm(srv.url, '/token', null, { grant_type: 'client_credentials' }, { authorization: hdr });
    assert.equal(r.status, 200, r.text);
    assert.equal(decodeJwt(r.json.access_token).sub, c.client_id);
  });

  test('wrong secret (Basic) -> 401 invalid_client with WWW-Authenticate', async () => {
    const r = await token(srv.url, { ...c, client_secret: c.client_secret + 'x' });
    assertOAuthError(r, 401, 'invalid_client');
    assert.match(r.headers.get('www-authenticate') || '', /^Basic realm="idpd"/);
  });

  test('unknown client (Basic) -> 401 invalid_client with WWW-Authenticate', async () => {
    const r = await token(srv.url, { client_id: 'no-such-client', client_secret: c.client_secret });
    assertOAuthError(r, 401, 'invalid_client');
    assert.match(r.headers.get('www-authenticate') || '', /^Basic realm="idpd"/);
  });

  test('wrong secret (post) -> 401 invalid_client', async () => {
    const r = await token(srv.url, { ...c, client_secret: 'wrong', method: 'post' });
    assertOAuthError(r, 401, 'invalid_client');
  });

  test('no client authentication -> 401 invalid_client', async () => {
    const r = await token(srv.url, null);
    assertOAuthError(r, 401, 'invalid_client');
  });

  test('empty secret and malformed Basic header -> 401 invalid_client', async () => {
    assertOAuthError(await token(srv.url, { ...c, client_secret: '' }), 401, 'invalid_client');
    for (const hdr of ['Basic', 'Basic !!!notbase64', 'Basic ' + Buffer.from('no-colon').toString('base64')]) {
      const r = await postForm(srv.url, '/token', null, { grant_type: 'client_credentials' }, { authorization: hdr });
      assert.ok([400, 401].includes(r.status), `${hdr}: ${r.status}`);
      assert.ok(['invalid_client', 'invalid_request'].includes(r.json?.error), `${hdr}: ${r.text}`);
    }
  });

  test('Basic and client_secret in the body at once -> 400 invalid_request', async () => {
    const r = await postForm(srv.url, '/token', null,
      { grant_type: 'client_credentials', client_id: c.client_id, client_secret: c.client_secret },
      { authorization: basic(c.client_id, c.client_secret) });
    assertOAuthError(r, 400, 'invalid_request');
  });

  test('missing grant_type -> 400 invalid_request', async () => {
    assertOAuthError(await postForm(srv.url, '/token', c, {}), 400, 'invalid_request');
  });

  test('unknown grant_type -> 400 unsupported_grant_type', async () => {
    for (const g of ['password', 'implicit', 'CLIENT_CREDENTIALS', 'urn:ietf:params:oauth:grant-type:device_code']) {
      assertOAuthError(await token(srv.url, c, { grant_type: g }), 400, 'unsupported_grant_type');
    }
  });

  test('a grant the client is not registered for -> 400 unauthorized_client', async () => {
    for (const g of ['authorization_code', 'refresh_token']) {
      assertOAuthError(await token(srv.url, c, { grant_type: g }), 400, 'unauthorized_client');
    }
  });

  test('scope: a subset is granted exactly', async () => {
    const r = await token(srv.url, c, { scope: 'api:read' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.scope, 'api:read');
    assert.equal(decodeJwt(r.json.access_token).scope, 'api:read');
  });

  test('scope: default is all of the client\'s scopes', async () => {
    const claims = decodeJwt(await accessToken(srv.url, c));
    assert.deepEqual(claims.scope.split(' ').sort(), ['api:read', 'api:write']);
  });

  test('scope: one the client does not have -> 400 invalid_scope', async () => {
    assertOAuthError(await token(srv.url, c, { scope: 'admin' }), 400, 'invalid_scope');
    assertOAuthError(await token(srv.url, c, { scope: 'api:read admin' }), 400, 'invalid_scope');
    assertOAuthError(await token(srv.url, c, { scope: 'api:rea' }), 400, 'invalid_scope');
  });

  test('resource -> aud (string); two resources -> aud array; none -> first audience', async () => {
    const one = decodeJwt(await accessToken(srv.url, c, { resource: OTHER }));
    assert.equal(one.aud, OTHER);
    const two = decodeJwt(await accessToken(srv.url, c, { resource: [API, OTHER] }));
    assert.deepEqual([...two.aud].sort(), [API, OTHER].sort());
    const none = decodeJwt(await accessToken(srv.url, c));
    assert.equal(none.aud, API);
  });

  test('client without audiences -> aud = issuer', async () => {
    const claims = decodeJwt(await accessToken(srv.url, { ...bare, client_secret: bare.client_secret }));
    assert.equal(claims.aud, srv.issuer);
  });

  test('unknown resource -> 400 invalid_target', async () => {
    assertOAuthError(await token(srv.url, c, { resource: 'https://evil.example.com' }), 400, 'invalid_target');
    assertOAuthError(await token(srv.url, c, { resource: [API, 'https://evil.example.com'] }), 400, 'invalid_target');
    assertOAuthError(await token(srv.url, bare, { resource: API }), 400, 'invalid_target');
  });

  test('JSON body instead of a form -> 400 invalid_request', async () => {
    const res = await fetch(`${srv.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: basic(c.client_id, c.client_secret) },
      body: JSON.stringify({ grant_type: 'client_credentials' }),
    });
    const r = { status: res.status, headers: res.headers, text: await res.text() };
    r.json = JSON.parse(r.text);
    assertOAuthError(r, 400, 'invalid_request');
  });

  test('missing Content-Type -> 400 invalid_request', async () => {
    const r = await rawRequest(srv.url, Buffer.from(
      `POST /token HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: ${basic(c.client_id, c.client_secret)}\r\n` +
      'Content-Length: 29\r\n\r\ngrant_type=client_credentials'));
    assert.equal(r.status, 400, r.body);
    assert.equal(r.json?.error, 'invalid_request');
  });

  test('repeated grant_type or scope -> 400 invalid_request', async () => {
    assertOAuthError(await token(srv.url, c, { grant_type: ['client_credentials', 'client_credentials'] }),
      400, 'invalid_request');
    assertOAuthError(await token(srv.url, c, { scope: ['api:read', 'api:write'] }), 400, 'invalid_request');
  });

  test('body over 64 KiB -> 413 with a JSON body; server stays up', async () => {
    const big = 'grant_type=client_credentials&pad=' + 'a'.repeat(70 * 1024);
    const r = await rawRequest(srv.url, rawPost(srv.url, '/token', big,
      { Authorization: basic(c.client_id, c.client_secret) }));
    assert.equal(r.status, 413, r.body);
    assert.equal(typeof r.json?.error, 'string', r.body);
    assert.equal((await getJson(`${srv.url}/healthz`)).status, 200);
  });

  test('a body just under 64 KiB is accepted (unknown parameters are ignored, RFC 6749 §3.2)', async () => {
    // two values of 30 KiB: the server may cap a single value (idpd: 32 KiB), not the body below 64 KiB
    const params = { pad1: 'a'.repeat(30 * 1024), pad2: 'b'.repeat(30 * 1024) };
    const r = await token(srv.url, c, params);
    assert.equal(r.status, 200, r.text.slice(0, 200));
  });

  test('GET /token -> 405', async () => {
    const r = await fetch(`${srv.url}/token?grant_type=client_credentials`, {
      headers: { authorization: basic(c.client_id, c.client_secret) },
    });
    assert.equal(r.status, 405);
    assert.match(r.headers.get('allow') || '', /POST/);
  });

  test('access token is an RFC 9068 JWT', async () => {
    const t0 = Math.floor(Date.now() / 1000);
    const r = await token(srv.url, c, { resource: API });
    const t1 = Math.ceil(Date.now() / 1000);
    const tok = r.json.access_token;
    assert.equal(tok.split('.').length, 3);
    const hdr = decodeProtectedHeader(tok);
    assert.equal(hdr.typ, 'at+jwt');
    assert.equal(hdr.alg, 'ES256');
    const jwks = (await getJson(`${srv.url}/jwks.json`)).json;
    const key = jwks.keys.find((k) => k.kid === hdr.kid);
    assert.ok(key, `kid ${hdr.kid} is in the JWKS`);
    assert.equal(key.alg, 'ES256');
    const current = cliOk(['key', 'list', '--json'], { dataDir: dir }).json
      .find((k) => k.alg === 'ES256' && k.state === 'current');
    assert.equal(hdr.kid, current.kid, 'signed with the current ES256 key');
    const cl = decodeJwt(tok);
    assert.equal(cl.iss, srv.issuer);
    assert.equal(cl.sub, c.client_id);
    assert.equal(cl.client_id, c.client_id);
    assert.equal(cl.aud, API);
    assert.equal(cl.exp - cl.iat, 300);
    assert.ok(cl.iat >= t0 - 1 && cl.iat <= t1 + 1, `iat ${cl.iat} is now`);
    assert.ok(cl.nbf <= cl.iat, 'nbf <= iat');
    assert.equal(typeof cl.jti, 'string');
    assert.ok(cl.jti.length >= 16, 'jti has enough entropy');
    assert.deepEqual(cl.scope.split(' ').sort(), ['api:read', 'api:write']);
    const cl2 = decodeJwt(await accessToken(srv.url, c));
    assert.notEqual(cl2.jti, cl.jti, 'jti unique across tokens');
  });

  test('jti is unique across 50 tokens', async () => {
    const toks = await Promise.all(Array.from({ length: 50 }, () => accessToken(srv.url, c)));
    assert.equal(new Set(toks.map((t) => decodeJwt(t).jti)).size, 50);
  });

  for (const alg of ['ES256', 'RS256', 'PS256', 'EdDSA']) {
    test(`per-client alg ${alg}: header alg and signature verify against the JWKS`, async () => {
      const tok = await accessToken(srv.url, byAlg[alg]);
      assert.equal(decodeProtectedHeader(tok).alg, alg);
      const jwks = createLocalJWKSet((await getJson(`${srv.url}/jwks.json`)).json);
      const { payload, protectedHeader } = await jwtVerify(tok, jwks, {
        issuer: srv.issuer, audience: API, typ: 'at+jwt', algorithms: [alg],
      });
      assert.equal(protectedHeader.alg, alg);
      assert.equal(payload.client_id, byAlg[alg].client_id);
    });
  }

  testCleanExit(() => [srv]);
});

describe('per-client token lifetime', () => {
  let srv;
  let c;
  before(async () => {
    const dir = initDataDir({ env: { IDPD_ALGS: 'ES256' } });
    c = createClient(dir, { ttl: '10m' });
    srv = await startServer(dir, { env: { IDPD_ALGS: 'ES256' } });
  });
  after(() => stopOk(srv));

  test('--token-ttl 10m -> expires_in 600 and exp - iat = 600', async () => {
    const r = await token(srv.url, c);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.expires_in, 600);
    const cl = decodeJwt(r.json.access_token);
    assert.equal(cl.exp - cl.iat, 600);
  });

  testCleanExit(() => [srv]);
});
