// The mock upstream OpenID provider (tests/lib/upstream.mjs) itself, so that federation and
// verifier tests can rely on it: discovery, sign + verify through createRemoteJWKSet, rotation,
// /keys failure modes, the authorization code flow with PKCE S256 and client_secret_basic.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createRemoteJWKSet, jwtVerify, decodeProtectedHeader } from 'jose';
import { startUpstream } from '../lib/upstream.mjs';

const servers = [];
async function start(o) {
  const up = await startUpstream(o);
  servers.push(up);
  return up;
}
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

const noCache = (up) => createRemoteJWKSet(new URL(up.jwksUri), { cacheMaxAge: 0, cooldownDuration: 0 });

describe('upstream mock', () => {
  for (const alg of ['RS256', 'ES256']) {
    test(`${alg}: discovery, sign and verify with createRemoteJWKSet`, async () => {
      const up = await start({ alg });
      assert.match(up.issuer, /^http:\/\/127\.0\.0\.1:\d+$/);
      const r = await fetch(`${up.issuer}/.well-known/openid-configuration`);
      assert.equal(r.status, 200);
      const m = await r.json();
      assert.equal(m.issuer, up.issuer);
      assert.equal(m.jwks_uri, `${up.issuer}/keys`);
      assert.equal(m.authorization_endpoint, `${up.issuer}/authorize`);
      assert.equal(m.token_endpoint, `${up.issuer}/token`);
      assert.deepEqual(m.id_token_signing_alg_values_supported, [alg]);
      const jwt = await up.sign({ iss: up.issuer, sub: 'a', aud: 'x' }, { typ: 'JWT' });
      const { payload, protectedHeader } = await jwtVerify(jwt, createRemoteJWKSet(new URL(m.jwks_uri)), {
        issuer: up.issuer,
        audience: 'x',
      });
      assert.equal(payload.sub, 'a');
      assert.equal(protectedHeader.alg, alg);
      assert.equal(protectedHeader.kid, up.signingKid);
      assert.equal(protectedHeader.typ, 'JWT');
      const keys = (await (await fetch(up.jwksUri)).json()).keys;
      for (const k of keys) for (const p of ['d', 'p', 'q', 'dp', 'dq', 'qi']) assert.equal(k[p], undefined);
      assert.equal(up.keysRequests, 2);
    });
  }

  test('rotation, added and removed keys, unpublished key, max-age', async () => {
    const up = await start({ alg: 'ES256', issuer: (o) => `${o}/tenant` });
    assert.equal(up.issuer, `${up.url}/tenant`);
    const jwks = noCache(up);
    const k1 = up.signingKid;
    const k2 = await up.addKey({ alg: 'RS256' });
    assert.deepEqual(up.kids(), [k1, k2]);
    assert.equal(up.signingKid, k1); // published, not signing
    assert.equal(decodeProtectedHeader(await up.sign({})).kid, k1);
    const k3 = await up.rotate();
    assert.equal(up.signingKid, k3);
    const t3 = await up.sign({ n: 3 });
    assert.equal((await jwtVerify(t3, jwks)).payload.n, 3);
    const t1 = await up.sign({ n: 1 }, { kid: k1 });
    assert.equal((await jwtVerify(t1, jwks)).protectedHeader.kid, k1);
    const t2 = await up.sign({ n: 2 }, { kid: k2 });
    assert.equal((await jwtVerify(t2, jwks)).protectedHeader.alg, 'RS256');
    up.removeKeys(k1);
    assert.deepEqual(up.kids(), [k2, k3]);
    await assert.rejects(jwtVerify(t1, jwks), { code: 'ERR_JWKS_NO_MATCHING_KEY' });
    // the removed key can still sign for negative tests; so can a never-published one
    await assert.rejects(jwtVerify(await up.sign({}, { kid: k1 }), jwks), { code: 'ERR_JWKS_NO_MATCHING_KEY' });
    const forged = await up.sign({}, { kid: k3, unpublished: true });
    assert.equal(decodeProtectedHeader(forged).kid, k3);
    await assert.rejects(jwtVerify(forged, jwks), { code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' });
    const stranger = await up.sign({}, { unpublished: true });
    assert.equal(decodeProtectedHeader(stranger).kid, up.unpublishedKid);
    const none = await up.sign({}, { alg: 'none' });
    assert.equal(decodeProtectedHeader(none).alg, 'none');
    assert.ok(none.endsWith('.'));
    const extra = await up.sign({}, { header: { jku: 'https://attacker.example/keys', x: 1 } });
    assert.equal(decodeProtectedHeader(extra).jku, 'https://attacker.example/keys');
    let r = await fetch(up.jwksUri);
    assert.equal(r.headers.get('cache-control'), 'no-store');
    up.setMaxAge(120);
    r = await fetch(up.jwksUri);
    assert.equal(r.headers.get('cache-control'), 'public, max-age=120');
  });

  test('/keys failure modes and request counting', async () => {
    const up = await start({ alg: 'ES256' });
    const before = up.keysRequests;
    up.failKeys(500);
    assert.equal((await fetch(up.jwksUri)).status, 500);
    up.failKeys(503);
    assert.equal((await fetch(up.jwksUri)).status, 503);
    up.failKeys('redirect');
    const red = await fetch(up.jwksUri, { redirect: 'manual' });
    assert.equal(red.status, 302);
    assert.equal(red.headers.get('location'), `${up.url}/keys-moved`);
    up.failKeys('garbage');
    const g = await fetch(up.jwksUri);
    assert.equal(g.status, 200);
    await assert.rejects(g.json());
    up.failKeys('oversize');
    const big = await (await fetch(up.jwksUri)).text();
    assert.ok(big.length > 256 * 1024);
    up.failKeys('hang');
    await assert.rejects(fetch(up.jwksUri, { signal: AbortSignal.timeout(200) }), { name: 'TimeoutError' });
    up.failKeys(null);
    assert.equal((await fetch(up.jwksUri)).status, 200);
    assert.equal(up.keysRequests - before, 7);
    assert.equal(up.requestCount('/keys'), up.keysRequests);
    assert.equal(up.requests.at(-1).method, 'GET');
  });

  test('hung requests do not keep close() waiting', async () => {
    const up = await startUpstream({ alg: 'ES256' });
    up.failKeys('hang');
    const p = fetch(up.jwksUri).catch((e) => e);
    while (up.keysRequests === 0) await new Promise((r) => setTimeout(r, 10));
    await up.close();
    assert.ok((await p) instanceof Error);
  });

  test('authorization code flow with PKCE S256 and client_secret_basic', async () => {
    const up = await start({ alg: 'RS256', clientId: 'rp', clientSecret: 's3cr:t', issInRedirect: true });
    up.setAuthorize({ sub: 'alice', claims: { email: 'alice@example.com', email_verified: true } });
    const verifier = randomBytes(32).toString('base64url');
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    const redirect = 'http://127.0.0.1:1/cb';
    const authz = (extra = {}) => {
      const u = new URL(`${up.url}/authorize`);
      const q = { response_type: 'code', client_id: 'rp', redirect_uri: redirect, state: 'st', nonce: 'nn',
        scope: 'openid email', code_challenge: challenge, code_challenge_method: 'S256', ...extra };
      for (const [k, v] of Object.entries(q)) u.searchParams.set(k, v);
      return fetch(u, { redirect: 'manual' });
    };
    const basic = (id, secret) =>
      'Basic ' + Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64');
    const tokenReq = (params, auth = basic('rp', 's3cr:t')) =>
      fetch(`${up.url}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...(auth ? { authorization: auth } : {}) },
        body: new URLSearchParams(params),
      });

    let r = await authz();
    assert.equal(r.status, 302);
    let loc = new URL(r.headers.get('location'));
    assert.equal(loc.origin + loc.pathname, redirect);
    assert.equal(loc.searchParams.get('state'), 'st');
    assert.equal(loc.searchParams.get('iss'), up.issuer);
    const code = loc.searchParams.get('code');
    assert.ok(code);
    assert.equal(up.authorizations.at(-1).nonce, 'nn');
    assert.equal(up.authorizations.at(-1).code_challenge, challenge);

    // wrong secret, wrong verifier (the code is then spent)
    assert.equal((await tokenReq({ grant_type: 'authorization_code', code, redirect_uri: redirect,
      code_verifier: verifier }, basic('rp', 'nope'))).status, 401);
    r = await tokenReq({ grant_type: 'authorization_code', code, redirect_uri: redirect, code_verifier: 'x'.repeat(43) });
    assert.equal(r.status, 400);
    assert.equal((await r.json()).error, 'invalid_grant');

    r = await authz();
    const code2 = new URL(r.headers.get('location')).searchParams.get('code');
    r = await tokenReq({ grant_type: 'authorization_code', code: code2, redirect_uri: redirect, code_verifier: verifier });
    assert.equal(r.status, 200);
    const tok = await r.json();
    assert.equal(tok.token_type, 'Bearer');
    assert.ok(tok.access_token);
    const { payload } = await jwtVerify(tok.id_token, createRemoteJWKSet(new URL(up.jwksUri)), {
      issuer: up.issuer, audience: 'rp' });
    assert.equal(payload.sub, 'alice');
    assert.equal(payload.nonce, 'nn');
    assert.equal(payload.email, 'alice@example.com');
    assert.ok(payload.exp > payload.iat);
    // a code works once
    r = await tokenReq({ grant_type: 'authorization_code', code: code2, redirect_uri: redirect, code_verifier: verifier });
    assert.equal(r.status, 400);
    assert.equal(up.tokenRequests.length, 4);

    // denial
    up.setAuthorize({ approve: false });
    r = await authz();
    loc = new URL(r.headers.get('location'));
    assert.equal(loc.searchParams.get('error'), 'access_denied');
    assert.equal(loc.searchParams.get('state'), 'st');
    assert.equal(loc.searchParams.get('code'), null);
  });
});
