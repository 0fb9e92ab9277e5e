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

  testCleanExit(() => [srv]);
});
