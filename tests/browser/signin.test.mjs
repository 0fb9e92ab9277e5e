// Browser test: headless Chromium (Debian's /usr/bin/chromium, driven by npm playwright-core)
// signs in through idpd's real pages: the login page (labels, autofocus), a wrong password
// (an alert, no hint whether the account exists), the consent page (scopes in words), the
// redirect back to the application with a code that exchanges for tokens, and sign-out with
// confirmation. A screenshot of every page is kept in tests/artifacts/browser/.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { initDataDir, postForm, startServer, stopOk, testCleanExit } from '../lib/idpd.mjs';
import { authorizeUrl, createCodeClient, pkcePair, provisionUser } from '../lib/oidc.mjs';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const shots = path.join(repo, 'tests', 'artifacts', 'browser');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
let chromium;
try { ({ chromium } = await import('playwright-core')); } catch { chromium = undefined; }
// A missing browser or driver fails the run (the first test says which), never skips it.
const missing = !chromium ? 'playwright-core is not installed (run npm ci)' : !existsSync(CHROMIUM) ? `${CHROMIUM} is missing (scripts/deps.sh test)` : '';
const PW = 'Browser-Pw-3c9a71';

describe('sign-in in headless Chromium', () => {
  test('playwright-core and Chromium are present', () => assert.equal(missing, ''));
  let srv;
  let app; // the relying party's callback
  let appUrl;
  let client;
  let browser;
  let page;
  let pkce;
  before(async () => {
    mkdirSync(shots, { recursive: true });
    app = http.createServer((req, res) => {
      res.setHeader('content-type', 'text/html; charset=utf-8');
      res.end('<!doctype html><title>App</title><h1>Signed in to the app</h1>');
    });
    await new Promise((r) => app.listen(0, '127.0.0.1', r));
    appUrl = `http://127.0.0.1:${app.address().port}`;
    const dir = initDataDir({ env: { IDPD_ALGS: 'ES256 RS256' } });
    client = createCodeClient(dir, { name: 'Team Wiki', redirectUris: [`${appUrl}/cb`], postLogoutUris: [`${appUrl}/bye`] });
    srv = await startServer(dir, { env: { IDPD_ALGS: 'ES256 RS256' } });
    await provisionUser(srv, dir, 'carol@example.com', PW, { name: { givenName: 'Carol', familyName: 'Jones' } });
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync'] });
    page = await browser.newPage();
    pkce = pkcePair();
  });
  after(async () => {
    await browser?.close();
    await stopOk(srv);
    app?.close();
  });

  test('the login page is accessible: labelled fields, focus on username, no script', async () => {
    await page.goto(authorizeUrl(srv.issuer, { client_id: client.client_id, redirect_uri: `${appUrl}/cb`,
      response_type: 'code', scope: 'openid profile email', state: 'st-1', nonce: 'n-1',
      code_challenge: pkce.challenge, code_challenge_method: 'S256' }));
    await page.screenshot({ path: path.join(shots, '1-login.png'), fullPage: true });
    assert.match(await page.title(), /Sign in/);
    const user = page.getByLabel(/user ?name|email/i);
    const pass = page.getByLabel(/password/i);
    assert.equal(await user.count(), 1);
    assert.equal(await pass.count(), 1);
    assert.equal(await pass.getAttribute('type'), 'password');
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('name')), 'username');
    assert.equal(await page.locator('script').count(), 0);
    assert.match(await page.content(), /Team Wiki/);
    // the stylesheet loads under the page's CSP
    const css = await page.evaluate(() => [...document.styleSheets].some((s) => s.href?.endsWith('/assets/idpd.css') && s.cssRules.length > 0));
    assert.ok(css, 'stylesheet applied');
  });

  test('a wrong password shows an alert that does not reveal whether the account exists', async () => {
    await page.getByLabel(/user ?name|email/i).fill('carol@example.com');
    await page.getByLabel(/password/i).fill('wrong-password');
    await Promise.all([page.waitForLoadState('load'), page.getByRole('button', { name: /sign in/i }).click()]);
    const alert = page.getByRole('alert');
    assert.match(await alert.innerText(), /Incorrect username or password/);
    await page.screenshot({ path: path.join(shots, '2-login-error.png'), fullPage: true });
  });

  test('the right password leads to the consent page listing the scopes in words', async () => {
    await page.getByLabel(/user ?name|email/i).fill('carol@example.com');
    await page.getByLabel(/password/i).fill(PW);
    await Promise.all([page.waitForLoadState('load'), page.getByRole('button', { name: /sign in/i }).click()]);
    const text = await page.locator('body').innerText();
    assert.match(text, /Team Wiki/);
    assert.match(text, /Your email address/);
    assert.match(text, /Your name and profile/);
    await page.screenshot({ path: path.join(shots, '3-consent.png'), fullPage: true });
  });

  test('allowing returns to the application with a code that exchanges for tokens', async () => {
    await Promise.all([page.waitForURL(`${appUrl}/cb**`), page.getByRole('button', { name: /allow/i }).click()]);
    const u = new URL(page.url());
    assert.equal(u.searchParams.get('state'), 'st-1');
    assert.equal(u.searchParams.get('iss'), srv.issuer);
    await page.screenshot({ path: path.join(shots, '4-app-callback.png'), fullPage: true });
    const r = await postForm(srv.url, '/token', client, { grant_type: 'authorization_code',
      code: u.searchParams.get('code'), redirect_uri: `${appUrl}/cb`, code_verifier: pkce.verifier });
    assert.equal(r.status, 200, r.text);
    assert.ok(r.json.id_token);
    const cookies = await page.context().cookies(srv.url);
    const s = cookies.find((c) => c.name === 'idpd_session');
    assert.ok(s, 'session cookie');
    assert.equal(s.httpOnly, true);
    assert.equal(s.sameSite, 'Lax');
  });

  test('sign-out asks for confirmation, then ends the session', async () => {
    await page.goto(`${srv.issuer}/logout`);
    await page.screenshot({ path: path.join(shots, '5-logout-confirm.png'), fullPage: true });
    await Promise.all([page.waitForLoadState('load'), page.getByRole('button', { name: /sign out/i }).click()]);
    assert.match(await page.locator('body').innerText(), /signed out/i);
    await page.screenshot({ path: path.join(shots, '6-signed-out.png'), fullPage: true });
    const cookies = await page.context().cookies(srv.url);
    assert.equal(cookies.find((c) => c.name === 'idpd_session'), undefined);
  });

  testCleanExit(() => [srv]);
});
