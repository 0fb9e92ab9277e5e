// DESIGN §5: user passwords use Argon2id with parameters from config (argon2_t, argon2_m_kib,
// argon2_p); a sign-in whose stored hash used other parameters rehashes the password, without
// changing the SCIM resource (no new version).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { initDataDir, startServer, stopOk, storeSql } from '../lib/idpd.mjs';
import { scimClient } from '../lib/scim.mjs';
import { Agent, authorizeUrl, codeFrom, createCodeClient, pkcePair, provisionUser, signIn } from '../lib/oidc.mjs';

const PW = 'Rehash-Pw-0b7e44';
const CB = 'http://127.0.0.1:9/cb';

describe('Argon2id parameters and rehash on sign-in', () => {
  let dir;
  let srv;
  let web;
  let user;
  let scim;
  const storedHash = () => storeSql(dir, `SELECT password_hash FROM users WHERE id = '${user.id}'`);
  const login = async () => {
    const { final } = await signIn(new Agent(srv.url), authorizeUrl(srv.issuer, { client_id: web.client_id,
      redirect_uri: CB, response_type: 'code', scope: 'openid', code_challenge: pkcePair().challenge,
      code_challenge_method: 'S256' }), 'erin@example.com', PW);
    return codeFrom(final);
  };

  before(async () => {
    dir = initDataDir();
    web = createCodeClient(dir, { name: 'App' });
    srv = await startServer(dir);
    ({ user, scim } = await provisionUser(srv, dir, 'erin@example.com', PW));
  });
  after(() => stopOk(srv));

  test('SCIM stores the configured parameters (default t=2, m=19456, p=1)', () => {
    assert.match(storedHash(), /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
  });

  test('after a parameter change, the next sign-in rehashes; the user resource keeps its version', async () => {
    const before1 = (await scim.get(`/Users/${user.id}`)).json.meta.version;
    await stopOk(srv);
    srv = await startServer(dir, { env: { IDPD_ARGON2_T: '3', IDPD_ARGON2_M_KIB: '8192' } });
    assert.ok((await login()).code);
    assert.match(storedHash(), /^\$argon2id\$v=19\$m=8192,t=3,p=1\$/);
    assert.ok((await login()).code, 'the rehashed password still signs in');
    const c = scimClient(srv.url, scim.key);
    assert.equal((await c.get(`/Users/${user.id}`)).json.meta.version, before1);
  });
});
