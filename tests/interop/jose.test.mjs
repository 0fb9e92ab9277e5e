// Interop: npm `jose` (panva) verifies idpd's access tokens from the live JWKS, as a resource
// server would (createRemoteJWKSet + jwtVerify with issuer, audience, typ, algorithms).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRemoteJWKSet, errors, jwtVerify } from 'jose';
import { accessToken, createClient, getJson, initDataDir, startServer, stopOk, testCleanExit } from '../lib/idpd.mjs';

const API = 'https://api.example.com';
const ALGS = ['ES256', 'RS256', 'PS256', 'EdDSA'];

describe('jose verifies idpd tokens', () => {
  let srv;
  let meta;
  let JWKS;
  const clients = {};
  before(async () => {
    const dir = initDataDir();
    for (const alg of ALGS) clients[alg] = createClient(dir, { name: alg, tokenAlg: alg, audiences: [API] });
    srv = await startServer(dir);
    meta = (await getJson(`${srv.url}/.well-known/oauth-authorization-server`)).json;
    JWKS = createRemoteJWKSet(new URL(meta.jwks_uri));
  });
  after(() => stopOk(srv));

  for (const alg of ALGS) {
    test(`${alg} token verifies with createRemoteJWKSet + jwtVerify`, async () => {
      const tok = await accessToken(srv.url, clients[alg], { scope: 'api:read' });
      const { payload, protectedHeader } = await jwtVerify(tok, JWKS, {
        issuer: meta.issuer, audience: API, typ: 'at+jwt', algorithms: [alg], requiredClaims: ['jti', 'client_id', 'iat', 'exp', 'nbf', 'sub'],
      });
      assert.equal(protectedHeader.alg, alg);
      assert.equal(protectedHeader.typ, 'at+jwt');
      assert.equal(payload.sub, clients[alg].client_id);
      assert.equal(payload.client_id, clients[alg].client_id);
      assert.equal(payload.scope, 'api:read');
    });
  }

  test('jose rejects the token for the wrong audience, issuer, typ or algorithm', async () => {
    const tok = await accessToken(srv.url, clients.ES256);
    const base = { issuer: meta.issuer, audience: API, typ: 'at+jwt', algorithms: ['ES256'] };
    await assert.rejects(jwtVerify(tok, JWKS, { ...base, audience: 'https://other.example' }),
      errors.JWTClaimValidationFailed);
    await assert.rejects(jwtVerify(tok, JWKS, { ...base, issuer: 'https://other.example' }),
      errors.JWTClaimValidationFailed);
    await assert.rejects(jwtVerify(tok, JWKS, { ...base, typ: 'JWT' }), errors.JWTClaimValidationFailed);
    await assert.rejects(jwtVerify(tok, JWKS, { ...base, algorithms: ['RS256'] }), errors.JOSEAlgNotAllowed);
  });

  testCleanExit(() => [srv]);
});
