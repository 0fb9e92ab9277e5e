// End-user sign-in against the live server, driven through the real HTML pages: the
// authorization code flow with PKCE, login and consent, ID tokens, refresh rotation with reuse
// detection, UserInfo, RP-initiated and back-channel logout, private_key_jwt, throttling, and a
// negative test for every RFC 9700 rule the issue names (redirect_uri exact match, PKCE required
// and S256 only, code single use with revocation on replay, refresh reuse after the grace window,
// CSRF). Also the provisioning lifecycle rule: deactivating a user over SCIM ends their refresh
// token, access-token introspection and UserInfo at once.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { createLocalJWKSet, createRemoteJWKSet, exportJWK, generateKeyPair, jwtVerify, SignJWT } from 'jose';
import { createHash, randomBytes } from 'node:crypto';
import { basic, cli, createClient, getJson, initDataDir, introspect, postForm, sleep, startServer, stopOk,
  testCleanExit } from '../lib/idpd.mjs';
import { Agent, authorizeUrl, codeFrom, createCodeClient, parseForm, pkcePair, provisionUser, signIn } from '../lib/oidc.mjs';

const PW = 'Correct-Horse-9f1e2d';
const CB = 'http://127.0.0.1:9/cb';
const LOGOUT_CB = 'http://127.0.0.1:9/bye';

function atHash(token) { // ES256/RS256/PS256: left half of SHA-256
  return createHash('sha256').update(token).digest().subarray(0, 16).toString('base64url');
}

describe('OIDC authorization code flow', () => {
  let dir;
  let srv;
  let web; // confidential client with back-channel logout
  let spa; // public client
  let pkj; // private_key_jwt client
  let pkjKey;
  let cc; // client_credentials client, a resource server that may introspect every token
  let alice;
  let scim;
  let JWKS;
  let bc; // back-channel receiver
  const bcTokens = [];

  before(async () => {
    bc = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d) => { body += d; });
      req.on('end', () => { bcTokens.push(new URLSearchParams(body).get('logout_token')); res.end(); });
    });
    await new Promise((r) => bc.listen(0, '127.0.0.1', r));
    dir = initDataDir({ env: { IDPD_ALGS: 'ES256 RS256' } });
    web = createCodeClient(dir, { name: 'Web <App>', postLogoutUris: [LOGOUT_CB],
      backchannel: `http://127.0.0.1:${bc.address().port}/bc` });
    spa = createCodeClient(dir, { name: 'SPA', public: true, grantTypes: 'authorization_code,refresh_token' });
    const kp = await generateKeyPair('ES256');
    pkjKey = kp.privateKey;
    const jwk = { ...(await exportJWK(kp.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
    const jwksFile = path.join(dir, 'client-jwks.json');
    writeFileSync(jwksFile, JSON.stringify({ keys: [jwk] }));
    pkj = createCodeClient(dir, { name: 'PKJ', authMethod: 'private_key_jwt', jwksFile });
    cc = createClient(dir, { name: 'rs', introspect: 'any' });
    srv = await startServer(dir, { env: { IDPD_ALGS: 'ES256 RS256', IDPD_REFRESH_GRACE: '1s',
      IDPD_LOGIN_FREE_FAILURES: '3' } });
    ({ user: alice, scim } = await provisionUser(srv, dir, 'alice@example.com', PW,
      { name: { givenName: 'Alice', familyName: 'Liddell', formatted: 'Alice Liddell' } }));
    JWKS = createRemoteJWKSet(new URL(`${srv.issuer}/jwks.json`));
  });
  after(async () => { await stopOk(srv); bc?.close(); });

  const tokenReq = (client, params) => postForm(srv.url, '/token', client.client_secret ? client : null,
    client.client_secret ? params : { client_id: client.client_id, ...params });

  async function fullFlow(agent, client, { scope = 'openid profile email offline_access', nonce = 'n-1' } = {}) {
    const { verifier, challenge } = pkcePair();
    const state = randomBytes(8).toString('hex');
    const { final } = await signIn(agent, authorizeUrl(srv.issuer, { client_id: client.client_id,
      redirect_uri: CB, response_type: 'code', scope, state, nonce, code_challenge: challenge,
      code_challenge_method: 'S256' }), 'alice@example.com', PW);
    const got = codeFrom(final);
    assert.equal(got.state, state);
    assert.equal(got.iss, srv.issuer, 'RFC 9207 iss');
    const r = await tokenReq(client, { grant_type: 'authorization_code', code: got.code, redirect_uri: CB,
      code_verifier: verifier });
    assert.equal(r.status, 200, r.text);
    return { tokens: r.json, code: got.code, verifier };
  }

  test('discovery advertises exactly the code flow it implements', async () => {
    const m = (await getJson(`${srv.url}/.well-known/openid-configuration`)).json;
    assert.equal(m.authorization_endpoint, `${srv.issuer}/authorize`);
    assert.equal(m.userinfo_endpoint, `${srv.issuer}/userinfo`);
    assert.equal(m.end_session_endpoint, `${srv.issuer}/logout`);
    assert.deepEqual(m.response_types_supported, ['code']);
    assert.deepEqual(m.code_challenge_methods_supported, ['S256']);
    assert.deepEqual(m.grant_types_supported.sort(), ['authorization_code', 'client_credentials', 'refresh_token']);
    assert.ok(m.token_endpoint_auth_methods_supported.includes('private_key_jwt'));
    assert.ok(m.token_endpoint_auth_methods_supported.includes('none'));
    assert.equal(m.backchannel_logout_supported, true);
    assert.equal(m.authorization_response_iss_parameter_supported, true);
    assert.ok(m.id_token_signing_alg_values_supported.includes('RS256'));
  });

  test('unknown client or unregistered redirect_uri: an error page, never a redirect', async () => {
    const a = new Agent(srv.url);
    const bad = [
      { client_id: 'nope', redirect_uri: CB },
      { client_id: web.client_id, redirect_uri: 'http://127.0.0.1:9/cb/extra' }, // prefix
      { client_id: web.client_id, redirect_uri: 'http://127.0.0.1:9/CB' },
      { client_id: web.client_id, redirect_uri: 'http://127.0.0.1:9/cb?x=1' },
      { client_id: web.client_id },
    ];
    for (const p of bad) {
      const r = await a.get(authorizeUrl(srv.issuer, { ...p, response_type: 'code', scope: 'openid', state: 's' }));
      assert.equal(r.status, 400, JSON.stringify(p));
      assert.equal(r.location, null);
      assert.match(r.headers.get('content-type'), /^text\/html/);
      assert.match(r.headers.get('content-security-policy'), /frame-ancestors 'none'/);
    }
  });

  test('errors after the redirect_uri is validated go back to the client with state and iss', async () => {
    const a = new Agent(srv.url);
    const base = { client_id: spa.client_id, redirect_uri: CB, scope: 'openid', state: 'st' };
    const cases = [
      [{ response_type: 'code' }, 'invalid_request', /PKCE/], // public client without PKCE
      [{ response_type: 'code', code_challenge: pkcePair().challenge, code_challenge_method: 'plain' }, 'invalid_request', /S256/],
      [{ response_type: 'token', code_challenge: pkcePair().challenge, code_challenge_method: 'S256' }, 'unsupported_response_type'],
      [{ response_type: 'code', code_challenge: 'short', code_challenge_method: 'S256' }, 'invalid_request'],
      [{ response_type: 'code', code_challenge: pkcePair().challenge, scope: 'openid admin:all' }, 'invalid_scope'],
      [{ response_type: 'code', code_challenge: pkcePair().challenge, prompt: 'none login' }, 'invalid_request'],
      [{ response_type: 'code', code_challenge: pkcePair().challenge, request: 'eyJ...' }, 'request_not_supported'],
    ];
    for (const [p, error, desc] of cases) {
      const r = await a.get(authorizeUrl(srv.issuer, { ...base, ...p }));
      assert.equal(r.status, 303, JSON.stringify(p));
      const got = codeFrom(r);
      assert.equal(`${got.url.origin}${got.url.pathname}`, CB);
      assert.equal(got.error, error, JSON.stringify(p));
      assert.equal(got.state, 'st');
      assert.equal(got.iss, srv.issuer);
      if (desc) assert.match(got.url.searchParams.get('error_description'), desc);
    }
  });

  test('prompt=none without a session -> login_required', async () => {
    const r = await new Agent(srv.url).get(authorizeUrl(srv.issuer, { client_id: web.client_id,
      redirect_uri: CB, response_type: 'code', scope: 'openid', prompt: 'none', state: 'z' }));
    assert.equal(codeFrom(r).error, 'login_required');
  });

  test('wrong password and unknown account show the same message; CSRF token is required', async () => {
    const a = new Agent(srv.url);
    const url = authorizeUrl(srv.issuer, { client_id: web.client_id, redirect_uri: CB, response_type: 'code',
      scope: 'openid', state: 's', code_challenge: pkcePair().challenge, code_challenge_method: 'S256' });
    const page = await a.get(url);
    assert.equal(page.status, 200);
    assert.match(page.text, /Web &lt;App&gt;/, 'client name escaped');
    const wrong = await a.submit(page, { username: 'alice@example.com', password: 'nope' });
    const unknown = await a.submit(page, { username: 'nobody@example.com', password: 'nope' });
    assert.equal(wrong.status, 200);
    assert.match(wrong.text, /Incorrect username or password/);
    assert.equal(wrong.text.replace(/value="[^"]*"/g, ''), unknown.text.replace(/value="[^"]*"/g, ''));
    // CSRF: missing token, and a token from another browser (cookie) -> 403 page
    const { fields } = parseForm(page.text);
    const noCsrf = await a.post('/login', { ...fields, csrf: '', username: 'alice@example.com', password: PW });
    assert.equal(noCsrf.status, 403);
    const other = new Agent(srv.url);
    const cross = await other.post('/login', { ...fields, username: 'alice@example.com', password: PW });
    assert.equal(cross.status, 403);
    assert.equal(other.jar.has('idpd_session'), false);
  });

  let first; // tokens of the first full flow (web client)
  let webAgent;
  test('full flow: login, consent, code + PKCE -> access, ID and refresh tokens', async () => {
    webAgent = new Agent(srv.url);
    const { verifier, challenge } = pkcePair();
    const { final, pages } = await signIn(webAgent, authorizeUrl(srv.issuer, { client_id: web.client_id,
      redirect_uri: CB, response_type: 'code', scope: 'openid profile email offline_access', state: 'abc',
      nonce: 'nonce-1', code_challenge: challenge, code_challenge_method: 'S256' }), 'alice@example.com', PW);
    assert.equal(pages.length, 2, 'login page then consent page');
    assert.match(pages[1].text, /Your email address/);
    const session = webAgent.jar.get('idpd_session');
    assert.ok(session && session.length === 43);
    const got = codeFrom(final);
    assert.equal(got.state, 'abc');
    const r = await tokenReq(web, { grant_type: 'authorization_code', code: got.code, redirect_uri: CB,
      code_verifier: verifier });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('cache-control'), 'no-store');
    first = { ...r.json, code: got.code, verifier };
    const { payload: at } = await jwtVerify(first.access_token, JWKS, { issuer: srv.issuer, typ: 'at+jwt' });
    assert.equal(at.sub, alice.id);
    assert.equal(at.client_id, web.client_id);
    assert.equal(at.scope, 'openid profile email offline_access');
    const { payload: id, protectedHeader } = await jwtVerify(first.id_token, JWKS, { issuer: srv.issuer,
      audience: web.client_id });
    assert.equal(protectedHeader.alg, 'RS256', 'OIDC default ID token alg');
    assert.equal(id.sub, alice.id);
    assert.equal(id.nonce, 'nonce-1');
    assert.equal(id.azp, web.client_id);
    assert.equal(id.at_hash, atHash(first.access_token));
    assert.ok(Math.abs(id.auth_time - Date.now() / 1000) < 60);
    assert.deepEqual(id.amr, ['pwd']);
    assert.ok(id.acr);
    assert.ok(id.sid);
    assert.equal(id.name, 'Alice Liddell');
    assert.equal(id.email, 'alice@example.com');
    assert.equal(typeof first.refresh_token, 'string');
  });

  test('a second authorization reuses the session and stored consent (no pages); prompt=none works', async () => {
    const { challenge } = pkcePair();
    const r = await webAgent.get(authorizeUrl(srv.issuer, { client_id: web.client_id, redirect_uri: CB,
      response_type: 'code', scope: 'openid email', prompt: 'none', state: 'p', code_challenge: challenge,
      code_challenge_method: 'S256' }));
    assert.equal(r.status, 303, r.text.slice(0, 200));
    assert.ok(codeFrom(r).code);
  });

  test('prompt=login and max_age=0 force a new sign-in; ui_locales and login_hint are accepted', async () => {
    for (const extra of [{ prompt: 'login' }, { max_age: '0' }]) {
      const r = await webAgent.get(authorizeUrl(srv.issuer, { client_id: web.client_id, redirect_uri: CB,
        response_type: 'code', scope: 'openid', code_challenge: pkcePair().challenge, code_challenge_method: 'S256',
        ui_locales: 'fr-CA fr', login_hint: 'alice@example.com', ...extra }));
      assert.equal(r.status, 200, JSON.stringify(extra));
      const { action, fields } = parseForm(r.text);
      assert.ok(action.endsWith('/login'));
      assert.match(r.text, /value="alice@example.com"/, 'login_hint prefills the username');
      assert.ok(fields.request);
    }
  });

  test('code replay: invalid_grant, and the tokens issued from the code are revoked', async () => {
    const again = await tokenReq(web, { grant_type: 'authorization_code', code: first.code, redirect_uri: CB,
      code_verifier: first.verifier });
    assert.equal(again.status, 400);
    assert.equal(again.json.error, 'invalid_grant');
    const i = await introspect(srv.url, cc, first.access_token);
    assert.equal(i.json.active, false, 'access token from a replayed code is revoked');
    const rf = await tokenReq(web, { grant_type: 'refresh_token', refresh_token: first.refresh_token });
    assert.equal(rf.json?.error, 'invalid_grant', 'refresh family from a replayed code is revoked');
  });

  test('PKCE and redirect_uri binding at the token endpoint', async () => {
    const a = new Agent(srv.url);
    a.jar = new Map(webAgent.jar);
    const getCode = async (challenge, extra = {}) => {
      const r = await a.get(authorizeUrl(srv.issuer, { client_id: web.client_id, redirect_uri: CB,
        response_type: 'code', scope: 'openid', code_challenge: challenge,
        code_challenge_method: challenge ? 'S256' : undefined, ...extra }));
      return codeFrom(r).code;
    };
    const p = pkcePair();
    let r = await tokenReq(web, { grant_type: 'authorization_code', code: await getCode(p.challenge),
      redirect_uri: CB, code_verifier: pkcePair().verifier });
    assert.equal(r.json.error, 'invalid_grant', 'wrong verifier');
    r = await tokenReq(web, { grant_type: 'authorization_code', code: await getCode(p.challenge), redirect_uri: CB });
    assert.equal(r.json.error, 'invalid_grant', 'missing verifier');
    r = await tokenReq(web, { grant_type: 'authorization_code', code: await getCode(undefined), redirect_uri: CB,
      code_verifier: p.verifier });
    assert.equal(r.json.error, 'invalid_grant', 'verifier without challenge (PKCE downgrade)');
    r = await tokenReq(web, { grant_type: 'authorization_code', code: await getCode(p.challenge),
      redirect_uri: 'http://127.0.0.1:9/other', code_verifier: p.verifier });
    assert.equal(r.json.error, 'invalid_grant', 'redirect_uri mismatch');
    r = await tokenReq(spa, { grant_type: 'authorization_code', code: await getCode(p.challenge),
      redirect_uri: CB, code_verifier: p.verifier });
    assert.equal(r.json.error, 'invalid_grant', 'code of another client');
  });

  test('refresh: rotation, same successor within the grace window, reuse after it revokes the family', async () => {
    const { tokens } = await fullFlow(webAgent, web);
    const r1 = await tokenReq(web, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token });
    assert.equal(r1.status, 200, r1.text);
    assert.notEqual(r1.json.refresh_token, tokens.refresh_token);
    assert.ok(r1.json.id_token);
    const r2 = await tokenReq(web, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token });
    assert.equal(r2.status, 200, 'a racing tab within the grace window');
    assert.equal(r2.json.refresh_token, r1.json.refresh_token, 'same successor');
    const narrow = await tokenReq(web, { grant_type: 'refresh_token', refresh_token: r1.json.refresh_token,
      scope: 'openid profile email offline_access api:read' });
    assert.equal(narrow.json.error, 'invalid_scope', 'scope may not grow');
    await sleep(2100); // IDPD_REFRESH_GRACE=1s
    const r3 = await tokenReq(web, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token });
    assert.equal(r3.json.error, 'invalid_grant', 'reuse after the grace window');
    const r4 = await tokenReq(web, { grant_type: 'refresh_token', refresh_token: r1.json.refresh_token });
    assert.equal(r4.json.error, 'invalid_grant', 'the whole family is revoked');
  });

  test('refresh with a smaller scope; another client cannot use the token', async () => {
    const { tokens } = await fullFlow(webAgent, web);
    const small = await tokenReq(web, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token,
      scope: 'openid offline_access' });
    assert.equal(small.status, 200, small.text);
    assert.equal(small.json.scope, 'openid offline_access');
    const other = await tokenReq(spa, { grant_type: 'refresh_token', refresh_token: small.json.refresh_token });
    assert.equal(other.json.error, 'invalid_grant');
  });

  test('userinfo: GET and POST with a Bearer token; 401 challenges', async () => {
    const { tokens } = await fullFlow(webAgent, web, { scope: 'openid profile email' });
    assert.equal(tokens.refresh_token, undefined, 'no offline_access, no refresh token');
    for (const method of ['GET', 'POST']) {
      const res = await fetch(`${srv.url}/userinfo`, { method, headers: { authorization: `Bearer ${tokens.access_token}` } });
      assert.equal(res.status, 200);
      const j = await res.json();
      assert.equal(j.sub, alice.id);
      assert.equal(j.email, 'alice@example.com');
      assert.equal(j.given_name, 'Alice');
      assert.equal(j.preferred_username, 'alice@example.com');
    }
    let res = await fetch(`${srv.url}/userinfo`);
    assert.equal(res.status, 401);
    assert.match(res.headers.get('www-authenticate'), /^Bearer/);
    res = await fetch(`${srv.url}/userinfo`, { headers: { authorization: 'Bearer x.y.z' } });
    assert.equal(res.status, 401);
    assert.match(res.headers.get('www-authenticate'), /invalid_token/);
    const ccTok = (await postForm(srv.url, '/token', cc, { grant_type: 'client_credentials' })).json.access_token;
    res = await fetch(`${srv.url}/userinfo`, { headers: { authorization: `Bearer ${ccTok}` } });
    assert.equal(res.status, 401, 'a client token is not a user token');
  });

  test('public client: PKCE flow with client_id only; it cannot introspect or use client_credentials', async () => {
    const { tokens } = await fullFlow(new Agent(srv.url), spa);
    assert.ok(tokens.id_token && tokens.refresh_token);
    const rf = await postForm(srv.url, '/token', null, { grant_type: 'refresh_token', client_id: spa.client_id,
      refresh_token: tokens.refresh_token });
    assert.equal(rf.status, 200, rf.text);
    const i = await postForm(srv.url, '/introspect', null, { client_id: spa.client_id, token: tokens.access_token });
    assert.equal(i.status, 401);
    const ccg = await postForm(srv.url, '/token', null, { client_id: spa.client_id, grant_type: 'client_credentials' });
    assert.equal(ccg.json.error, 'unauthorized_client');
  });

  test('private_key_jwt: a signed assertion authenticates; a replayed one is refused', async () => {
    const agent = new Agent(srv.url);
    agent.jar = new Map(webAgent.jar);
    const { verifier, challenge } = pkcePair();
    const { final } = await signIn(agent, authorizeUrl(srv.issuer, { client_id: pkj.client_id, redirect_uri: CB,
      response_type: 'code', scope: 'openid', code_challenge: challenge, code_challenge_method: 'S256' }),
    'alice@example.com', PW);
    const assertion = await new SignJWT({}).setProtectedHeader({ alg: 'ES256', kid: 'k1' })
      .setIssuer(pkj.client_id).setSubject(pkj.client_id).setAudience(`${srv.issuer}/token`)
      .setIssuedAt().setExpirationTime('2m').setJti(randomBytes(12).toString('hex')).sign(pkjKey);
    const params = { grant_type: 'authorization_code', code: codeFrom(final).code, redirect_uri: CB,
      code_verifier: verifier, client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: assertion };
    const r = await postForm(srv.url, '/token', null, params);
    assert.equal(r.status, 200, r.text);
    const again = await postForm(srv.url, '/introspect', null, { token: r.json.access_token,
      client_assertion_type: params.client_assertion_type, client_assertion: assertion });
    assert.equal(again.status, 401, 'jti replay');
    assert.equal(again.json.error, 'invalid_client');
  });

  test('SCIM deactivation ends refresh, introspection and userinfo at once (provisioning lifecycle)', async () => {
    const { user: bob, scim: bs } = await provisionUser(srv, dir, 'bob@example.com', PW);
    const agent = new Agent(srv.url);
    const { verifier, challenge } = pkcePair();
    const { final } = await signIn(agent, authorizeUrl(srv.issuer, { client_id: web.client_id, redirect_uri: CB,
      response_type: 'code', scope: 'openid offline_access', code_challenge: challenge, code_challenge_method: 'S256' }),
    'bob@example.com', PW);
    const t = (await tokenReq(web, { grant_type: 'authorization_code', code: codeFrom(final).code, redirect_uri: CB,
      code_verifier: verifier })).json;
    assert.equal((await introspect(srv.url, cc, t.access_token)).json.active, true);
    const p = await bs.patch(`/Users/${bob.id}`, [{ op: 'replace', path: 'active', value: false }]);
    assert.equal(p.status, 200, p.text);
    // the very next requests, no waiting
    assert.equal((await introspect(srv.url, cc, t.access_token)).json.active, false);
    const rf = await tokenReq(web, { grant_type: 'refresh_token', refresh_token: t.refresh_token });
    assert.equal(rf.json.error, 'invalid_grant');
    const ui = await fetch(`${srv.url}/userinfo`, { headers: { authorization: `Bearer ${t.access_token}` } });
    assert.equal(ui.status, 401);
    // and the session is over: the next authorization asks to sign in again
    const again = await agent.get(authorizeUrl(srv.issuer, { client_id: web.client_id, redirect_uri: CB,
      response_type: 'code', scope: 'openid', prompt: 'none', code_challenge: challenge, code_challenge_method: 'S256' }));
    assert.equal(codeFrom(again).error, 'login_required');
  });

  test('RP-initiated logout with id_token_hint: session ended, refresh revoked, back-channel token sent', async () => {
    const agent = new Agent(srv.url);
    const { tokens } = await fullFlow(agent, web, { scope: 'openid offline_access' });
    const idp = (await jwtVerify(tokens.id_token, JWKS, { issuer: srv.issuer, audience: web.client_id })).payload;
    const u = new URL(`${srv.issuer}/logout`);
    u.searchParams.set('id_token_hint', tokens.id_token);
    u.searchParams.set('post_logout_redirect_uri', LOGOUT_CB);
    u.searchParams.set('state', 'bye-state');
    const r = await agent.get(u.toString());
    assert.equal(r.status, 303, r.text.slice(0, 200));
    const loc = new URL(r.location);
    assert.equal(`${loc.origin}${loc.pathname}`, LOGOUT_CB);
    assert.equal(loc.searchParams.get('state'), 'bye-state');
    assert.equal(agent.jar.has('idpd_session'), false, 'session cookie deleted');
    const rf = await tokenReq(web, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token });
    assert.equal(rf.json.error, 'invalid_grant', 'refresh tokens of the session are revoked');
    for (let i = 0; i < 50 && bcTokens.length === 0; i++) await sleep(100);
    assert.equal(bcTokens.length >= 1, true, 'back-channel logout received');
    const { payload, protectedHeader } = await jwtVerify(bcTokens.at(-1), JWKS, { issuer: srv.issuer,
      audience: web.client_id, typ: 'logout+jwt' });
    assert.ok(protectedHeader.typ === 'logout+jwt');
    assert.equal(payload.sid, idp.sid);
    assert.equal(payload.sub, alice.id);
    assert.ok(payload.events['http://schemas.openid.net/event/backchannel-logout']);
    assert.equal(payload.nonce, undefined);
  });

  test('logout: unregistered post_logout_redirect_uri is refused; without a hint the user confirms', async () => {
    const agent = new Agent(srv.url);
    const { tokens } = await fullFlow(agent, web, { scope: 'openid' });
    const u = new URL(`${srv.issuer}/logout`);
    u.searchParams.set('id_token_hint', tokens.id_token);
    u.searchParams.set('post_logout_redirect_uri', 'http://127.0.0.1:9/evil');
    let r = await agent.get(u.toString());
    assert.equal(r.status, 400);
    assert.equal(r.location, null);
    r = await agent.get(`${srv.issuer}/logout`);
    assert.equal(r.status, 200);
    assert.match(r.text, /<form/);
    assert.ok(agent.jar.has('idpd_session'), 'not signed out without confirmation');
    const bad = await agent.post('/logout', { ...parseForm(r.text).fields, csrf: 'forged' });
    assert.equal(bad.status, 403);
    const ok = await agent.submit(r, {});
    assert.equal(ok.status, 200);
    assert.equal(agent.jar.has('idpd_session'), false);
  });

  test('brute force: back-off after the free failures (429 with Retry-After), audited', async () => {
    const a = new Agent(srv.url);
    const page = await a.get(authorizeUrl(srv.issuer, { client_id: web.client_id, redirect_uri: CB,
      response_type: 'code', scope: 'openid', code_challenge: pkcePair().challenge, code_challenge_method: 'S256' }));
    let last;
    for (let i = 0; i < 5; i++) last = await a.submit(page, { username: 'mallory-target@example.com', password: `Wrong-Pw-${i}-q9Zk` });
    assert.equal(last.status, 429);
    assert.match(last.text, /Too many failed sign-in attempts/);
    assert.ok(Number(last.headers.get('retry-after')) >= 1);
    const audit = cli(['audit', 'tail', '-n', '200', '--json'], { dataDir: dir });
    const evs = JSON.parse(audit.stdout);
    assert.ok(evs.some((e) => e.action === 'login.fail' && e.actor === 'ip:127.0.0.1'));
    assert.ok(evs.some((e) => e.action === 'login.throttled'));
    assert.ok(evs.some((e) => e.action === 'login.success'));
    assert.ok(!audit.stdout.includes(PW) && !audit.stdout.includes('Wrong-Pw-'), 'no password in the audit trail');
  });

  testCleanExit(() => [srv]);
});
