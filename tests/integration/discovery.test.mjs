// Discovery (RFC 8414 / OIDC Discovery), JWKS (RFC 7517), /healthz, unknown paths, methods.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { calculateJwkThumbprint } from 'jose';
import { cliOk, getJson, initDataDir, startServer, stopOk, testCleanExit } from '../lib/idpd.mjs';

const AUTH_METHODS = ['client_secret_basic', 'client_secret_post'];
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

describe('discovery and jwks', () => {
  let dir;
  let srv;
  before(async () => {
    dir = initDataDir();
    srv = await startServer(dir);
  });
  after(() => stopOk(srv));

  for (const doc of ['openid-configuration', 'oauth-authorization-server']) {
    test(`GET /.well-known/${doc} advertises exactly what works`, async () => {
      const r = await fetch(`${srv.url}/.well-known/${doc}`);
      assert.equal(r.status, 200);
      assert.match(r.headers.get('content-type'), /^application\/json/);
      const m = await r.json();
      const iss = srv.issuer;
      assert.equal(m.issuer, iss);
      assert.equal(m.token_endpoint, `${iss}/token`);
      assert.equal(m.jwks_uri, `${iss}/jwks.json`);
      assert.equal(m.introspection_endpoint, `${iss}/introspect`);
      assert.equal(m.revocation_endpoint, `${iss}/revoke`);
      assert.deepEqual([...m.grant_types_supported].sort(), ['authorization_code', 'client_credentials', 'refresh_token']);
      assert.deepEqual([...m.token_endpoint_auth_methods_supported].sort(), [...AUTH_METHODS, 'none', 'private_key_jwt'].sort());
      // a public client may neither introspect nor revoke with a secret it does not have
      assert.deepEqual([...m.introspection_endpoint_auth_methods_supported].sort(), [...AUTH_METHODS, 'private_key_jwt'].sort());
      assert.deepEqual([...m.revocation_endpoint_auth_methods_supported].sort(), [...AUTH_METHODS, 'private_key_jwt'].sort());
      assert.deepEqual(m.token_endpoint_auth_signing_alg_values_supported, ['ES256', 'RS256', 'PS256', 'EdDSA']);
      assert.equal(m.authorization_endpoint, `${iss}/authorize`);
      assert.equal(m.userinfo_endpoint, `${iss}/userinfo`);
      assert.equal(m.end_session_endpoint, `${iss}/logout`);
      assert.deepEqual(m.response_types_supported, ['code']);
      assert.deepEqual(m.code_challenge_methods_supported, ['S256']);
      assert.deepEqual(m.subject_types_supported, ['public']);
      assert.ok(m.scopes_supported.includes('openid'));
      // nothing unimplemented is advertised
      for (const k of ['registration_endpoint', 'device_authorization_endpoint',
        'pushed_authorization_request_endpoint', 'frontchannel_logout_supported']) {
        assert.equal(k in m, false, `${k} must not be advertised`);
      }
      assert.equal(m.request_parameter_supported, false);
      assert.equal(m.claims_parameter_supported, false);
    });
  }

  test('both discovery documents agree', async () => {
    const a = (await getJson(`${srv.url}/.well-known/openid-configuration`)).json;
    const b = (await getJson(`${srv.url}/.well-known/oauth-authorization-server`)).json;
    for (const k of ['issuer', 'token_endpoint', 'jwks_uri', 'introspection_endpoint', 'revocation_endpoint']) {
      assert.equal(a[k], b[k], k);
    }
  });

  test('GET /jwks.json: media type, caching, public keys only, next+current per alg', async () => {
    const r = await fetch(`${srv.url}/jwks.json`);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type'), /^application\/jwk-set\+json/);
    const cc = r.headers.get('cache-control') || '';
    assert.match(cc, /\bpublic\b/);
    const maxAge = Number(/max-age=(\d+)/.exec(cc)?.[1]);
    assert.equal(maxAge, 300, `default jwks_max_age is 300, got Cache-Control: ${cc}`);
    const set = await r.json();
    assert.ok(Array.isArray(set.keys));
    const kids = new Set();
    for (const k of set.keys) {
      assert.equal(typeof k.kid, 'string');
      assert.ok(!kids.has(k.kid), `duplicate kid ${k.kid}`);
      kids.add(k.kid);
      assert.ok(['ES256', 'RS256', 'PS256', 'EdDSA'].includes(k.alg), `alg ${k.alg}`);
      assert.equal(k.use, 'sig');
      for (const p of PRIVATE_MEMBERS) assert.equal(p in k, false, `private member ${p} in ${k.kid}`);
      const kty = { ES256: 'EC', RS256: 'RSA', PS256: 'RSA', EdDSA: 'OKP' }[k.alg];
      assert.equal(k.kty, kty);
      if (k.kty === 'EC') assert.equal(k.crv, 'P-256');
      if (k.kty === 'OKP') assert.equal(k.crv, 'Ed25519');
      // kid = RFC 7638 thumbprint
      assert.equal(k.kid, await calculateJwkThumbprint(k));
    }
    const keys = cliOk(['key', 'list', '--json'], { dataDir: dir }).json;
    for (const alg of ['ES256', 'RS256', 'PS256', 'EdDSA']) {
      const n = set.keys.filter((k) => k.alg === alg).length;
      assert.ok(n >= 2, `${alg}: expected next + current in the JWKS, got ${n}`);
      for (const state of ['next', 'current']) {
        const row = keys.find((k) => k.alg === alg && k.state === state);
        assert.ok(row, `key list has a ${state} ${alg} key`);
        assert.ok(kids.has(row.kid), `${state} ${alg} key ${row.kid} is published`);
      }
    }
  });

  test('GET /readyz: ready (store answers, a current key for default_alg)', async () => {
    const r = await getJson(`${srv.url}/readyz`);
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, { status: 'ok' });
  });

  test('GET /healthz', async () => {
    const r = await getJson(`${srv.url}/healthz`);
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, { status: 'ok' });
  });

  test('unknown path -> 404 {"error":"not_found"}', async () => {
    for (const p of ['/nope', '/token/extra', '/.well-known/', '/jwks.json.bak']) {
      const r = await getJson(`${srv.url}${p}`);
      assert.equal(r.status, 404, p);
      assert.equal(r.json?.error, 'not_found', `${p}: ${r.text}`);
    }
  });

  test('known path, wrong method -> 405 with Allow and a JSON body', async () => {
    const cases = [['GET', '/token', 'POST'], ['GET', '/introspect', 'POST'], ['GET', '/revoke', 'POST'],
      ['POST', '/jwks.json', 'GET'], ['DELETE', '/.well-known/openid-configuration', 'GET'],
      ['PUT', '/healthz', 'GET']];
    for (const [method, p, allow] of cases) {
      const r = await fetch(`${srv.url}${p}`, { method });
      const text = await r.text();
      assert.equal(r.status, 405, `${method} ${p}`);
      assert.ok((r.headers.get('allow') || '').split(/\s*,\s*/).includes(allow),
        `${method} ${p}: Allow: ${r.headers.get('allow')}`);
      assert.equal(typeof JSON.parse(text).error, 'string', `${method} ${p}: ${text}`);
    }
  });

  test('a query string does not change the endpoint', async () => {
    const r = await getJson(`${srv.url}/jwks.json?x=1`);
    assert.equal(r.status, 200);
    assert.ok(Array.isArray(r.json.keys));
  });

  testCleanExit(() => [srv]);
});

describe('listen 127.0.0.1:0 and the issuer written by init', () => {
  let srv;
  const iss = 'https://idp.example.test';
  before(async () => {
    srv = await startServer(initDataDir({ issuer: iss }), { ephemeral: true });
  });
  after(() => stopOk(srv));

  test('prints the real port and serves the init issuer', async () => {
    assert.match(srv.url, /^http:\/\/127\.0\.0\.1:(\d+)$/);
    assert.notEqual(srv.url, 'http://127.0.0.1:0');
    assert.deepEqual(srv.stdout(), [`idpd listening on ${srv.url}`]);
    const m = (await getJson(`${srv.url}/.well-known/openid-configuration`)).json;
    assert.equal(m.issuer, iss);
    assert.equal(m.token_endpoint, `${iss}/token`);
    assert.equal(m.jwks_uri, `${iss}/jwks.json`);
  });

  testCleanExit(() => [srv]);
});
