// Browser test: upstream sign-in in headless Chromium (Debian's /usr/bin/chromium, driven by npm
// playwright-core): the login page shows the "Partner SSO" button next to the password form,
// clicking it goes through the mock upstream's /authorize (auto-approve) and back to idpd's
// callback, through the consent page, and lands at the application with a code that exchanges
// for tokens naming the JIT user. A screenshot of every page is kept in tests/artifacts/browser/.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeJwt } from 'jose';
import { cliOk, initDataDir, poll, postForm, startServer, stopOk, testCleanExit } from '../lib/idpd.mjs';
import { authorizeUrl, createCodeClient, pkcePair } from '../lib/oidc.mjs';
import { createPkey, scimClient } from '../lib/scim.mjs';
import { startUpstream } from '../lib/upstream.mjs';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const shots = path.join(repo, 'tests', 'artifacts', 'browser');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
let chromium;
try { ({ chromium } = await import('playwright-core')); } catch { chromium = undefined; }
// A missing browser or driver fails the run (the first test says which), never skips it.
const missing = !chromium ? 'playwright-core is not installed (run npm ci)' : !existsSync(CHROMIUM) ? `${CHROMIUM} is missing (scripts/deps.sh test)` : '';

describe('upstream sign-in in headless Chromium', () => {
  test('playwright-core and Chromium are present', () => assert.equal(missing, ''));
  let srv;
  let up;
  let app;
  let appUrl;
  let client;
  let browser;
  let page;
  let pkce;
  let dir;
  before(async () => {
    mkdirSync(shots, { recursive: true });
    app = http.createServer((req, res) => {
      res.setHeader('content-type', 'text/html; charset=utf-8');
      res.end('<!doctype html><title>App</title><h1>Signed in to the app</h1>');
    });
    await new Promise((r) => app.listen(0, '127.0.0.1', r));
    appUrl = `http://127.0.0.1:${app.address().port}`;
    up = await startUpstream({ alg: 'ES256', issInRedirect: true });
    up.setAuthorize({ approve: true, sub: 'dana-upstream', claims: { email: 'dana@partner.example', name: 'Dana Upstream' } });
    dir = initDataDir({ env: { IDPD_ALGS: 'ES256' } });
    const secret = path.join(dir, 'partner.secret');
    writeFileSync(secret, 'upstream-secret\n', { mode: 0o600 });
    const f = path.join(dir, 'fed.yaml');
    writeFileSync(f, `version: 1
claim_namespace: https://idpd.example/claims/
permissions: {p.read: Read}
roles: {viewer: {permissions: [p.read]}}
federation:
  issuers:
    - name: partner
      issuer: ${up.issuer}
      allow_http_loopback: true
      algorithms: [ES256]
      claims:
        email: {from: email}
        name: {from: name}
      provision: jit
      login:
        display_name: "Partner SSO"
        client_id: idpd
        client_secret_file: ${secret}
        scopes: [openid, email, profile]
`);
    cliOk(['policy', 'apply', f], { dataDir: dir });
    client = createCodeClient(dir, { name: 'Team Wiki', redirectUris: [`${appUrl}/cb`] });
    srv = await startServer(dir, { env: { IDPD_ALGS: 'ES256' } });
    await poll(() => up.requestCount('/.well-known/openid-configuration') >= 1, 5000);
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync'] });
    page = await browser.newPage();
    pkce = pkcePair();
  });
  after(async () => {
    await browser?.close();
    await stopOk(srv);
    await up?.close();
    app?.close();
  });

  test('the login page shows the "Partner SSO" button next to the password form', async () => {
    await page.goto(authorizeUrl(srv.issuer, { client_id: client.client_id, redirect_uri: `${appUrl}/cb`,
      response_type: 'code', scope: 'openid profile email', state: 'st-fed', nonce: 'n-fed',
      code_challenge: pkce.challenge, code_challenge_method: 'S256' }));
    await page.screenshot({ path: path.join(shots, 'fed-1-login.png'), fullPage: true });
    assert.match(await page.title(), /Sign in/);
    assert.equal(await page.getByLabel(/password/i).count(), 1);
    assert.equal(await page.getByRole('button', { name: 'Partner SSO' }).count(), 1);
    assert.equal(await page.locator('script').count(), 0);
  });

  test('clicking it goes through the upstream and back to the consent page', async () => {
    await Promise.all([page.waitForURL(`${srv.issuer}/federation/partner/callback**`),
      page.getByRole('button', { name: 'Partner SSO' }).click()]);
    assert.equal(up.authorizations.length, 1);
    assert.equal(up.authorizations[0].redirect_uri, `${srv.issuer}/federation/partner/callback`);
    const text = await page.locator('body').innerText();
    assert.match(text, /Team Wiki/);
    assert.match(text, /partner:dana-upstream/);
    await page.screenshot({ path: path.join(shots, 'fed-2-consent.png'), fullPage: true });
  });

  test('allowing lands at the application with a code that exchanges for tokens', async () => {
    await Promise.all([page.waitForURL(`${appUrl}/cb**`), page.getByRole('button', { name: /allow/i }).click()]);
    const u = new URL(page.url());
    assert.equal(u.searchParams.get('state'), 'st-fed');
    assert.equal(u.searchParams.get('iss'), srv.issuer);
    await page.screenshot({ path: path.join(shots, 'fed-3-app-callback.png'), fullPage: true });
    const r = await postForm(srv.url, '/token', client, { grant_type: 'authorization_code',
      code: u.searchParams.get('code'), redirect_uri: `${appUrl}/cb`, code_verifier: pkce.verifier });
    assert.equal(r.status, 200, r.text);
    const idt = decodeJwt(r.json.id_token);
    assert.equal(idt.nonce, 'n-fed');
    assert.deepEqual(idt.amr, ['ext']);
    const scim = scimClient(srv.url, createPkey(dir, { name: 'fed-browser' }).key);
    const user = await scim.get(`/Users/${idt.sub}`);
    assert.equal(user.status, 200, user.text);
    assert.equal(user.json.userName, 'partner:dana-upstream');
    const cookies = await page.context().cookies(srv.url);
    assert.ok(cookies.find((c) => c.name === 'idpd_session'), 'session cookie');
    assert.equal(cookies.find((c) => c.name === 'idpd_fed'), undefined, 'pending cookie deleted');
  });

  testCleanExit(() => [srv]);
});
