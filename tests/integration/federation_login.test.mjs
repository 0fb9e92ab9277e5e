// Upstream sign-in (issue 12, docs/FEDERATION.md "Upstream sign-in") against the live server and
// the mock upstream OpenID provider (tests/lib/upstream.mjs), over plain HTTP requests that follow
// redirects by hand: the login page's button, /federation/<name>/start (PKCE S256, state, nonce),
// the upstream's /authorize, /federation/<name>/callback (code exchange with client_secret_basic,
// ID token verification, JIT user), consent and the code at the client, exchanged for tokens
// whose sub is the JIT user. Then every refusal the contract names: state tampering and reuse,
// RFC 9207 iss mismatch, a wrong nonce, a foreign aud, an upstream error (access_denied at the
// client), link_only without a link, a deactivated local user, an unknown issuer, a missing
// client secret file, provision none.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { decodeJwt } from 'jose';
import { cliOk, initDataDir, poll, postForm, removeDir, startServer, stopOk, testCleanExit } from '../lib/idpd.mjs';
import { Agent, authorizeUrl, codeFrom, createCodeClient, parseForm, pkcePair } from '../lib/oidc.mjs';
import { createPkey, scimClient } from '../lib/scim.mjs';
import { startUpstream } from '../lib/upstream.mjs';

const CB = 'http://127.0.0.1:9/cb';

function issuerYaml(up, name, { provision = 'jit', secretFile, display } = {}) {
  return `    - name: ${name}
      issuer: ${up.issuer}
      allow_http_loopback: true
      algorithms: [ES256, RS256]
      claims:
        email: {from: email}
        name: {from: name}
      provision: ${provision}
      login:
        display_name: "${display ?? name}"
        client_id: idpd
        client_secret_file: ${secretFile}
        scopes: [openid, email, profile]
      jwks: {refresh: 300s, min_refresh: 1s, max_refresh: 1h, kid_miss_cooldown: 1s, stale_if_error: 1h, fetch_timeout: 2s}
`;
}

/** All forms of a page: [{action, method, fields, button}]. */
function forms(html) {
  const out = [];
  for (const m of html.matchAll(/<form\b[^>]*>[\s\S]*?<\/form>/gi)) {
    const f = parseForm(m[0]);
    const method = /method="([^"]*)"/i.exec(m[0])?.[1] ?? 'get';
    const button = /<button\b[^>]*>([\s\S]*?)<\/button>/i.exec(m[0])?.[1] ?? '';
    out.push({ ...f, method, button });
  }
  return out;
}

describe('upstream sign-in (federation login)', () => {
  let up; // provision jit: "Partner SSO"
  let linked; // provision link_only
  let broken; // its client_secret_file does not exist
  let dir;
  let srv;
  let client;
  let scim;

  before(async () => {
    up = await startUpstream({ alg: 'ES256', issInRedirect: true });
    linked = await startUpstream({ alg: 'RS256' });
    broken = await startUpstream({ alg: 'ES256' });
    dir = initDataDir({ env: { IDPD_ALGS: 'ES256' } });
    const secret = path.join(dir, 'partner.secret');
    writeFileSync(secret, 'upstream-secret\n', { mode: 0o600 });
    const policy = `version: 1
claim_namespace: https://idpd.example/claims/
permissions: {p.read: Read}
roles: {viewer: {permissions: [p.read]}}
federation:
  issuers:
${issuerYaml(up, 'partner', { secretFile: secret, display: 'Partner SSO' })}${issuerYaml(linked, 'linked', { provision: 'link_only', secretFile: secret })}${issuerYaml(broken, 'broken', { secretFile: path.join(dir, 'missing.secret') })}`;
    const f = path.join(dir, 'fed.yaml');
    writeFileSync(f, policy);
    cliOk(['policy', 'apply', f], { dataDir: dir });
    client = createCodeClient(dir, { name: 'Team Wiki', redirectUris: [CB] });
    srv = await startServer(dir, { env: { IDPD_ALGS: 'ES256' } });
    scim = scimClient(srv.url, createPkey(dir, { name: 'fed-scim' }).key);
    // the registry reads every issuer's discovery document at start
    await poll(() => [up, linked, broken].every((u) => u.requestCount('/.well-known/openid-configuration') >= 1), 5000);
  });
  after(async () => {
    await stopOk(srv);
    for (const u of [up, linked, broken]) await u?.close();
    if (dir) removeDir(dir);
  });

  /** GET /authorize as a fresh browser; returns {agent, pkce, login page forms}. */
  async function loginPage(state = 'client-state') {
    const agent = new Agent(srv.url);
    const pkce = pkcePair();
    const r = await agent.get(authorizeUrl(srv.issuer, { client_id: client.client_id, redirect_uri: CB,
      response_type: 'code', scope: 'openid profile email', state, nonce: 'client-nonce',
      code_challenge: pkce.challenge, code_challenge_method: 'S256' }));
    assert.equal(r.status, 200, r.text);
    return { agent, pkce, page: r, forms: forms(r.text) };
  }

  /** Clicks the issuer's button: GET /federation/<name>/start; returns the 303 response. */
  async function start(name, o) {
    const lp = o ?? (await loginPage());
    const f = lp.forms.find((x) => x.action === `/federation/${name}/start`);
    assert.ok(f, `no button for ${name}`);
    const q = new URLSearchParams(f.fields);
    const r = await lp.agent.get(`${f.action}?${q}`);
    return { ...lp, start: r };
  }

  /** start, then the upstream's /authorize (auto-approve); returns the callback URL. */
  async function toCallback(name, o) {
    const s = await start(name, o);
    assert.equal(s.start.status, 303, s.start.text);
    const r = await fetch(s.start.location, { redirect: 'manual' });
    assert.equal(r.status, 302);
    return { ...s, callback: r.headers.get('location') };
  }

  /** Follows idpd's pages after the callback: consent (allow) until the redirect to the client. */
  async function finish(agent, res) {
    let r = res;
    for (let i = 0; i < 3 && r.status === 200; i++) {
      const { action } = parseForm(r.text);
      assert.ok(action.endsWith('/consent'), `unexpected page: ${r.text.slice(0, 300)}`);
      r = await agent.submit(r, { decision: 'allow' });
    }
    return r;
  }

  async function metric(issuer, result) {
    const m = await (await fetch(`${srv.url}/metrics`)).text();
    const want = `idpd_federation_tokens_total{issuer="${issuer}",grant="login",result="${result}"} `;
    const line = m.split('\n').find((l) => l.startsWith(want));
    return line ? Number(line.slice(want.length)) : 0;
  }

  test('the login page shows one button per issuer with login, after the password form', async () => {
    const { forms: f } = await loginPage();
    assert.equal(f[0].action, '/login');
    const fed = f.filter((x) => x.action.startsWith('/federation/'));
    assert.deepEqual(fed.map((x) => x.button).sort(), ['Partner SSO', 'broken', 'linked']);
    for (const x of fed) {
      assert.equal(x.method, 'get');
      assert.equal(x.fields.request, f[0].fields.request);
      assert.equal(x.fields.csrf, f[0].fields.csrf);
    }
  });

  test('the whole flow: a code at the client whose tokens name the JIT user', async () => {
    up.setAuthorize({ approve: true, sub: 'alice-upstream', claims: { email: 'alice@partner.example', name: 'Alice P' } });
    const s = await toCallback('partner');
    // the upstream authorization request
    const a = up.authorizations.at(-1);
    assert.equal(a.response_type, 'code');
    assert.equal(a.client_id, 'idpd');
    assert.equal(a.redirect_uri, `${srv.issuer}/federation/partner/callback`);
    assert.equal(a.scope, 'openid email profile');
    assert.equal(a.code_challenge_method, 'S256');
    assert.match(a.code_challenge, /^[A-Za-z0-9_-]{43}$/);
    assert.ok(a.state && a.nonce && a.state !== a.nonce);
    // the pending sign-in travels in a sealed cookie limited to /federation/
    const sc = s.start.headers.getSetCookie().find((c) => c.startsWith('idpd_fed='));
    assert.match(sc, /Path=\/federation\//);
    assert.match(sc, /HttpOnly/);
    assert.match(sc, /SameSite=Lax/);
    const cb = new URL(s.callback);
    assert.equal(cb.searchParams.get('iss'), up.issuer); // RFC 9207 from the mock
    const before = await metric('partner', 'accepted');
    const r = await finish(s.agent, await s.agent.get(s.callback));
    assert.equal(r.status, 303, r.text);
    const c = codeFrom(r);
    assert.equal(c.state, 'client-state');
    assert.equal(c.iss, srv.issuer);
    assert.ok(c.code);
    // the token request at the upstream: client_secret_basic, PKCE verifier, the same redirect_uri
    const t = up.tokenRequests.at(-1);
    assert.equal(t.client, 'idpd');
    assert.equal(t.params.grant_type, 'authorization_code');
    assert.equal(t.params.redirect_uri, `${srv.issuer}/federation/partner/callback`);
    assert.ok(t.params.code_verifier);
    // idpd's own code exchange
    const tok = await postForm(srv.url, '/token', client, { grant_type: 'authorization_code', code: c.code,
      redirect_uri: CB, code_verifier: s.pkce.verifier });
    assert.equal(tok.status, 200, tok.text);
    const idt = decodeJwt(tok.json.id_token);
    assert.equal(idt.nonce, 'client-nonce');
    assert.deepEqual(idt.amr, ['ext']);
    assert.equal(idt.acr, 'urn:idpd:acr:federated');
    const u = await scim.get(`/Users/${idt.sub}`);
    assert.equal(u.status, 200, u.text);
    assert.equal(u.json.userName, 'partner:alice-upstream');
    assert.equal(await metric('partner', 'accepted'), before + 1);
    // the session now exists: a second /authorize continues without a login page
    const again = await s.agent.get(authorizeUrl(srv.issuer, { client_id: client.client_id, redirect_uri: CB,
      response_type: 'code', scope: 'openid profile email', state: 's2', code_challenge: s.pkce.challenge,
      code_challenge_method: 'S256' }));
    assert.equal(again.status, 303, again.text);
    assert.equal(codeFrom(again).state, 's2');
    // a second sign-in of the same upstream subject reuses the user
    const s2 = await toCallback('partner');
    const r2 = await finish(s2.agent, await s2.agent.get(s2.callback));
    const c2 = codeFrom(r2);
    const tok2 = await postForm(srv.url, '/token', client, { grant_type: 'authorization_code', code: c2.code,
      redirect_uri: CB, code_verifier: s2.pkce.verifier });
    assert.equal(decodeJwt(tok2.json.id_token).sub, idt.sub);
  });

  test('state: tampered, missing, from another browser or reused is refused (400)', async () => {
    up.setAuthorize({ approve: true, sub: 'bob-upstream', claims: {} });
    const s = await toCallback('partner');
    const tampered = new URL(s.callback);
    tampered.searchParams.set('state', tampered.searchParams.get('state') + 'x');
    const saved = s.agent.jar.get('idpd_fed');
    let r = await s.agent.get(tampered.href);
    assert.equal(r.status, 400);
    assert.match(r.text, /unknown or has expired/);
    // another browser (no pending cookie)
    r = await new Agent(srv.url).get(s.callback);
    assert.equal(r.status, 400);
    // missing state
    const nostate = new URL(s.callback);
    nostate.searchParams.delete('state');
    r = await s.agent.get(nostate.href);
    assert.equal(r.status, 400);
    // the right one goes through once ...
    s.agent.jar.set('idpd_fed', saved);
    r = await s.agent.get(s.callback);
    assert.ok(r.status === 200 || r.status === 303, r.text);
    // ... and never again, even with the pending cookie replayed
    const replay = new Agent(srv.url);
    replay.jar.set('idpd_fed', saved);
    const before = await metric('partner', 'replay');
    r = await replay.get(s.callback);
    assert.equal(r.status, 400);
    assert.match(r.text, /already used/);
    assert.equal(await metric('partner', 'replay'), before + 1);
    assert.ok(srv.logs().some((l) => /upstream sign-in with partner refused: replay/.test(l)));
  });

  test('an RFC 9207 iss that is not the issuer is refused', async () => {
    const s = await toCallback('partner');
    const u = new URL(s.callback);
    u.searchParams.set('iss', 'https://evil.example');
    const r = await s.agent.get(u.href);
    assert.equal(r.status, 400);
    assert.match(r.text, /another identity provider/);
  });

  test('an ID token with another nonce is refused', async () => {
    up.setAuthorize({ claims: { nonce: 'not-the-nonce' } });
    const s = await toCallback('partner');
    const before = await metric('partner', 'nonce');
    const r = await s.agent.get(s.callback);
    assert.equal(r.status, 400, r.text);
    assert.equal(await metric('partner', 'nonce'), before + 1);
    assert.ok(srv.logs().some((l) => /upstream sign-in with partner refused: nonce/.test(l)));
  });

  test('an ID token for another audience is refused', async () => {
    up.setAuthorize({ claims: { aud: 'someone-else' } });
    const s = await toCallback('partner');
    const before = await metric('partner', 'audience');
    const r = await s.agent.get(s.callback);
    assert.equal(r.status, 400, r.text);
    assert.equal(await metric('partner', 'audience'), before + 1);
    up.setAuthorize({ claims: {} });
  });

  test('an upstream error returns access_denied to the client with its state', async () => {
    up.setAuthorize({ approve: false });
    const s = await toCallback('partner', await loginPage('deny-state'));
    assert.equal(new URL(s.callback).searchParams.get('error'), 'access_denied');
    const before = await metric('partner', 'upstream_error');
    const r = await s.agent.get(s.callback);
    assert.equal(r.status, 303, r.text);
    assert.equal(await metric('partner', 'upstream_error'), before + 1);
    const c = codeFrom(r);
    assert.equal(c.error, 'access_denied');
    assert.equal(c.state, 'deny-state');
    assert.equal(c.iss, srv.issuer);
    assert.ok(c.url.href.startsWith(CB));
    up.setAuthorize({ approve: true });
  });

  test('link_only without a link is refused with an error page', async () => {
    linked.setAuthorize({ sub: 'nobody-linked' });
    const s = await toCallback('linked');
    const before = await metric('linked', 'not_linked');
    const r = await s.agent.get(s.callback);
    assert.equal(r.status, 403, r.text);
    assert.match(r.text, /not linked/);
    assert.equal(await metric('linked', 'not_linked'), before + 1);
  });

  test('a deactivated local user is refused', async () => {
    up.setAuthorize({ sub: 'carol-upstream', claims: {} });
    let s = await toCallback('partner');
    let r = await finish(s.agent, await s.agent.get(s.callback));
    assert.equal(r.status, 303);
    const list = await scim.get(`/Users?filter=${encodeURIComponent('userName eq "partner:carol-upstream"')}`);
    assert.equal(list.json.totalResults, 1, list.text);
    const id = list.json.Resources[0].id;
    const p = await scim.patch(`/Users/${id}`, [{ op: 'replace', path: 'active', value: false }]);
    assert.equal(p.status, 200, p.text);
    s = await toCallback('partner');
    const before = await metric('partner', 'inactive_user');
    r = await s.agent.get(s.callback);
    assert.equal(r.status, 403, r.text);
    assert.match(r.text, /disabled/);
    assert.equal(await metric('partner', 'inactive_user'), before + 1);
  });

  test('hostile input: unknown issuer 404, bad parameters 400, no CSRF 403', async () => {
    const agent = new Agent(srv.url);
    assert.equal((await agent.get('/federation/nosuch/start?csrf=a&request=b')).status, 404);
    assert.equal((await agent.get('/federation/nosuch/callback?state=a&code=b')).status, 404);
    const lp = await loginPage();
    const f = lp.forms.find((x) => x.action === '/federation/partner/start');
    assert.equal((await lp.agent.get(`${f.action}?csrf=${f.fields.csrf}`)).status, 400);
    assert.equal((await lp.agent.get(`${f.action}?csrf=x&request=${f.fields.request}`)).status, 403);
    assert.equal((await lp.agent.get(`${f.action}?csrf=${f.fields.csrf}&request=${'A'.repeat(20000)}`)).status, 400);
    assert.equal((await lp.agent.get(`${f.action}?${new URLSearchParams(f.fields)}&request=x`)).status, 400);
    assert.equal((await lp.agent.get(`/federation/partner/callback?state=${'s'.repeat(300)}&code=c`)).status, 400);
    assert.equal((await lp.agent.get('/federation/partner/callback?state=abc')).status, 400);
    const r = await lp.agent.get('/federation/partner/callback?code=abc');
    assert.equal(r.status, 400);
    assert.match(r.headers.get('content-type'), /text\/html/);
  });

  test('a failing upstream token endpoint is a 502 page', async () => {
    up.setClient('idpd', 'another-secret'); // the mock now answers 401 invalid_client
    try {
      const s = await toCallback('partner');
      const before = await metric('partner', 'upstream_error');
      const r = await s.agent.get(s.callback);
      assert.equal(r.status, 502, r.text);
      assert.match(r.text, /refused or failed/);
      assert.equal(await metric('partner', 'upstream_error'), before + 1);
      assert.ok(srv.logs().some((l) => /partner refused: upstream_error: token endpoint answered HTTP 401/.test(l)));
    } finally {
      up.setClient('idpd', 'upstream-secret');
    }
  });

  test('a missing client_secret_file is a 500 page and a clear operator log line', async () => {
    const s = await toCallback('broken');
    const r = await s.agent.get(s.callback);
    assert.equal(r.status, 500, r.text);
    assert.match(r.text, /not set up correctly/);
    assert.ok(srv.logs().some((l) => /upstream sign-in with broken: cannot read login.client_secret_file .*missing.secret/.test(l)));
    assert.ok(!srv.logs().some((l) => l.includes('upstream-secret')), 'the secret is never logged');
    assert.equal(broken.tokenRequests.length, 0);
  });

  testCleanExit(() => [srv]);
});
