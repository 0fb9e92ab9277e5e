// idpd as the upstream of another idpd (issue 12): the second instance trusts the first as an
// upstream issuer (its discovery document and jwks_uri) and exchanges a client_credentials token
// of the first (RFC 8693) for a token of its own. The first has no federation section, so its
// discovery does not list the federated grants; the second's does.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { cliOk, createClient, getJson, initDataDir, postForm, removeDir, sleep, startServer, stopOk, token } from '../lib/idpd.mjs';

const TX = 'urn:ietf:params:oauth:grant-type:token-exchange';
const JB = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const AT = 'urn:ietf:params:oauth:token-type:access_token';
const ENV = { IDPD_ALGS: 'ES256' };
const BRIDGE = 'https://second.example';
const payload = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString('utf8'));

describe('idpd trusting idpd', () => {
  let d1, d2, s1, s2, c1, c1other, gw;

  before(async () => {
    d1 = initDataDir({ env: ENV });
    c1 = createClient(d1, { name: 'first-svc', scope: 'api:read', audiences: [BRIDGE], env: ENV });
    // its tokens' aud is the first's issuer, not an audience the second accepts
    c1other = createClient(d1, { name: 'first-other', scope: 'api:read', env: ENV });
    s1 = await startServer(d1, { env: ENV });
    d2 = initDataDir({ env: ENV });
    gw = createClient(d2, { name: 'gw', scope: 'api:read', audiences: ['https://api.second.example'], env: ENV });
    const doc = `version: 1
claim_namespace: https://second.example/claims/
permissions: {p.read: Read}
roles: {viewer: {permissions: [p.read]}}
scopes:
  api:read: {requires: [p.read], claims: [roles]}
resources:
  "https://api.second.example": {scopes: [api:read]}
bindings:
  issuers:
    first:
      subjects: {"${c1.client_id}": [viewer]}
federation:
  issuers:
    - name: first
      issuer: ${s1.issuer}
      allow_http_loopback: true
      algorithms: [ES256]
      audiences: [${BRIDGE}]
      typ: at+jwt
      claims:
        first_client: {from: client_id}
      token_exchange: {clients: [${gw.client_id}]}
      jwks: {refresh: 60s, min_refresh: 1s, max_refresh: 1h, kid_miss_cooldown: 1s, stale_if_error: 1h, fetch_timeout: 2s}
`;
    const f = path.join(d2, 'fed.yaml');
    writeFileSync(f, doc);
    cliOk(['policy', 'apply', f], { dataDir: d2, env: ENV });
    s2 = await startServer(d2, { env: ENV });
    await sleep(500); // the registry's first fetch (it would also be fetched on a kid miss)
  });
  after(async () => {
    await stopOk(s2);
    await stopOk(s1);
    if (d1) removeDir(d1);
    if (d2) removeDir(d2);
  });

  test('discovery: the grants only where a policy issuer allows them', async () => {
    const a = (await getJson(`${s1.url}/.well-known/openid-configuration`)).json.grant_types_supported;
    assert.ok(!a.includes(TX) && !a.includes(JB), JSON.stringify(a));
    const b = (await getJson(`${s2.url}/.well-known/openid-configuration`)).json.grant_types_supported;
    assert.ok(b.includes(TX), JSON.stringify(b));
    assert.ok(!b.includes(JB), JSON.stringify(b)); // no issuer has jwt_bearer
  });

  test('a client_credentials token of the first becomes a token of the second', async () => {
    const t = await token(s1.url, c1, { scope: 'api:read' });
    assert.equal(t.status, 200, t.text);
    const r = await postForm(s2.url, '/token', gw, {
      grant_type: TX, subject_token: t.json.access_token, subject_token_type: AT, scope: 'api:read',
    });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.issued_token_type, AT);
    assert.equal(r.json.scope, 'api:read');
    const c = payload(r.json.access_token);
    assert.equal(c.iss, s2.issuer);
    assert.equal(c.sub, `first:${c1.client_id}`);
    assert.equal(c.client_id, gw.client_id);
    assert.equal(c.first_client, c1.client_id);
    assert.equal(c.aud, 'https://api.second.example');
    assert.deepEqual(c['https://second.example/claims/roles'], ['viewer']);
    assert.ok(c.exp <= payload(t.json.access_token).exp);
  });

  test('the second refuses the first\'s token for another audience', async () => {
    const t = await token(s1.url, c1other, { scope: 'api:read' });
    assert.equal(t.status, 200, t.text);
    const r = await postForm(s2.url, '/token', gw, { grant_type: TX, subject_token: t.json.access_token, subject_token_type: AT });
    assert.equal(r.status, 400);
    assert.equal(r.json.error, 'invalid_request');
  });
});
