// HTTP transport hardening: bearer tokens up to the token size cap at every bearer endpoint
// (RFC 6750 §2.1), strict HTTP/1.1 framing (RFC 9112 §3.2, §6.3), NUL in query values refused,
// /metrics behind an optional token, per-IP connection limit and a whole-header deadline
// (slowloris), MHD's log lines rate-limited. docs/SECURITY.md "HTTP transport" cites these tests.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { initDataDir, postForm, rawRequest, startServer, stopOk, testCleanExit } from '../lib/idpd.mjs';
import { authorizeUrl, codeFrom, createCodeClient, pkcePair, provisionUser, Agent, signIn } from '../lib/oidc.mjs';

const PW = 'Correct-Horse-9f1e2d';
const CB = 'http://127.0.0.1:9/cb';
const JWS_MAX_LEN = 16 * 1024; // src/jose/jws.h: the token size cap

describe('bearer tokens longer than 1,024 characters', () => {
  let dir;
  let srv;
  let web;
  before(async () => {
    dir = initDataDir({ env: { IDPD_ALGS: 'ES256 RS256' } });
    // A long default audience makes the RS256 access token well over 1,024 characters.
    web = createCodeClient(dir, { tokenAlg: 'RS256', audiences: [`https://api.example.com/${'a'.repeat(480)}`] });
    srv = await startServer(dir, { env: { IDPD_ALGS: 'ES256 RS256' } });
    await provisionUser(srv, dir, 'alice@example.com', PW, { name: { givenName: 'Alice' } });
  });
  after(() => stopOk(srv));

  async function userToken() {
    const { verifier, challenge } = pkcePair();
    const { final } = await signIn(new Agent(srv.url), authorizeUrl(srv.issuer, { client_id: web.client_id,
      redirect_uri: CB, response_type: 'code', scope: 'openid profile email', state: 's1', nonce: 'n1',
      code_challenge: challenge, code_challenge_method: 'S256' }), 'alice@example.com', PW);
    const r = await postForm(srv.url, '/token', web, { grant_type: 'authorization_code', code: codeFrom(final).code,
      redirect_uri: CB, code_verifier: verifier });
    assert.equal(r.status, 200, r.text);
    return r.json.access_token;
  }

  test('a 1,025+ character user access token works at /userinfo (GET and POST)', async () => {
    const tok = await userToken();
    assert.ok(tok.length > 1024, `token is ${tok.length} characters`);
    for (const method of ['GET', 'POST']) {
      const res = await fetch(`${srv.url}/userinfo`, { method, headers: { authorization: `Bearer ${tok}` } });
      const text = await res.text();
      assert.equal(res.status, 200, text);
      assert.equal(JSON.parse(text).email, 'alice@example.com');
    }
  });

  test('a token over the token size cap gets 401 invalid_token at /userinfo, not invalid_request', async () => {
    const huge = `${'a'.repeat(JWS_MAX_LEN)}.b.c`;
    const res = await fetch(`${srv.url}/userinfo`, { headers: { authorization: `Bearer ${huge}` } });
    assert.equal(res.status, 401);
    assert.match(res.headers.get('www-authenticate'), /error="invalid_token"/);
    assert.equal((await res.json()).error, 'invalid_token');
  });

  test('SCIM and admin (provisioning-key bearer endpoints): a long token is a 401, not a crash', async () => {
    const long = `${'a'.repeat(2000)}.b.c`;
    for (const p of ['/scim/v2/Users', '/admin/v1/policy']) {
      const res = await fetch(`${srv.url}${p}`, { headers: { authorization: `Bearer ${long}` } });
      assert.equal(res.status, 401, p);
      assert.match(res.headers.get('www-authenticate'), /^Bearer/);
    }
  });
  testCleanExit(() => [srv]);
});
