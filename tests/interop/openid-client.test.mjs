// Interop: npm `openid-client` v6 discovers idpd, runs the client_credentials grant with
// client_secret_post (its default) and client_secret_basic, with and without resource indicators,
// introspects and revokes; tokens are verified with `jose` against the discovered JWKS.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { createClient, initDataDir, startServer, stopOk, testCleanExit } from '../lib/idpd.mjs';

const API = 'https://api.example.com';
const OTHER = 'https://other.example.com';

describe('openid-client v6 against idpd', () => {
  let srv;
  let c; // client_secret_basic
  let cp; // client_secret_post (the registered method is the only one accepted)
  let JWKS;
  before(async () => {
    const dir = initDataDir({ env: { IDPD_ALGS: 'ES256 EdDSA' } });
    c = createClient(dir, { audiences: [API, OTHER] });
    cp = createClient(dir, { name: 'post', audiences: [API, OTHER], authMethod: 'client_secret_post' });
    srv = await startServer(dir, { env: { IDPD_ALGS: 'ES256 EdDSA' } });
    JWKS = createRemoteJWKSet(new URL(`${srv.issuer}/jwks.json`));
  });
  after(() => stopOk(srv));

  const discover = (auth, algorithm, who = c) => client.discovery(new URL(srv.issuer), who.client_id, who.client_secret, auth,
    { execute: [client.allowInsecureRequests], ...(algorithm ? { algorithm } : {}) });

  const check = async (accessToken, aud, scope, who = c) => {
    const { payload } = await jwtVerify(accessToken, JWKS, {
      issuer: srv.issuer, audience: aud, typ: 'at+jwt', algorithms: ['ES256'],
    });
    assert.equal(payload.client_id, who.client_id);
    assert.equal(payload.scope, scope);
    return payload;
  };

  test('discovery (OIDC and RFC 8414) yields the server metadata', async () => {
    for (const algorithm of ['oidc', 'oauth2']) {
      const config = await discover(undefined, algorithm);
      const m = config.serverMetadata();
      assert.equal(m.issuer, srv.issuer);
      assert.equal(m.token_endpoint, `${srv.issuer}/token`);
      assert.equal(m.jwks_uri, `${srv.issuer}/jwks.json`);
    }
  });

  test('clientCredentialsGrant with client_secret_post (default) and a scope', async () => {
    const config = await discover(undefined, undefined, cp);
    const tr = await client.clientCredentialsGrant(config, { scope: 'api:read' });
    assert.equal(tr.token_type.toLowerCase(), 'bearer');
    assert.equal(tr.expires_in, 300);
    assert.ok(tr.expiresIn() > 290 && tr.expiresIn() <= 300);
    await check(tr.access_token, API, 'api:read', cp);
  });

  test('clientCredentialsGrant with ClientSecretPost() explicitly and a resource', async () => {
    const config = await discover(client.ClientSecretPost(), undefined, cp);
    const tr = await client.clientCredentialsGrant(config, { scope: 'api:write', resource: OTHER });
    const p = await check(tr.access_token, OTHER, 'api:write', cp);
    assert.equal(p.aud, OTHER);
  });

  test('clientCredentialsGrant with ClientSecretBasic() and two resources', async () => {
    const config = await discover(client.ClientSecretBasic());
    const params = new URLSearchParams([['scope', 'api:read api:write'], ['resource', API], ['resource', OTHER]]);
    const tr = await client.clientCredentialsGrant(config, params);
    const p = await check(tr.access_token, OTHER, 'api:read api:write');
    assert.deepEqual([...p.aud].sort(), [API, OTHER].sort());
  });

  test('errors surface as ResponseBodyError with the OAuth error code', async () => {
    const config = await discover(undefined, undefined, cp);
    await assert.rejects(client.clientCredentialsGrant(config, { scope: 'admin' }),
      (e) => e.error === 'invalid_scope' && e.status === 400);
    await assert.rejects(client.clientCredentialsGrant(config, { resource: 'https://evil.example' }),
      (e) => e.error === 'invalid_target' && e.status === 400);
    const bad = await client.discovery(new URL(srv.issuer), c.client_id, 'wrong-secret', client.ClientSecretBasic(),
      { execute: [client.allowInsecureRequests] });
    // with Basic, idpd answers with a WWW-Authenticate challenge, which openid-client surfaces as such
    await assert.rejects(client.clientCredentialsGrant(bad), (e) => e.status === 401 &&
      e.code === 'OAUTH_WWW_AUTHENTICATE_CHALLENGE' && e.cause?.[0]?.scheme === 'basic' &&
      e.cause[0].parameters?.realm === 'idpd');
    const badPost = await client.discovery(new URL(srv.issuer), c.client_id, 'wrong-secret', client.ClientSecretPost(),
      { execute: [client.allowInsecureRequests] });
    await assert.rejects(client.clientCredentialsGrant(badPost), (e) => e.error === 'invalid_client' && e.status === 401);
  });

  test('tokenIntrospection and tokenRevocation', async () => {
    const config = await discover(client.ClientSecretBasic());
    const tr = await client.clientCredentialsGrant(config, { scope: 'api:read' });
    const active = await client.tokenIntrospection(config, tr.access_token);
    assert.equal(active.active, true);
    assert.equal(active.client_id, c.client_id);
    assert.equal(active.scope, 'api:read');
    await client.tokenRevocation(config, tr.access_token);
    const after = await client.tokenIntrospection(config, tr.access_token);
    assert.equal(after.active, false);
  });

  testCleanExit(() => [srv]);
});
