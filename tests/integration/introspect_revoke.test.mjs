// POST /introspect (RFC 7662) and POST /revoke (RFC 7009).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SignJWT, UnsecuredJWT, decodeJwt, decodeProtectedHeader, generateKeyPair } from 'jose';
import {
  accessToken, cli, createClient, initDataDir, introspect, postForm, revoke, sleep, startServer,
  stopOk, testCleanExit,
} from '../lib/idpd.mjs';

const API = 'https://api.example.com';
const ALGS = { IDPD_ALGS: 'ES256 EdDSA' };

/** Replaces the character at index i of s with a different base64url character. */
function flipChar(s, i) {
  const c = s[i] === 'A' ? 'B' : 'A';
  return s.slice(0, i) + c + s.slice(i + 1);
}

describe('introspection and revocation', () => {
  let srv;
  let other; // a second idpd instance with its own keys
  let a;
  let ap; // a's twin registered for client_secret_post
  let b;
  let o;
  before(async () => {
    const dir = initDataDir({ env: ALGS });
    a = createClient(dir, { name: 'a', audiences: [API] });
    ap = createClient(dir, { name: 'a-post', audiences: [API], authMethod: 'client_secret_post' });
    b = createClient(dir, { name: 'b', scope: 'x' });
    srv = await startServer(dir, { env: ALGS });
    const dir2 = initDataDir({ env: ALGS });
    o = createClient(dir2, { name: 'o', audiences: [API] });
    other = await startServer(dir2, { env: ALGS });
  });
  after(async () => {
    await stopOk(other);
    await stopOk(srv);
  });

  test('introspection requires client authentication (401 invalid_client)', async () => {
    const tok = await accessToken(srv.url, a);
    for (const creds of [null, { ...a, client_secret: 'nope' }, { ...a, client_secret: 'nope', method: 'post' },
      { client_id: 'ghost', client_secret: a.client_secret }]) {
      const r = await introspect(srv.url, creds, tok);
      assert.equal(r.status, 401, r.text);
      assert.equal(r.json?.error, 'invalid_client');
      assert.equal('active' in r.json, false, 'no token information without authentication');
    }
  });

  test('active token -> {"active":true, ...} with the RFC 7662 members', async () => {
    for (const creds of [a, { ...ap, method: 'post' }]) {
      const tok = await accessToken(srv.url, creds, { scope: 'api:read' });
      const cl = decodeJwt(tok);
      const r = await introspect(srv.url, creds, tok);
      assert.equal(r.status, 200, r.text);
      assert.match(r.headers.get('content-type'), /^application\/json/);
      const j = r.json;
      assert.equal(j.active, true);
      assert.equal(j.scope, 'api:read');
      assert.equal(j.client_id, creds.client_id);
      assert.equal(j.sub, creds.client_id);
      assert.equal(j.aud, API);
      assert.equal(j.iss, srv.issuer);
      assert.equal(j.exp, cl.exp);
      assert.equal(j.iat, cl.iat);
      assert.equal(j.nbf, cl.nbf);
      assert.equal(j.jti, cl.jti);
      assert.equal(j.token_type, 'Bearer');
    }
  });

  test('token_type_hint is accepted', async () => {
    const tok = await accessToken(srv.url, a);
    for (const hint of ['access_token', 'refresh_token']) {
      const r = await introspect(srv.url, a, tok, { token_type_hint: hint });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.active, true);
    }
  });

  test('missing token -> 400 invalid_request', async () => {
    const r = await postForm(srv.url, '/introspect', a, {});
    assert.equal(r.status, 400, r.text);
    assert.equal(r.json?.error, 'invalid_request');
  });

  const inactive = async (tok, what) => {
    const r = await introspect(srv.url, a, tok);
    assert.equal(r.status, 200, `${what}: ${r.text}`);
    assert.deepEqual(r.json, { active: false }, what);
  };

  test('garbage -> {"active":false} and nothing else', async () => {
    for (const g of ['x', 'a.b.c', 'a.b', '....', 'eyJhbGciOiJFUzI1NiJ9.e30.', '%%%', 'a'.repeat(5000)]) {
      await inactive(g, g.slice(0, 30));
    }
  });

  test('tampered token (signature byte, payload byte, header) -> inactive', async () => {
    const tok = await accessToken(srv.url, a);
    const [h, p, s] = tok.split('.');
    await inactive(`${h}.${p}.${flipChar(s, 10)}`, 'flipped signature');
    await inactive(`${h}.${flipChar(p, 12)}.${s}`, 'flipped payload');
    await inactive(`${h}.${p}.`, 'signature removed');
    const payload = JSON.parse(Buffer.from(p, 'base64url'));
    payload.scope = 'api:read api:write admin';
    await inactive(`${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${s}`, 'modified claims');
  });

  test('token signed by a foreign key (same kid, same claims) -> inactive', async () => {
    const tok = await accessToken(srv.url, a);
    const hdr = decodeProtectedHeader(tok);
    const { privateKey } = await generateKeyPair('ES256');
    const forged = await new SignJWT(decodeJwt(tok)).setProtectedHeader(hdr).sign(privateKey);
    await inactive(forged, 'foreign key, real kid');
    const forged2 = await new SignJWT(decodeJwt(tok))
      .setProtectedHeader({ alg: 'ES256', kid: 'unknown-kid', typ: 'at+jwt' }).sign(privateKey);
    await inactive(forged2, 'foreign key, unknown kid');
  });

  test('alg "none" and HS256 with a public key as secret -> inactive (RFC 8725 §2.1)', async () => {
    const tok = await accessToken(srv.url, a);
    const cl = decodeJwt(tok);
    const kid = decodeProtectedHeader(tok).kid;
    const none = new UnsecuredJWT(cl).encode();
    const [, p] = none.split('.');
    const h = Buffer.from(JSON.stringify({ alg: 'none', kid, typ: 'at+jwt' })).toString('base64url');
    await inactive(`${h}.${p}.`, 'alg none');
    const jwks = await (await fetch(`${srv.url}/jwks.json`)).json();
    const secret = Buffer.from(JSON.stringify(jwks.keys.find((k) => k.kid === kid)));
    const hs = await new SignJWT(cl).setProtectedHeader({ alg: 'HS256', kid, typ: 'at+jwt' })
      .sign(new Uint8Array(secret));
    await inactive(hs, 'HS256 confusion');
  });

  test('token from another idpd instance -> inactive', async () => {
    const foreign = await accessToken(other.url, o);
    assert.equal((await introspect(other.url, o, foreign)).json.active, true, 'active at its issuer');
    await inactive(foreign, 'issued by another instance');
  });

  test('revocation: 200 with empty body; afterwards the token is inactive', async () => {
    const tok = await accessToken(srv.url, a);
    assert.equal((await introspect(srv.url, a, tok)).json.active, true);
    const r = await revoke(srv.url, a, tok);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.text, '');
    await inactive(tok, 'revoked');
    // revoking twice is fine
    assert.equal((await revoke(srv.url, a, tok)).status, 200);
    // other tokens of the same client are unaffected
    const tok2 = await accessToken(srv.url, a);
    assert.equal((await introspect(srv.url, a, tok2)).json.active, true);
  });

  test('revocation with client_secret_post and token_type_hint', async () => {
    const tok = await accessToken(srv.url, { ...ap, method: 'post' });
    const r = await revoke(srv.url, { ...ap, method: 'post' }, tok, { token_type_hint: 'access_token' });
    assert.equal(r.status, 200, r.text);
    assert.equal((await introspect(srv.url, { ...ap, method: 'post' }, tok)).json.active, false, 'revoked via post auth');
  });

  test('revocation of unknown or invalid tokens -> 200 (RFC 7009 §2.2)', async () => {
    for (const t of ['garbage', 'a.b.c', await accessToken(other.url, o)]) {
      const r = await revoke(srv.url, a, t);
      assert.equal(r.status, 200, `${t.slice(0, 20)}: ${r.text}`);
    }
  });

  test('revocation without token -> 400 invalid_request', async () => {
    const r = await postForm(srv.url, '/revoke', a, {});
    assert.equal(r.status, 400, r.text);
    assert.equal(r.json?.error, 'invalid_request');
  });

  test('revocation requires client authentication (401 invalid_client)', async () => {
    const tok = await accessToken(srv.url, a);
    const r = await revoke(srv.url, { ...a, client_secret: 'bad' }, tok);
    assert.equal(r.status, 401, r.text);
    assert.equal(r.json?.error, 'invalid_client');
    assert.equal((await introspect(srv.url, a, tok)).json.active, true, 'not revoked');
    const r2 = await revoke(srv.url, null, tok);
    assert.equal(r2.status, 401, r2.text);
    assert.equal((await introspect(srv.url, a, tok)).json.active, true, 'not revoked');
  });

  test('a client cannot revoke another client\'s token', async () => {
    const tok = await accessToken(srv.url, a);
    const r = await revoke(srv.url, b, tok);
    assert.equal(r.status, 200, r.text);
    assert.equal((await introspect(srv.url, a, tok)).json.active, true, 'still active after B revoked it');
  });

  testCleanExit(() => [other, srv]);
});

describe('expired tokens', () => {
  let srv;
  let c;
  let ttl;
  before(async () => {
    const env = { ...ALGS, IDPD_LEEWAY: '0' };
    const dir = initDataDir({ env });
    // the CLI's minimum lifetime is not part of the contract: use the shortest it accepts
    for (const t of ['2s', '3s', '5s', '1s']) {
      const r = cli(['client', 'create', '--name', 'short', '--grant-types', 'client_credentials',
        '--scope', 's', '--token-ttl', t, '--json'], { dataDir: dir });
      if (r.status === 0) {
        c = r.json;
        ttl = Number.parseInt(t, 10);
        break;
      }
    }
    srv = await startServer(dir, { env });
  });
  after(() => stopOk(srv));

  test('a token past exp (leeway 0) introspects inactive', async () => {
    assert.ok(c, 'client create accepts a --token-ttl of at most 5s');
    const tok = await accessToken(srv.url, c);
    const cl = decodeJwt(tok);
    assert.equal(cl.exp - cl.iat, ttl);
    const early = await introspect(srv.url, c, tok);
    if (Date.now() < cl.exp * 1000 - 300) assert.equal(early.json.active, true, 'active before exp');
    await sleep((cl.exp + 1) * 1000 - Date.now() + 200);
    const r = await introspect(srv.url, c, tok);
    assert.deepEqual(r.json, { active: false });
  });

  testCleanExit(() => [srv]);
});

describe('state survives a restart', () => {
  let dir;
  let srv;
  let c;
  before(async () => {
    dir = initDataDir({ env: ALGS });
    c = createClient(dir, { audiences: [API] });
  });
  after(() => stopOk(srv));

  test('a revoked token stays inactive and an unrevoked one stays active after a restart', async () => {
    let first = await startServer(dir, { env: ALGS });
    let kept;
    let revoked;
    try {
      kept = await accessToken(first.url, c);
      revoked = await accessToken(first.url, c);
      assert.equal((await revoke(first.url, c, revoked)).status, 200);
    } finally {
      await stopOk(first);
      first = null;
    }
    // the tokens name the first run's issuer: the second run (on another port) keeps it
    srv = await startServer(dir, { env: ALGS, issuer: decodeJwt(kept).iss });
    assert.equal((await introspect(srv.url, c, kept)).json.active, true, 'keys persisted');
    assert.deepEqual((await introspect(srv.url, c, revoked)).json, { active: false }, 'deny list persisted');
  });

  testCleanExit(() => [srv]);
});
