// Hostile and unusual authorization requests (issue "Hostile input and faults"):
//  - RFC 6749 §3.1: a parameter repeated in GET /authorize is refused on the error page (it
//    used to be "first wins");
//  - RFC 8252 §7.3: a native app's loopback IP redirect URI may use any port at request time;
//  - a state that is not UTF-8 gets the HTML error page (it used to be a JSON 400), other
//    non-UTF-8 parameters are redirected back as invalid_request.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { initDataDir, postForm, rawRequest, startServer, stopOk, testCleanExit } from '../lib/idpd.mjs';
import { Agent, authorizeUrl, codeFrom, createCodeClient, pkcePair, provisionUser, signIn } from '../lib/oidc.mjs';

const PW = 'Hostile-Authz-9f2c1e';

describe('GET /authorize: hostile parameters and loopback redirect ports', () => {
  let dir;
  let srv;
  let web; // confidential client, exact https redirect
  let app; // public native app registered with http://127.0.0.1/cb (no port)
  let v6;  // public native app registered with http://[::1]:8000/cb
  const pkce = pkcePair();
  before(async () => {
    dir = initDataDir({ env: { IDPD_ALGS: 'ES256 RS256' } });
    web = createCodeClient(dir, { name: 'Web', redirectUris: ['https://app.example/cb'] });
    app = createCodeClient(dir, { name: 'Native', public: true, redirectUris: ['http://127.0.0.1/cb', 'http://localhost/cb'] });
    v6 = createCodeClient(dir, { name: 'Native v6', public: true, redirectUris: ['http://[::1]:8000/cb'] });
    srv = await startServer(dir, { env: { IDPD_ALGS: 'ES256 RS256' } });
    await provisionUser(srv, dir, 'nat@example.com', PW);
  });
  after(() => stopOk(srv));

  const base = (extra = {}) => ({
    response_type: 'code', client_id: web.client_id, redirect_uri: 'https://app.example/cb',
    scope: 'openid', state: 's1', code_challenge: pkce.challenge, code_challenge_method: 'S256', ...extra,
  });
  /** The query string with some parameters repeated (URLSearchParams keeps both). */
  const withRepeat = (name, second) => {
    const q = new URLSearchParams(base());
    q.append(name, second);
    return `${srv.url}/authorize?${q}`;
  };

  test('a valid request shows the login page (control)', async () => {
    const r = await fetch(authorizeUrl(srv.url, base()), { redirect: 'manual' });
    assert.equal(r.status, 200);
    assert.match(await r.text(), /<form[^>]*action="\/login"/);
  });

  for (const [name, second] of [['client_id', 'another-client'], ['state', 'b'], ['redirect_uri', 'https://evil.example/cb'],
    ['scope', 'openid profile'], ['code_challenge', pkcePair().challenge], ['response_type', 'code']]) {
    test(`RFC 6749 §3.1: ${name} given twice -> error page, no redirect`, async () => {
      const r = await fetch(withRepeat(name, second), { redirect: 'manual' });
      assert.equal(r.status, 400);
      assert.equal(r.headers.get('location'), null);
      assert.match(r.headers.get('content-type'), /text\/html/);
      const html = await r.text();
      assert.match(html, new RegExp(`repeats the parameter ${name}`));
      assert.doesNotMatch(html, /action="\/login"/);
    });
  }

  test('a state that is not UTF-8 gets the HTML error page, not JSON', async () => {
    const u = `${authorizeUrl(srv.url, base({ state: undefined }))}&state=%FF%FE`;
    const r = await fetch(u, { redirect: 'manual' });
    assert.equal(r.status, 400);
    assert.equal(r.headers.get('location'), null);
    assert.match(r.headers.get('content-type'), /text\/html/);
    assert.match(await r.text(), /state parameter is not valid UTF-8/);
  });

  test('another parameter that is not UTF-8 is redirected back as invalid_request (state kept)', async () => {
    const u = `${authorizeUrl(srv.url, base())}&nonce=%C3%28`;
    const r = await fetch(u, { redirect: 'manual' });
    assert.equal(r.status, 303);
    const loc = new URL(r.headers.get('location'));
    assert.equal(loc.origin + loc.pathname, 'https://app.example/cb');
    assert.equal(loc.searchParams.get('error'), 'invalid_request');
    assert.equal(loc.searchParams.get('state'), 's1');
  });

  test('RFC 8252 §7.3: a loopback IP redirect URI may use any port; the code flow completes on it', async () => {
    const port = 51234;
    const ru = `http://127.0.0.1:${port}/cb`;
    const pk = pkcePair();
    const agent = new Agent(srv.url);
    const { final } = await signIn(agent, authorizeUrl(srv.url, { response_type: 'code', client_id: app.client_id,
      redirect_uri: ru, scope: 'openid', state: 'st-n', nonce: 'n-n', code_challenge: pk.challenge,
      code_challenge_method: 'S256' }), 'nat@example.com', PW);
    const { url, code, state } = codeFrom(final);
    assert.equal(`${url.origin}${url.pathname}`, ru);
    assert.equal(state, 'st-n');
    assert.ok(code);
    const tok = await postForm(srv.url, '/token', null, { grant_type: 'authorization_code', code,
      redirect_uri: ru, code_verifier: pk.verifier, client_id: app.client_id });
    assert.equal(tok.status, 200, tok.text);
    assert.ok(tok.json.id_token);
  });

  test('RFC 8252 §7.3: [::1] with another port works; the path, query, host and scheme must still match', async () => {
    const ok = await fetch(authorizeUrl(srv.url, base({ client_id: v6.client_id, redirect_uri: 'http://[::1]:40001/cb' })), { redirect: 'manual' });
    assert.equal(ok.status, 200);
    for (const [cid, ru] of [[app.client_id, 'http://127.0.0.1:5000/cb/'], [app.client_id, 'http://127.0.0.1:5000/other'],
      [app.client_id, 'http://127.0.0.2:5000/cb'], [app.client_id, 'https://127.0.0.1:5000/cb'],
      [app.client_id, 'http://127.0.0.1:0/cb'], [app.client_id, 'http://127.0.0.1:99999/cb'],
      // localhost is not a loopback IP literal (RFC 8252 §8.3): exact match only
      [app.client_id, 'http://localhost:5000/cb'],
      // a confidential client's https redirect stays exact
      [web.client_id, 'https://app.example:8443/cb']]) {
      const r = await fetch(authorizeUrl(srv.url, base({ client_id: cid, redirect_uri: ru })), { redirect: 'manual' });
      assert.equal(r.status, 400, `${ru} was accepted`);
      assert.equal(r.headers.get('location'), null);
    }
    // the exact registered localhost URI still works
    const lh = await fetch(authorizeUrl(srv.url, base({ client_id: app.client_id, redirect_uri: 'http://localhost/cb' })), { redirect: 'manual' });
    assert.equal(lh.status, 200);
  });

  test('the raw request with a repeated client_id is refused too (no client-side normalisation)', async () => {
    const u = new URL(srv.url);
    const q = `response_type=code&client_id=${web.client_id}&client_id=${web.client_id}&redirect_uri=https%3A%2F%2Fapp.example%2Fcb`;
    const r = await rawRequest(srv.url, `GET /authorize?${q} HTTP/1.1\r\nHost: ${u.host}\r\nConnection: close\r\n\r\n`);
    assert.equal(r.status, 400);
    assert.match(r.body, /repeats the parameter client_id/);
  });

  test('more than 64 query parameters: error page saying there are too many (not "repeats")', async () => {
    const q = new URLSearchParams(base());
    for (let i = 0; i < 64; i++) q.append(`x${i}`, 'v');
    const r = await fetch(`${srv.url}/authorize?${q}`, { redirect: 'manual' });
    assert.equal(r.status, 400);
    assert.equal(r.headers.get('location'), null);
    const html = await r.text();
    assert.match(html, /The request has too many parameters\./);
    assert.doesNotMatch(html, /repeats the parameter/);
  });

  testCleanExit(() => [srv]);
});
