// Interop: npm `openid-client` v6 runs the whole OpenID Connect code flow against idpd with no
// special configuration: discovery, authorization URL with PKCE (S256), state and nonce, the
// login and consent forms (submitted by a cookie-keeping agent, as a browser would), code
// exchange with ID token validation (iss, aud, nonce, at_hash via its own checks, RFC 9207 iss),
// UserInfo, refresh, RP-initiated logout; for a confidential client (client_secret_basic and
// client_secret_post) and for a public client (token_endpoint_auth_method none).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import { initDataDir, startServer, stopOk, testCleanExit } from '../lib/idpd.mjs';
import { Agent, createCodeClient, provisionUser, signIn } from '../lib/oidc.mjs';

const PW = 'Interop-Pw-7d2b88';
const CB = 'http://127.0.0.1:9/callback';
const BYE = 'http://127.0.0.1:9/signed-out';

describe('openid-client v6: authorization code flow', () => {
  let srv;
  let conf; // confidential, client_secret_basic
  let confPost; // confidential, client_secret_post (the registered method is the only one accepted)
  let pub;
  before(async () => {
    const dir = initDataDir();
    conf = createCodeClient(dir, { name: 'RP', redirectUris: [CB], postLogoutUris: [BYE] });
    confPost = createCodeClient(dir, { name: 'RP post', redirectUris: [CB], postLogoutUris: [BYE],
      authMethod: 'client_secret_post' });
    pub = createCodeClient(dir, { name: 'Public RP', redirectUris: [CB], public: true });
    srv = await startServer(dir);
    await provisionUser(srv, dir, 'dave@example.com', PW, { name: { givenName: 'Dave', familyName: 'Doe' } });
  });
  after(() => stopOk(srv));

  async function run(config, agent, scope = 'openid profile email offline_access') {
    const verifier = client.randomPKCECodeVerifier();
    const challenge = await client.calculatePKCECodeChallenge(verifier);
    const state = client.randomState();
    const nonce = client.randomNonce();
    const url = client.buildAuthorizationUrl(config, { redirect_uri: CB, scope, code_challenge: challenge,
      code_challenge_method: 'S256', state, nonce });
    const { final } = await signIn(agent, url.href, 'dave@example.com', PW);
    const tokens = await client.authorizationCodeGrant(config, new URL(final.location),
      { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true });
    return tokens;
  }

  for (const [name, auth, rp] of [['client_secret_basic', () => client.ClientSecretBasic(), () => conf],
    ['client_secret_post', () => client.ClientSecretPost(), () => confPost]]) {
    test(`confidential client (${name}): code, ID token, userinfo, refresh, logout URL`, async () => {
      const c = rp();
      const config = await client.discovery(new URL(srv.issuer), c.client_id, c.client_secret, auth(),
        { execute: [client.allowInsecureRequests] });
      const agent = new Agent(srv.url);
      const tokens = await run(config, agent);
      const claims = tokens.claims();
      assert.equal(claims.iss, srv.issuer);
      assert.equal(claims.aud, c.client_id);
      assert.equal(claims.email, 'dave@example.com');
      assert.ok(tokens.refresh_token);
      const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
      assert.equal(info.given_name, 'Dave');
      const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
      assert.ok(refreshed.access_token);
      assert.notEqual(refreshed.refresh_token, tokens.refresh_token);
      assert.equal(refreshed.claims().sub, claims.sub);
      const end = client.buildEndSessionUrl(config, { id_token_hint: refreshed.id_token ?? tokens.id_token,
        post_logout_redirect_uri: BYE, state: 'out' });
      const r = await agent.get(end.href);
      assert.equal(r.status, 303, r.text.slice(0, 200));
      assert.equal(r.location, `${BYE}?state=out`);
      await assert.rejects(client.refreshTokenGrant(config, refreshed.refresh_token),
        (e) => e.error === 'invalid_grant');
    });
  }

  test('public client (none): PKCE code flow and refresh', async () => {
    const config = await client.discovery(new URL(srv.issuer), pub.client_id, undefined, client.None(),
      { execute: [client.allowInsecureRequests] });
    const tokens = await run(config, new Agent(srv.url));
    assert.equal(tokens.claims().aud, pub.client_id);
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
    assert.ok(refreshed.access_token);
  });

  test('errors surface as openid-client errors: access_denied from the consent page', async () => {
    const config = await client.discovery(new URL(srv.issuer), conf.client_id, conf.client_secret,
      client.ClientSecretBasic(), { execute: [client.allowInsecureRequests] });
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const url = client.buildAuthorizationUrl(config, { redirect_uri: CB, scope: 'openid groups',
      code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', state });
    const { final } = await signIn(new Agent(srv.url), url.href, 'dave@example.com', PW, { consent: 'deny' });
    await assert.rejects(client.authorizationCodeGrant(config, new URL(final.location),
      { pkceCodeVerifier: verifier, expectedState: state }), (e) => e.error === 'access_denied');
  });

  testCleanExit(() => [srv]);
});
