// Sign-in throttling per (account, client address) with trusted proxies (docs/SECURITY.md):
// failures from one address slow that account from that address only, never the account from
// another address (no lock-out of a user by anyone who knows the name); X-Forwarded-For is only
// believed from a peer listed in trusted_proxies, right-most untrusted address first.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cli, initDataDir, sleep, startServer, stopOk, testCleanExit } from '../lib/idpd.mjs';
import { Agent, authorizeUrl, createCodeClient, parseForm, pkcePair, provisionUser } from '../lib/oidc.mjs';

const PW = 'Correct-Horse-9f1e2d';
const CB = 'http://127.0.0.1:9/cb';
const A = '203.0.113.1';
const B = '203.0.113.2';

async function setup(env) {
  const dir = initDataDir();
  const web = createCodeClient(dir, { name: 'Web' });
  const srv = await startServer(dir, { env: { IDPD_LOGIN_FREE_FAILURES: '2', ...env } });
  await provisionUser(srv, dir, 'dave@example.com', PW);
  return { dir, web, srv };
}

async function loginPage(ctx, agent) {
  const page = await agent.get(authorizeUrl(ctx.srv.issuer, { client_id: ctx.web.client_id, redirect_uri: CB,
    response_type: 'code', scope: 'openid', code_challenge: pkcePair().challenge, code_challenge_method: 'S256' }));
  assert.equal(page.status, 200);
  return page;
}

/** POSTs the login form of page as if from address xff (through the local proxy). */
function attempt(agent, page, xff, password) {
  const { action, fields } = parseForm(page.text);
  return agent.post(action, { ...fields, username: 'dave@example.com', password },
    { headers: { 'x-forwarded-for': xff } });
}

/** Fails from xff until a 429 announces a back-off of at least minWait seconds (bounded). */
async function failUntil(agent, page, xff, minWait) {
  for (let i = 0; i < 12; i++) {
    const r = await attempt(agent, page, xff, `wrong-${i}`);
    if (r.status === 429) {
      const wait = Number(r.headers.get('retry-after'));
      assert.ok(wait >= 1);
      if (wait >= minWait) return r;
      await sleep(wait * 1000 + 50);
    } else {
      assert.equal(r.status, 200);
      assert.match(r.text, /Incorrect username or password/);
    }
  }
  throw new Error(`no back-off of ${minWait} s from ${xff}`);
}

function signedIn(r) {
  assert.notEqual(r.status, 429, 'not throttled');
  assert.doesNotMatch(r.text, /Too many failed sign-in attempts/);
  assert.ok(r.status === 303 || parseForm(r.text).action.endsWith('/consent'),
    `signed in (got ${r.status}: ${r.text.slice(0, 200)})`);
}

describe('sign-in throttling per account and client address', () => {
  let proxied; // trusted_proxies = 127.0.0.1: X-Forwarded-For names the client
  let direct; // the local peer is not a trusted proxy: X-Forwarded-For is ignored
  let burst; // 16 worker threads, for parallel attempts
  before(async () => {
    proxied = await setup({ IDPD_TRUSTED_PROXIES: '127.0.0.1, ::1' });
    direct = await setup({ IDPD_TRUSTED_PROXIES: '10.0.0.0/8' });
    burst = await setup({ IDPD_TRUSTED_PROXIES: '127.0.0.1', IDPD_THREADS: '16', IDPD_LOGIN_FREE_FAILURES: '1' });
  });
  after(async () => { await stopOk(proxied?.srv); await stopOk(direct?.srv); await stopOk(burst?.srv); });

  test('failures from address A do not throttle the same account from address B', async () => {
    const a = new Agent(proxied.srv.url);
    const page = await loginPage(proxied, a);
    const t = await failUntil(a, page, A, 4);
    assert.match(t.text, /Too many failed sign-in attempts/);
    // B, behind the same proxy, signs in with the right password at once
    const b = new Agent(proxied.srv.url);
    signedIn(await attempt(b, await loginPage(proxied, b), B, PW));
    // while A is still held back, even with the right password
    const again = await attempt(a, page, A, PW);
    assert.equal(again.status, 429);
    // audited with the forwarded address, not the proxy's
    const evs = JSON.parse(cli(['audit', 'tail', '-n', '100', '--json'], { dataDir: proxied.dir }).stdout);
    assert.ok(evs.some((e) => e.action === 'login.fail' && e.actor === `ip:${A}`));
    assert.ok(!evs.some((e) => e.action === 'login.fail' && e.actor === 'ip:127.0.0.1'));
    // a spoofed address left of the proxy's entry does not help A: the right-most counts
    const spoofed = await attempt(a, page, `${B}, ${A}`, PW);
    assert.equal(spoofed.status, 429);
  });

  test('X-Forwarded-For from a peer that is not a trusted proxy is ignored', async () => {
    const a = new Agent(direct.srv.url);
    const page = await loginPage(direct, a);
    await failUntil(a, page, A, 2);
    // "B" is the same peer (127.0.0.1) whatever the header says: still throttled
    const b = new Agent(direct.srv.url);
    const r = await attempt(b, await loginPage(direct, b), B, PW);
    assert.equal(r.status, 429);
    const evs = JSON.parse(cli(['audit', 'tail', '-n', '100', '--json'], { dataDir: direct.dir }).stdout);
    assert.ok(evs.some((e) => e.action === 'login.fail' && e.actor === 'ip:127.0.0.1'));
    assert.ok(!evs.some((e) => e.actor === `ip:${A}`));
  });

  test('a parallel burst gets no more guesses than the free failures (one attempt in flight per account and address)', async () => {
    const a = new Agent(burst.srv.url);
    const page = await loginPage(burst, a);
    // two failures apart (back-off 1 s, then 2 s): the next failure starts a 4 s window, longer
    // than the burst, so an attempt queued behind the first cannot slip through after it
    assert.equal((await attempt(a, page, A, 'first')).status, 200);
    await sleep(1100);
    assert.equal((await attempt(a, page, A, 'second')).status, 200);
    await sleep(2100);
    const rs = await Promise.all(Array.from({ length: 20 }, (_, i) => attempt(a, page, A, `burst-${i}`)));
    const verified = rs.filter((r) => r.status === 200).length;
    assert.ok(rs.every((r) => r.status === 200 || r.status === 429), rs.map((r) => r.status).join(' '));
    assert.equal(verified, 1, `${verified} of 20 parallel guesses were checked: ${rs.map((r) => r.status).join(' ')}`);
  });

  test('trusted_proxies is validated: a bad entry is refused naming the option, never the value', () => {
    for (const bad of ['10.0.0.0/33', 'proxy.example', '127.0.0.1 junk', '::ffff:10.0.0.0/95']) {
      const r = cli(['serve', '--check'], { dataDir: proxied.dir, env: { IDPD_TRUSTED_PROXIES: bad } });
      assert.equal(r.status, 1, `${bad}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, /trusted_proxies/);
      assert.ok(!r.stderr.includes(bad), 'the value is not echoed');
    }
    const ok = cli(['serve', '--check'], { dataDir: proxied.dir,
      env: { IDPD_TRUSTED_PROXIES: '127.0.0.1, 10.0.0.0/8 ::1 fd00::/8' } });
    assert.equal(ok.status, 0, ok.stderr);
  });

  testCleanExit(() => [proxied.srv, direct.srv, burst.srv]);
});
