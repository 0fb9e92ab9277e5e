// Hostile callers at introspection, logout and client authentication (issue 10, items 7-9 and
// three decisions, docs/SECURITY.md "Introspection, logout and client authentication"):
// introspection answers per caller (RFC 7662 §4), a deleted client's tokens are dead at once,
// id_token_hint must be an ID token of ours for a registered client (RFC 8725 §3.11-3.12),
// logout by client_id completes through the confirmation form (RP-Initiated Logout §2), the
// registered token_endpoint_auth_method is enforced (RFC 7591 §2), and unsupported
// response_mode values are refused (OAuth 2.0 Multiple Response Types §2.1).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  accessToken, cli, cliOk, createClient, getJson, initDataDir, introspect, poll, postForm, sleep,
  startServer, stopOk, testCleanExit, token,
} from '../lib/idpd.mjs';
import { Agent, authorizeUrl, codeFrom, createCodeClient, parseForm, pkcePair, provisionUser, signIn } from '../lib/oidc.mjs';
import { createPkey } from '../lib/scim.mjs';

const PW = 'Correct-Horse-4a7b3c';
const CB = 'http://127.0.0.1:9/cb';
const BYE = 'http://127.0.0.1:9/bye';
const API = 'https://api.example.com';
const OTHER = 'https://other.example.com';
const USER = 'hostile@example.com';

describe('hostile callers: introspection, logout, client authentication', () => {
  let dir;
  let srv;
  let web; // confidential code client with a post_logout_redirect_uri
  let shortWeb; // same, 1 s token (and ID token) lifetime
  let issuer; // client_credentials client, audiences API
  let nosy; // another confidential client, no introspection right
  let rsApi; // --introspect audience --audience API
  let rsOther; // --introspect audience --audience OTHER
  let rsAny; // --introspect any
  let postClient; // --auth-method client_secret_post

  before(async () => {
    dir = initDataDir();
    web = createCodeClient(dir, { name: 'Web', postLogoutUris: [BYE] });
    shortWeb = cliOk(['client', 'create', '--name', 'Short', '--grant-types', 'authorization_code',
      '--scope', 'openid', '--redirect-uri', CB, '--post-logout-redirect-uri', BYE, '--token-ttl', '1',
      '--json'], { dataDir: dir }).json;
    issuer = createClient(dir, { name: 'issuer', audiences: [API] });
    nosy = createClient(dir, { name: 'nosy', audiences: [API] });
    rsApi = cliOk(['client', 'create', '--name', 'rs-api', '--scope', 'x', '--audience', API,
      '--introspect', 'audience', '--json'], { dataDir: dir }).json;
    rsOther = cliOk(['client', 'create', '--name', 'rs-other', '--scope', 'x', '--audience', OTHER,
      '--introspect', 'audience', '--json'], { dataDir: dir }).json;
    rsAny = cliOk(['client', 'create', '--name', 'rs-any', '--scope', 'x', '--introspect', 'any',
      '--json'], { dataDir: dir }).json;
    postClient = cliOk(['client', 'create', '--name', 'post', '--scope', 'api:read',
      '--auth-method', 'client_secret_post', '--json'], { dataDir: dir }).json;
    srv = await startServer(dir);
    await provisionUser(srv, dir, USER, PW);
  });
  after(() => stopOk(srv));

  /** Signs in through the pages and redeems the code: {tokens, agent}. */
  async function codeTokens(client, { agent = new Agent(srv.url), scope = 'openid' } = {}) {
    const { verifier, challenge } = pkcePair();
    const { final } = await signIn(agent, authorizeUrl(srv.issuer, { client_id: client.client_id,
      redirect_uri: CB, response_type: 'code', scope, state: 's', code_challenge: challenge,
      code_challenge_method: 'S256' }), USER, PW);
    const got = codeFrom(final);
    const r = await postForm(srv.url, '/token', client, { grant_type: 'authorization_code', code: got.code,
      redirect_uri: CB, code_verifier: verifier });
    assert.equal(r.status, 200, r.text);
    return { tokens: r.json, agent };
  }

  const logoutUrl = (params) => {
    const u = new URL(`${srv.issuer}/logout`);
    for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
    return u.toString();
  };

  // ---- item 8: introspection per caller (RFC 7662 §4) ----

  test('introspection: another client learns nothing about a token not issued to it', async () => {
    const tok = await accessToken(srv.url, issuer);
    assert.equal((await introspect(srv.url, issuer, tok)).json.active, true, 'the issuing client still sees it');
    const r = await introspect(srv.url, nosy, tok);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, { active: false });
    // a user's access token too: no sub, scope or jti for a stranger
    const { tokens } = await codeTokens(web);
    assert.deepEqual((await introspect(srv.url, nosy, tokens.access_token)).json, { active: false });
    assert.equal((await introspect(srv.url, web, tokens.access_token)).json.active, true);
  });

  test('introspection: a resource server (--introspect audience) sees tokens for its audience only', async () => {
    const tok = await accessToken(srv.url, issuer); // aud API
    const api = await introspect(srv.url, rsApi, tok);
    assert.equal(api.json.active, true, api.text);
    assert.equal(api.json.client_id, issuer.client_id);
    assert.deepEqual((await introspect(srv.url, rsOther, tok)).json, { active: false });
    const any = await introspect(srv.url, rsAny, tok);
    assert.equal(any.json.active, true, '--introspect any sees every token');
  });

  test('introspect flag: shown by client show/list --json, validated, settable through the admin API', async () => {
    assert.equal(cliOk(['client', 'show', rsApi.client_id, '--json'], { dataDir: dir }).json.introspect, 'audience');
    assert.equal(cliOk(['client', 'show', nosy.client_id, '--json'], { dataDir: dir }).json.introspect, 'none');
    const list = cliOk(['client', 'list', '--json'], { dataDir: dir }).json;
    assert.equal(list.find((c) => c.client_id === rsAny.client_id).introspect, 'any');
    // audience mode needs an audience; a public client cannot introspect; unknown values refused
    for (const extra of [['--introspect', 'audience'], ['--introspect', 'everything', '--audience', API]]) {
      const r = cli(['client', 'create', '--name', 'bad', ...extra], { dataDir: dir });
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, /--introspect/);
    }
    const admin = createPkey(dir, { name: 'ops', scopes: 'admin' });
    const h = { authorization: `Bearer ${admin.key}`, 'content-type': 'application/json' };
    const cr = await fetch(`${srv.url}/admin/v1/clients`, { method: 'POST', headers: h,
      body: JSON.stringify({ name: 'rs via api', grant_types: ['client_credentials'], scope: 'x', introspect: 'any' }) });
    assert.equal(cr.status, 201);
    for (const introspect of [5, 'audience', 'all']) { // not a string; audience without audiences; unknown
      const bad = await fetch(`${srv.url}/admin/v1/clients`, { method: 'POST', headers: h,
        body: JSON.stringify({ name: 'bad', grant_types: ['client_credentials'], introspect }) });
      assert.equal(bad.status, 400, String(introspect));
      assert.match((await bad.json()).error_description, /introspect/);
    }
    const nc = await cr.json();
    assert.equal(nc.introspect, 'any');
    const one = await (await fetch(`${srv.url}/admin/v1/clients/${nc.client_id}`, { headers: h })).json();
    assert.equal(one.introspect, 'any');
    const tok = await accessToken(srv.url, issuer);
    assert.ok(await poll(async () => (await introspect(srv.url, nc, tok)).json?.active === true, 3000));
  });

  // ---- decision: a deleted client's tokens are dead ----

  test('a deleted client\'s access tokens are inactive at introspection and refused by UserInfo', async () => {
    // created in this order (and deleted in the reverse one) so that polling on doomed proves
    // the server's client snapshot has caught up with both
    const doomedWeb = createCodeClient(dir, { name: 'Doomed Web' });
    const doomed = createClient(dir, { name: 'doomed', audiences: [API] });
    await poll(async () => (await token(srv.url, doomed)).status === 200, 3000);
    const tok = await accessToken(srv.url, doomed);
    const { tokens } = await codeTokens(doomedWeb, { scope: 'openid' });
    const ui = (t) => fetch(`${srv.url}/userinfo`, { headers: { authorization: `Bearer ${t}` } });
    assert.equal((await introspect(srv.url, rsAny, tok)).json.active, true);
    assert.equal((await ui(tokens.access_token)).status, 200);
    cliOk(['client', 'delete', doomedWeb.client_id], { dataDir: dir });
    cliOk(['client', 'delete', doomed.client_id], { dataDir: dir });
    assert.ok(await poll(async () => (await token(srv.url, doomed)).status === 401, 3000), 'server saw the delete');
    assert.deepEqual((await introspect(srv.url, rsAny, tok)).json, { active: false });
    assert.deepEqual((await introspect(srv.url, rsApi, tok)).json, { active: false });
    const r = await ui(tokens.access_token);
    assert.equal(r.status, 401);
    assert.match(r.headers.get('www-authenticate'), /invalid_token/);
  });

  // ---- item 9: id_token_hint must be an ID token (RFC 8725 §3.11-3.12) ----

  test('logout: an access token as id_token_hint is refused and the session stays', async () => {
    const { tokens, agent } = await codeTokens(web);
    // no post_logout_redirect_uri: nothing but the hint decides
    const r = await agent.get(logoutUrl({ id_token_hint: tokens.access_token }));
    assert.equal(r.status, 400, r.text.slice(0, 300));
    assert.equal(r.location, null);
    assert.ok(agent.jar.has('idpd_session'), 'not signed out');
    // the real ID token still works silently
    const ok = await agent.get(logoutUrl({ id_token_hint: tokens.id_token, post_logout_redirect_uri: BYE, state: 'x' }));
    assert.equal(ok.status, 303, ok.text.slice(0, 300));
    assert.equal(agent.jar.has('idpd_session'), false);
  });

  test('logout: an ID token whose audience is no longer a client is refused', async () => {
    const gone = createCodeClient(dir, { name: 'Gone', postLogoutUris: [BYE] });
    // the client authenticates (401 only while the server does not know it: it has no
    // client_credentials grant) once the server's client snapshot has caught up
    const known = async () => (await postForm(srv.url, '/token', gone, { grant_type: 'client_credentials' })).status !== 401;
    assert.ok(await poll(known, 3000));
    const { tokens, agent } = await codeTokens(gone);
    cliOk(['client', 'delete', gone.client_id], { dataDir: dir });
    assert.ok(await poll(async () => !(await known()), 3000));
    const r = await agent.get(logoutUrl({ id_token_hint: tokens.id_token }));
    assert.equal(r.status, 400, r.text.slice(0, 300));
    assert.ok(agent.jar.has('idpd_session'), 'not signed out');
  });

  test('logout: an expired ID token is still a valid hint (RP-Initiated Logout §2)', async () => {
    const { tokens, agent } = await codeTokens(shortWeb);
    await sleep(2100);
    const r = await agent.get(logoutUrl({ id_token_hint: tokens.id_token, post_logout_redirect_uri: BYE, state: 'late' }));
    assert.equal(r.status, 303, r.text.slice(0, 300));
    assert.equal(new URL(r.location).searchParams.get('state'), 'late');
    assert.equal(agent.jar.has('idpd_session'), false);
  });

  // ---- item 7: logout by client_id + post_logout_redirect_uri ----

  test('logout by client_id and post_logout_redirect_uri: confirm, then redirected with state', async () => {
    const { agent } = await codeTokens(web);
    const state = randomBytes(6).toString('hex');
    const page = await agent.get(logoutUrl({ client_id: web.client_id, post_logout_redirect_uri: BYE, state }));
    assert.equal(page.status, 200, page.text.slice(0, 300));
    const { fields } = parseForm(page.text);
    assert.equal(fields.client_id, web.client_id);
    const forged = await agent.post('/logout', { ...fields, csrf: 'forged' });
    assert.equal(forged.status, 403);
    assert.ok(agent.jar.has('idpd_session'));
    const done = await agent.submit(page, {});
    assert.equal(done.status, 303, done.text.slice(0, 300));
    const loc = new URL(done.location);
    assert.equal(`${loc.origin}${loc.pathname}`, BYE);
    assert.equal(loc.searchParams.get('state'), state);
    assert.equal(agent.jar.has('idpd_session'), false);
  });

  // ---- decision: the registered token_endpoint_auth_method is enforced ----

  test('client authentication: only the registered method (client_secret_basic vs _post) is accepted', async () => {
    const post = await token(srv.url, { ...issuer, method: 'post' });
    assert.equal(post.status, 401, post.text);
    assert.equal(post.json.error, 'invalid_client');
    assert.equal((await token(srv.url, issuer)).status, 200);
    assert.equal((await token(srv.url, { ...postClient, method: 'post' })).status, 200);
    const basic = await token(srv.url, postClient);
    assert.equal(basic.status, 401, basic.text);
    assert.equal(basic.json.error, 'invalid_client');
    assert.equal(cliOk(['client', 'show', postClient.client_id, '--json'], { dataDir: dir }).json.auth_method,
      'client_secret_post');
  });

  // ---- decision: response_mode ----

  test('authorize: an unsupported response_mode is refused with invalid_request (redirected)', async () => {
    const m = (await getJson(`${srv.url}/.well-known/openid-configuration`)).json;
    assert.deepEqual(m.response_modes_supported, ['query']);
    const a = new Agent(srv.url);
    for (const mode of ['fragment', 'form_post', 'query.jwt', 'bogus']) {
      const r = await a.get(authorizeUrl(srv.issuer, { client_id: web.client_id, redirect_uri: CB,
        response_type: 'code', scope: 'openid', state: 'rm', response_mode: mode,
        code_challenge: pkcePair().challenge, code_challenge_method: 'S256' }));
      assert.equal(r.status, 303, `${mode}: ${r.status}`);
      const got = codeFrom(r);
      assert.equal(got.error, 'invalid_request', mode);
      assert.equal(got.state, 'rm');
      assert.match(got.url.searchParams.get('error_description'), /response_mode/);
    }
    const q = await a.get(authorizeUrl(srv.issuer, { client_id: web.client_id, redirect_uri: CB,
      response_type: 'code', scope: 'openid', response_mode: 'query', code_challenge: pkcePair().challenge,
      code_challenge_method: 'S256' }));
    assert.equal(q.status, 200, 'response_mode=query goes on to the login page');
    assert.match(q.text, /<form/);
  });

  testCleanExit(() => [srv]);
});
