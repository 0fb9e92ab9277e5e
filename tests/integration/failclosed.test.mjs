// Fail-closed writes: when the store cannot write (IDPD_FAULT_STORE_FULL names a flag file; while
// it exists every store write fails as on a full disk), sign-in and sign-out refuse with an error
// page instead of pretending success. Password throttling that cannot count refuses the attempt,
// a correct password included; a logout that cannot end the session says so, keeps the cookie
// and sends no back-channel logout token.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import path from 'node:path';
import { rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { initDataDir, postForm, sleep, startServer, stopOk, testCleanExit } from '../lib/idpd.mjs';
import { Agent, authorizeUrl, codeFrom, createCodeClient, pkcePair, provisionUser, signIn } from '../lib/oidc.mjs';

const PW = 'Correct-Horse-9f1e2d';
const CB = 'http://127.0.0.1:9/cb';

describe('fail-closed writes (IDPD_FAULT_STORE_FULL)', () => {
  let dir;
  let srv;
  let web;
  let bc;
  let flag;
  const bcTokens = [];
  const full = () => writeFileSync(flag, 'full');
  const notFull = () => rmSync(flag, { force: true });

  before(async () => {
    bc = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d) => { body += d; });
      req.on('end', () => { bcTokens.push(new URLSearchParams(body).get('logout_token')); res.end(); });
    });
    await new Promise((r) => bc.listen(0, '127.0.0.1', r));
    dir = initDataDir();
    flag = path.join(dir, 'disk-full.flag');
    web = createCodeClient(dir, { name: 'Web', backchannel: `http://127.0.0.1:${bc.address().port}/bc` });
    srv = await startServer(dir, { env: { IDPD_FAULT_STORE_FULL: flag } });
    await provisionUser(srv, dir, 'carol@example.com', PW);
  });
  after(async () => { notFull(); await stopOk(srv); bc?.close(); });

  const loginPage = (a) => a.get(authorizeUrl(srv.issuer, { client_id: web.client_id, redirect_uri: CB,
    response_type: 'code', scope: 'openid', code_challenge: pkcePair().challenge, code_challenge_method: 'S256' }));

  test('password throttling cannot count: wrong and correct passwords get 503, never 200', async () => {
    const a = new Agent(srv.url);
    const page = await loginPage(a);
    assert.equal(page.status, 200);
    full();
    try {
      for (let i = 0; i < 12; i++) {
        const r = await a.submit(page, { username: 'carol@example.com', password: `wrong-${i}` });
        assert.equal(r.status, 503, `attempt ${i + 1}: ${r.status} ${r.text.slice(0, 200)}`);
        assert.match(r.headers.get('content-type'), /text\/html/);
        assert.doesNotMatch(r.text, /Incorrect username or password/);
      }
      const ok = await a.submit(page, { username: 'carol@example.com', password: PW });
      assert.equal(ok.status, 503, 'a correct password is refused while failures cannot be counted');
      assert.equal(a.jar.has('idpd_session'), false);
    } finally {
      notFull();
    }
    // the disk has room again: the correct password signs in
    const { final } = await signIn(a, authorizeUrl(srv.issuer, { client_id: web.client_id, redirect_uri: CB,
      response_type: 'code', scope: 'openid', code_challenge: pkcePair().challenge,
      code_challenge_method: 'S256' }), 'carol@example.com', PW);
    assert.ok(codeFrom(final).code);
  });

  test('logout cannot write: 5xx error page, cookie kept, session and refresh token still valid, no back-channel', async () => {
    const a = new Agent(srv.url);
    const { verifier, challenge } = pkcePair();
    const { final } = await signIn(a, authorizeUrl(srv.issuer, { client_id: web.client_id, redirect_uri: CB,
      response_type: 'code', scope: 'openid offline_access', state: 's1', code_challenge: challenge,
      code_challenge_method: 'S256' }), 'carol@example.com', PW);
    const tok = await postForm(srv.url, '/token', web, { grant_type: 'authorization_code',
      code: codeFrom(final).code, redirect_uri: CB, code_verifier: verifier });
    assert.equal(tok.status, 200, tok.text);
    const cookie = a.jar.get('idpd_session');
    assert.ok(cookie);
    const u = new URL(`${srv.issuer}/logout`);
    u.searchParams.set('id_token_hint', tok.json.id_token);
    const before = bcTokens.length;
    full();
    let r;
    try {
      r = await a.get(u.toString());
    } finally {
      notFull();
    }
    assert.ok(r.status >= 500 && r.status < 600, `status ${r.status}: ${r.text.slice(0, 200)}`);
    assert.doesNotMatch(r.text, /Signed out/);
    assert.equal(r.headers.getSetCookie().some((c) => c.startsWith('idpd_session=')), false,
      'the session cookie is not cleared');
    assert.equal(a.jar.get('idpd_session'), cookie);
    await sleep(1000); // a back-channel job would have been sent by now
    assert.equal(bcTokens.length, before, 'no back-channel logout token for a session that did not end');
    // nothing was pretended: the session and its refresh token are still what they were
    const pn = await a.get(authorizeUrl(srv.issuer, { client_id: web.client_id, redirect_uri: CB,
      response_type: 'code', scope: 'openid', prompt: 'none', code_challenge: challenge,
      code_challenge_method: 'S256' }));
    assert.ok(codeFrom(pn).code, 'the session is still live, as the error page said');
    const rf = await postForm(srv.url, '/token', web, { grant_type: 'refresh_token',
      refresh_token: tok.json.refresh_token });
    assert.equal(rf.status, 200, rf.text);
    // with room on the disk again the same logout succeeds and notifies the client
    u.searchParams.set('state', randomBytes(4).toString('hex'));
    const ok = await a.get(u.toString());
    assert.equal(ok.status, 200, ok.text.slice(0, 200));
    assert.match(ok.text, /Signed out/);
    assert.equal(a.jar.has('idpd_session'), false);
    for (let i = 0; i < 50 && bcTokens.length === before; i++) await sleep(100);
    assert.ok(bcTokens.length > before, 'back-channel logout sent once the session ended');
  });

  testCleanExit(() => [srv]);
});
