// SCIM decisions from the hostile-input issue (docs/SECURITY.md, "Users"):
//  - userName: no white space at either end, no control/format characters, and look-alikes
//    (case, Unicode compatibility forms: full-width letters, combining marks) are the same name;
//  - a password set over SCIM ends the user's sessions, refresh tokens and access tokens, as
//    deactivation does.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createClient, initDataDir, introspect, postForm, startServer, stopOk, testCleanExit } from '../lib/idpd.mjs';
import { Agent, authorizeUrl, codeFrom, createCodeClient, pkcePair, provisionUser, signIn } from '../lib/oidc.mjs';
import { assertScimError, createPkey, scimClient, userBody } from '../lib/scim.mjs';

const CB = 'http://127.0.0.1:9/cb';
const PW = 'Old-Password-5c1f9a';

describe('SCIM userName rules and password changes', () => {
  let dir;
  let srv;
  let c; // SCIM client
  let web;
  let rs; // a confidential client that introspects
  before(async () => {
    dir = initDataDir({ env: { IDPD_ALGS: 'ES256 RS256' } });
    web = createCodeClient(dir, { name: 'Web', redirectUris: [CB] });
    rs = createClient(dir, { name: 'rs', introspect: 'any' }); // a resource server: may introspect web's tokens
    srv = await startServer(dir, { env: { IDPD_ALGS: 'ES256 RS256' } });
    c = scimClient(srv.url, createPkey(dir, { name: 'hr' }).key);
    const r = await c.post('/Users', userBody('alice'));
    assert.equal(r.status, 201, r.text);
  });
  after(() => stopOk(srv));

  for (const [label, name] of [['trailing space', 'alice '], ['leading space', ' bob'], ['a tab', 'bo\tb'],
    ['a control character', 'bo\u0001b'], ['a zero width space', 'bo\u200bb'], ['a bidi override', '\u202eecila'],
    ['a trailing ideographic space', 'carol\u3000']]) {
    test(`userName with ${label} -> 400 invalidValue`, async () => {
      assertScimError(await c.post('/Users', userBody(name)), 400, 'invalidValue');
    });
  }

  for (const [label, name] of [['upper case', 'ALICE'], ['full-width a', '\uff41lice'], ['full-width A', '\uff21LICE']]) {
    test(`a look-alike of alice (${label}) -> 409 uniqueness`, async () => {
      assertScimError(await c.post('/Users', userBody(name)), 409, 'uniqueness');
    });
  }

  test('composed and decomposed forms are one name; renaming into a look-alike is refused', async () => {
    const j = await c.post('/Users', userBody('jos\u00e9'));
    assert.equal(j.status, 201, j.text);
    assertScimError(await c.post('/Users', userBody('jose\u0301')), 409, 'uniqueness');
    const other = await c.post('/Users', userBody('dave'));
    assert.equal(other.status, 201, other.text);
    assertScimError(await c.patch(`/Users/${other.json.id}`, [{ op: 'replace', path: 'userName', value: '\uff41lice' }]),
      409, 'uniqueness');
    // a different name is fine, and so is re-saving one's own name in another case
    const ok = await c.patch(`/Users/${other.json.id}`, [{ op: 'replace', path: 'userName', value: 'DAVE' }]);
    assert.equal(ok.status, 200, ok.text);
  });

  test('a password set over SCIM ends sessions, refresh tokens and access tokens at once', async () => {
    const { user } = await provisionUser(srv, dir, 'erin@example.com', PW);
    const agent = new Agent(srv.url);
    const { verifier, challenge } = pkcePair();
    const { final } = await signIn(agent, authorizeUrl(srv.issuer, { client_id: web.client_id, redirect_uri: CB,
      response_type: 'code', scope: 'openid offline_access', code_challenge: challenge, code_challenge_method: 'S256' }),
    'erin@example.com', PW);
    const t = (await postForm(srv.url, '/token', web, { grant_type: 'authorization_code', code: codeFrom(final).code,
      redirect_uri: CB, code_verifier: verifier })).json;
    assert.ok(t.refresh_token);
    assert.equal((await introspect(srv.url, rs, t.access_token)).json.active, true);
    // another attribute change does not end anything
    const name = await c.patch(`/Users/${user.id}`, [{ op: 'replace', path: 'displayName', value: 'Erin' }]);
    assert.equal(name.status, 200, name.text);
    assert.equal((await introspect(srv.url, rs, t.access_token)).json.active, true);
    // the password does
    const p = await c.patch(`/Users/${user.id}`, [{ op: 'replace', path: 'password', value: 'New-Password-77d0e2' }]);
    assert.equal(p.status, 200, p.text);
    assert.equal((await introspect(srv.url, rs, t.access_token)).json.active, false);
    const rf = await postForm(srv.url, '/token', web, { grant_type: 'refresh_token', refresh_token: t.refresh_token });
    assert.equal(rf.json.error, 'invalid_grant');
    const ui = await fetch(`${srv.url}/userinfo`, { headers: { authorization: `Bearer ${t.access_token}` } });
    assert.equal(ui.status, 401);
    const again = await agent.get(authorizeUrl(srv.issuer, { client_id: web.client_id, redirect_uri: CB,
      response_type: 'code', scope: 'openid', prompt: 'none', code_challenge: challenge, code_challenge_method: 'S256' }));
    assert.equal(codeFrom(again).error, 'login_required');
    // and the new password signs in
    const a2 = new Agent(srv.url);
    const { final: f2 } = await signIn(a2, authorizeUrl(srv.issuer, { client_id: web.client_id, redirect_uri: CB,
      response_type: 'code', scope: 'openid', code_challenge: challenge, code_challenge_method: 'S256' }),
    'erin@example.com', 'New-Password-77d0e2');
    assert.ok(codeFrom(f2).code);
  });

  testCleanExit(() => [srv]);
});
