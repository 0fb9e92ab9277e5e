// The federated grants at /token (issue 12, docs/FEDERATION.md "Token exchange and JWT bearer"):
// RFC 8693 token exchange of upstream access tokens, ID tokens and JWTs (claim mapping, require,
// audiences, algorithms, client lists, provisioning jit / link_only / none, SCIM deactivation,
// delegation with act), of idpd's own tokens (narrowing), RFC 7523 JWT bearer (replay, lifetime,
// jti), key rotation and outages upstream, metrics and discovery. Mock upstreams:
// tests/lib/upstream.mjs.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  cliOk, createClient, getJson, initDataDir, introspect, postForm, removeDir, sleep, startServer, stopOk, token,
} from '../lib/idpd.mjs';
import { createPkey, scimClient, userBody } from '../lib/scim.mjs';
import { startUpstream } from '../lib/upstream.mjs';

const TX = 'urn:ietf:params:oauth:grant-type:token-exchange';
const JB = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const AT = 'urn:ietf:params:oauth:token-type:access_token';
const IDT = 'urn:ietf:params:oauth:token-type:id_token';
const JWT = 'urn:ietf:params:oauth:token-type:jwt';
const AUD = 'https://idpd.example';
const NS = 'https://idpd.example/claims/';
const RES_A = 'https://api.example/a';
const RES_B = 'https://api.example/b';
const ENV = { IDPD_ALGS: 'ES256' };

const now = () => Math.floor(Date.now() / 1000);
const payload = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString('utf8'));
const jti = () => randomBytes(12).toString('base64url');

function sample(text, name, labels) {
  const want = `${name}{${Object.entries(labels).map(([k, v]) => `${k}="${v}"`).join(',')}} `;
  const line = text.split('\n').find((l) => l.startsWith(want));
  return line === undefined ? undefined : Number(line.slice(want.length));
}

function issuerYaml(name, up, { provision = 'none', jwks, extra = '', bearer, exchange, algorithms = '[ES256]' }) {
  return `    - name: ${name}
      issuer: ${up.issuer}
      allow_http_loopback: true
      algorithms: ${algorithms}
      audiences: [${AUD}]
      provision: ${provision}
${extra}${exchange ? `      token_exchange: {clients: [${exchange.join(', ')}]}\n` : ''}${bearer ? `      jwt_bearer: {clients: [${bearer.join(', ')}], max_lifetime: 300s}\n` : ''}      jwks: {${jwks}}
`;
}

describe('federated grants', () => {
  const ups = {};
  let dir;
  let srv;
  let gw; // the exchanging gateway: listed in every issuer's token_exchange.clients
  let other; // a client listed nowhere
  let svc; // the jwt_bearer client
  let cc; // a client_credentials client whose own tokens get exchanged
  let scim;

  const JW = 'refresh: 60s, min_refresh: 1s, max_refresh: 1h, kid_miss_cooldown: 1s, stale_if_error: 1h, fetch_timeout: 2s';

  async function startIdpd() {
    srv = await startServer(dir, { env: ENV });
    scim = scimClient(srv.url, pkey.key);
    // the registry fetches every issuer's keys at start (on its own thread)
    for (let i = 0; i < 50 && Object.values(ups).some((u) => u.keysRequests === 0); i++) await sleep(100);
  }
  let pkey;

  before(async () => {
    for (const n of ['up', 'lk', 'pn', 'st', 'fl']) ups[n] = await startUpstream({ alg: 'ES256' });
    await ups.up.addKey({ alg: 'RS256', kid: 'rsa-1' });
    dir = initDataDir({ env: ENV });
    gw = createClient(dir, { name: 'gateway', scope: 'api:read api:write open', audiences: [RES_A, RES_B], env: ENV });
    other = createClient(dir, { name: 'other', scope: 'api:read', audiences: [RES_A], env: ENV });
    svc = createClient(dir, { name: 'svc', scope: 'api:read api:write', audiences: [RES_A], env: ENV });
    cc = createClient(dir, { name: 'cc', scope: 'api:read api:write', audiences: [RES_A, RES_B], env: ENV });
    pkey = createPkey(dir, { env: ENV });
    const doc = `version: 1
claim_namespace: ${NS}
permissions: {p.read: Read, p.write: Write}
roles:
  viewer: {permissions: [p.read]}
  editor: {permissions: [p.read, p.write]}
scopes:
  open: {}
  api:read: {requires: [p.read], claims: [roles]}
  api:write: {requires: [p.write], claims: [roles]}
resources:
  "${RES_A}": {scopes: [api:read, api:write]}
  "${RES_B}": {scopes: [api:read]}
bindings:
  clients: {"${cc.client_id}": [editor], "${svc.client_id}": [viewer]}
  issuers:
    up:
      groups: {admins: [editor], staff: [viewer]}
    lk:
      subjects: {"lk-bob": [viewer]}
    pn:
      subjects: {"pat": [editor]}
    st:
      subjects: {"s1": [viewer]}
    fl:
      subjects: {"f1": [viewer]}
federation:
  issuers:
${issuerYaml('up', ups.up, {
    provision: 'jit', jwks: JW, exchange: [gw.client_id], bearer: [svc.client_id],
    extra: `      require: {tenant: t1}
      claims:
        email: {from: email, only_if: email_verified}
        name: {from: name}
        groups: {from: groups, map: {up-admins: admins, up-staff: staff}, drop_unmapped: true}
        iss: {from: evil_iss}
`,
  })}${issuerYaml('lk', ups.lk, { provision: 'link_only', jwks: JW, exchange: [gw.client_id], extra: '      link_by: externalId\n' })}${issuerYaml('pn', ups.pn, { jwks: JW, exchange: [gw.client_id] })}${issuerYaml('st', ups.st, {
    jwks: 'refresh: 1s, min_refresh: 1s, max_refresh: 1h, kid_miss_cooldown: 1s, stale_if_error: 3s, fetch_timeout: 1s', exchange: [gw.client_id],
  })}${issuerYaml('fl', ups.fl, { jwks: 'refresh: 1h, min_refresh: 1s, max_refresh: 24h, kid_miss_cooldown: 2s, stale_if_error: 1h, fetch_timeout: 2s', exchange: [gw.client_id] })}`;
    const f = path.join(dir, 'fed.yaml');
    writeFileSync(f, doc);
    cliOk(['policy', 'apply', f], { dataDir: dir, env: ENV });
    await startIdpd();
  });
  after(async () => {
    await stopOk(srv);
    for (const u of Object.values(ups)) await u.close();
    if (dir) removeDir(dir);
  });

  const upToken = (up, claims = {}, opts = { typ: 'at+jwt' }) =>
    up.sign({ iss: up.issuer, aud: AUD, iat: now(), exp: now() + 300, ...claims }, opts);
  const exchange = (creds, params) => postForm(srv.url, '/token', creds, { grant_type: TX, ...params });
  const bearer = (creds, params) => postForm(srv.url, '/token', creds, { grant_type: JB, ...params });
  const assertion = (claims = {}, up = ups.up) =>
    up.sign({ iss: up.issuer, sub: 'robot', aud: `${srv.issuer}/token`, iat: now(), exp: now() + 120, jti: jti(), tenant: 't1', groups: ['up-staff'], ...claims }, { typ: 'JWT' });

  test('an upstream access token: normalized claims (map, drop_unmapped, only_if), JIT user, policy roles', async () => {
    const st = await upToken(ups.up, {
      sub: 'alice', tenant: 't1', email: 'alice@up.example', email_verified: true, name: 'Alice',
      groups: ['up-admins', 'unknown-group'], evil_iss: 'https://evil.example', phone: '123',
    });
    const r = await exchange(gw, { subject_token: st, subject_token_type: AT, scope: 'api:read api:write', resource: RES_A });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(Object.keys(r.json), ['access_token', 'issued_token_type', 'token_type', 'expires_in', 'scope']);
    assert.equal(r.json.issued_token_type, AT);
    assert.equal(r.json.token_type, 'Bearer');
    assert.equal(r.json.scope, 'api:read api:write');
    assert.equal(r.json.refresh_token, undefined);
    const c = payload(r.json.access_token);
    assert.equal(c.iss, srv.issuer); // the mapped "iss" rule never overrides a registered claim
    assert.equal(c.aud, RES_A);
    assert.equal(c.client_id, gw.client_id);
    assert.equal(c.email, 'alice@up.example');
    assert.equal(c.name, 'Alice');
    assert.deepEqual(c.groups, ['admins']);
    assert.equal(c.phone, undefined);
    assert.deepEqual(c[`${NS}roles`], ['editor']);
    assert.match(c.jti, /^[A-Za-z0-9_-]+\.\d+$/); // a local user's token: "<random>.<epoch>"
    // the JIT user is a SCIM user, reused on the next exchange
    const u = await scim.get(`/Users/${c.sub}`);
    assert.equal(u.status, 200, u.text);
    assert.equal(u.json.userName, 'up:alice');
    // provisioning is audited, in the hash chain like every SCIM create
    const evs = JSON.parse(cliOk(['audit', 'tail', '-n', '50', '--json'], { dataDir: dir, env: ENV }).stdout);
    const prov = evs.filter((e) => e.action === 'user.provision' && e.target_id === c.sub);
    assert.equal(prov.length, 1, JSON.stringify(evs.map((e) => e.action)));
    assert.equal(prov[0].actor, 'federation:up');
    assert.equal(prov[0].target_type, 'User');
    const r2 = await exchange(gw, { subject_token: await upToken(ups.up, { sub: 'alice', tenant: 't1', email: 'alice@up.example' }), subject_token_type: AT });
    assert.equal(r2.status, 200, r2.text);
    const c2 = payload(r2.json.access_token);
    assert.equal(c2.sub, c.sub);
    assert.equal(c2.email, undefined); // only_if email_verified
  });

  test('an upstream ID token and a jwt; a foreign-audience ID token is refused', async () => {
    const idt = await upToken(ups.up, { sub: 'alice', tenant: 't1' }, { typ: 'JWT' });
    const r = await exchange(gw, { subject_token: idt, subject_token_type: IDT, scope: 'api:read' });
    assert.equal(r.status, 200, r.text);
    const r2 = await exchange(gw, { subject_token: await upToken(ups.up, { sub: 'alice', tenant: 't1' }, { typ: 'JWT' }), subject_token_type: JWT, scope: 'api:read' });
    assert.equal(r2.status, 200, r2.text);
    const foreign = await upToken(ups.up, { sub: 'alice', tenant: 't1', aud: 'someone-else' }, { typ: 'JWT' });
    const r3 = await exchange(gw, { subject_token: foreign, subject_token_type: IDT });
    assert.equal(r3.status, 400);
    assert.equal(r3.json.error, 'invalid_request');
  });

  test('require rule, alg not allowed, unknown issuer without upstream requests, bad parameters', async () => {
    const noTenant = await upToken(ups.up, { sub: 'alice' });
    let r = await exchange(gw, { subject_token: noTenant, subject_token_type: AT });
    assert.equal(r.status, 400);
    assert.equal(r.json.error, 'invalid_request');
    const rsa = await ups.up.sign({ iss: ups.up.issuer, aud: AUD, sub: 'alice', tenant: 't1', iat: now(), exp: now() + 60 }, { kid: 'rsa-1', typ: 'at+jwt' });
    r = await exchange(gw, { subject_token: rsa, subject_token_type: AT });
    assert.equal(r.status, 400);
    assert.equal(r.json.error, 'invalid_request');
    const stranger = await startUpstream({ alg: 'ES256' });
    try {
      const t = await upToken(stranger, { sub: 'x' });
      r = await exchange(gw, { subject_token: t, subject_token_type: AT });
      assert.equal(r.status, 400);
      assert.equal(r.json.error, 'invalid_request');
      assert.equal(stranger.requests.length, 0);
    } finally {
      await stranger.close();
    }
    const good = await upToken(ups.up, { sub: 'alice', tenant: 't1' });
    r = await exchange(gw, { subject_token: good, subject_token_type: 'urn:ietf:params:oauth:token-type:saml2' });
    assert.equal(r.json.error, 'invalid_request');
    r = await exchange(gw, { subject_token: good, subject_token_type: AT, requested_token_type: 'urn:ietf:params:oauth:token-type:refresh_token' });
    assert.equal(r.json.error, 'invalid_request');
    r = await exchange(gw, { subject_token: good, subject_token_type: AT, actor_token: good });
    assert.equal(r.json.error, 'invalid_request');
    r = await exchange(gw, { subject_token: good, subject_token_type: AT, audience: 'https://not-allowed.example' });
    assert.equal(r.json.error, 'invalid_target');
    r = await exchange(gw, { subject_token: good, subject_token_type: AT, scope: 'admin:all' });
    assert.equal(r.json.error, 'invalid_scope');
  });

  test('an unlisted client is unauthorized_client (token exchange and JWT bearer)', async () => {
    const t = await upToken(ups.up, { sub: 'alice', tenant: 't1' });
    const r = await exchange(other, { subject_token: t, subject_token_type: AT });
    assert.equal(r.status, 400);
    assert.equal(r.json.error, 'unauthorized_client');
    const b = await bearer(other, { assertion: await assertion() });
    assert.equal(b.status, 400);
    assert.equal(b.json.error, 'unauthorized_client');
  });

  test('link_only: an unlinked subject is refused, one linked by externalId accepted', async () => {
    let r = await exchange(gw, { subject_token: await upToken(ups.lk, { sub: 'nobody' }), subject_token_type: AT });
    assert.equal(r.status, 400);
    assert.equal(r.json.error, 'invalid_request');
    const u = await scim.post('/Users', userBody('bob@example.com', { externalId: 'lk-bob' }));
    assert.equal(u.status, 201, u.text);
    r = await exchange(gw, { subject_token: await upToken(ups.lk, { sub: 'lk-bob' }), subject_token_type: AT, scope: 'api:read' });
    assert.equal(r.status, 200, r.text);
    assert.equal(payload(r.json.access_token).sub, u.json.id);
    assert.equal(r.json.scope, 'api:read');
  });

  test('provision none: sub "<name>:<sub>", roles from the issuer bindings', async () => {
    const r = await exchange(gw, { subject_token: await upToken(ups.pn, { sub: 'pat' }), subject_token_type: AT, scope: 'api:write', resource: RES_A });
    assert.equal(r.status, 200, r.text);
    const c = payload(r.json.access_token);
    assert.equal(c.sub, 'pn:pat');
    assert.doesNotMatch(c.jti, /\./);
    assert.equal(r.json.scope, 'api:write');
  });

  test('deactivating the JIT user over SCIM ends federated access and kills its tokens', async () => {
    const st = await upToken(ups.up, { sub: 'carol', tenant: 't1', groups: ['up-staff'] });
    const r = await exchange(gw, { subject_token: st, subject_token_type: AT, scope: 'api:read' });
    assert.equal(r.status, 200, r.text);
    const issued = r.json.access_token;
    const id = payload(issued).sub;
    assert.equal((await introspect(srv.url, gw, issued)).json.active, true);
    // the issued (user) token is itself exchangeable while the user is active: it narrows
    const own = await exchange(gw, { subject_token: issued, subject_token_type: AT, audience: RES_B });
    assert.equal(own.status, 200, own.text);
    assert.equal(payload(own.json.access_token).sub, id);
    assert.equal(payload(own.json.access_token).aud, RES_B);
    assert.match(payload(own.json.access_token).jti, /\.\d+$/);
    // re-evaluated for the local user now: its issuer-derived roles (bindings.issuers) are not
    // known outside an upstream exchange, so the scope only narrows (here: to nothing held)
    for (const sc of (own.json.scope ?? '').split(' ').filter(Boolean)) assert.ok(['api:read'].includes(sc), sc);
    const p = await scim.patch(`/Users/${id}`, [{ op: 'replace', path: 'active', value: false }]);
    assert.equal(p.status, 200, p.text);
    assert.equal((await introspect(srv.url, gw, issued)).json.active, false);
    const again = await exchange(gw, { subject_token: await upToken(ups.up, { sub: 'carol', tenant: 't1' }), subject_token_type: AT });
    assert.equal(again.status, 400);
    assert.equal(again.json.error, 'invalid_request');
    // and its issued tokens can no longer be exchanged either
    const ownAgain = await exchange(gw, { subject_token: issued, subject_token_type: AT });
    assert.equal(ownAgain.json.error, 'invalid_request');
    assert.equal((await introspect(srv.url, gw, own.json.access_token)).json.active, false);
  });

  test('delegation: act from the actor token, nested inside the subject token\'s act', async () => {
    const st = await upToken(ups.up, { sub: 'alice', tenant: 't1' });
    const actor = await upToken(ups.up, { sub: 'agent-7', tenant: 't1' });
    let r = await exchange(gw, { subject_token: st, subject_token_type: AT, actor_token: actor, actor_token_type: AT });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(payload(r.json.access_token).act, { sub: 'agent-7', iss: ups.up.issuer });
    const chained = await upToken(ups.up, { sub: 'alice', tenant: 't1', act: { sub: 'first', iss: 'https://x.example', junk: 1 } });
    r = await exchange(gw, { subject_token: chained, subject_token_type: AT, actor_token: actor, actor_token_type: AT });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(payload(r.json.access_token).act, { sub: 'agent-7', iss: ups.up.issuer, act: { sub: 'first', iss: 'https://x.example' } });
    // an own token as actor: iss is idpd's
    const own = (await token(srv.url, cc, { scope: 'api:read' })).json.access_token;
    r = await exchange(gw, { subject_token: st, subject_token_type: AT, actor_token: own, actor_token_type: AT });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(payload(r.json.access_token).act, { sub: cc.client_id, iss: srv.issuer });
  });

  test('own tokens: the exchange narrows scope and audience, listed or own client only', async () => {
    const t = await token(srv.url, cc, { scope: 'api:read api:write', resource: RES_A });
    assert.equal(t.status, 200, t.text);
    const subj = t.json.access_token;
    let r = await exchange(gw, { subject_token: subj, subject_token_type: AT, scope: 'api:read', audience: RES_B });
    assert.equal(r.status, 200, r.text);
    const c = payload(r.json.access_token);
    assert.equal(c.sub, cc.client_id);
    assert.equal(c.client_id, gw.client_id);
    assert.equal(c.aud, RES_B);
    assert.equal(r.json.scope, 'api:read');
    assert.ok(c.exp <= payload(subj).exp);
    // never wider than the subject token
    const narrow = (await token(srv.url, cc, { scope: 'api:read' })).json.access_token;
    r = await exchange(gw, { subject_token: narrow, subject_token_type: AT, scope: 'api:write' });
    assert.equal(r.json.error, 'invalid_scope');
    // the token's own client may exchange it; another unlisted client may not
    r = await exchange(cc, { subject_token: subj, subject_token_type: AT, scope: 'api:read' });
    assert.equal(r.status, 200, r.text);
    r = await exchange(other, { subject_token: subj, subject_token_type: AT });
    assert.equal(r.json.error, 'unauthorized_client');
    // a revoked subject token is refused
    const rv = await postForm(srv.url, '/revoke', cc, { token: subj });
    assert.equal(rv.status, 200);
    r = await exchange(gw, { subject_token: subj, subject_token_type: AT });
    assert.equal(r.json.error, 'invalid_request');
  });

  test('the issued token never outlives the subject token', async () => {
    const st = await upToken(ups.up, { sub: 'alice', tenant: 't1', exp: now() + 20 });
    const r = await exchange(gw, { subject_token: st, subject_token_type: AT });
    assert.equal(r.status, 200, r.text);
    assert.ok(r.json.expires_in <= 20, `expires_in ${r.json.expires_in}`);
    assert.ok(payload(r.json.access_token).exp <= payload(st).exp);
  });

  test('JWT bearer: success, replay, lifetime, missing jti', async () => {
    const a = await assertion();
    let r = await bearer(svc, { assertion: a, scope: 'api:read' });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(Object.keys(r.json), ['access_token', 'token_type', 'expires_in', 'scope']);
    assert.equal(r.json.refresh_token, undefined);
    const c = payload(r.json.access_token);
    assert.equal(c.client_id, svc.client_id);
    assert.equal(c.aud, RES_A);
    r = await bearer(svc, { assertion: a, scope: 'api:read' });
    assert.equal(r.status, 400);
    assert.equal(r.json.error, 'invalid_grant');
    r = await bearer(svc, { assertion: await assertion({ iat: now(), exp: now() + 3600 }) });
    assert.equal(r.json.error, 'invalid_grant');
    r = await bearer(svc, { assertion: await assertion({ jti: undefined }) });
    assert.equal(r.json.error, 'invalid_grant');
    r = await bearer(svc, { assertion: await assertion({ aud: AUD }) });
    assert.equal(r.json.error, 'invalid_grant');
    r = await bearer(svc, {});
    assert.equal(r.json.error, 'invalid_request');
    // the issuer URL itself is an accepted audience too
    r = await bearer(svc, { assertion: await assertion({ aud: srv.issuer }) });
    assert.equal(r.status, 200, r.text);
  });

  test('rotation while requests flow: a pre-published key, then an unannounced one', async () => {
    const up = ups.st; // refresh 1s
    const ok = async () => {
      const r = await exchange(gw, { subject_token: await upToken(up, { sub: 's1' }), subject_token_type: AT });
      assert.equal(r.status, 200, r.text);
    };
    await ok();
    const kid = await up.addKey();
    await sleep(2500); // picked up by the scheduled refresh
    const before = up.keysRequests;
    await up.rotate({ kid });
    for (let i = 0; i < 5; i++) await ok();
    assert.ok(up.keysRequests - before <= 3, 'no refetch forced by the pre-published key');
    // unannounced: the first request with the new kid refetches once, then succeeds
    const fl = ups.fl; // refresh 1h: only a kid miss fetches
    const r0 = await exchange(gw, { subject_token: await upToken(fl, { sub: 'f1' }), subject_token_type: AT });
    assert.equal(r0.status, 200, r0.text);
    await sleep(2200); // past the kid-miss cooldown (2s) of the start-up fetch
    const k0 = fl.keysRequests;
    await fl.rotate();
    const r1 = await exchange(gw, { subject_token: await upToken(fl, { sub: 'f1' }), subject_token_type: AT });
    assert.equal(r1.status, 200, r1.text);
    assert.equal(fl.keysRequests - k0, 1);
  });

  test('a flood of unknown kids: at most one upstream fetch per cooldown', async () => {
    const fl = ups.fl; // kid_miss_cooldown 2s
    await sleep(2200);
    const k0 = fl.keysRequests;
    const rs = await Promise.all(Array.from({ length: 20 }, async (_, i) =>
      exchange(gw, {
        subject_token: await fl.sign({ iss: fl.issuer, aud: AUD, sub: 'f1', iat: now(), exp: now() + 60 }, { unpublished: true, kid: `nope-${i}`, typ: 'at+jwt' }),
        subject_token_type: AT,
      })));
    for (const r of rs) assert.equal(r.json.error, 'invalid_request', r.text);
    assert.ok(fl.keysRequests - k0 <= 1, `${fl.keysRequests - k0} fetches`);
    // and the known key still works right after the flood
    const ok = await exchange(gw, { subject_token: await upToken(fl, { sub: 'f1' }), subject_token_type: AT });
    assert.equal(ok.status, 200, ok.text);
  });

  test('metrics count the decisions', async () => {
    const m = await (await fetch(`${srv.url}/metrics`)).text();
    const n = (labels) => sample(m, 'idpd_federation_tokens_total', labels) ?? 0;
    assert.ok(n({ issuer: 'up', grant: 'token_exchange', result: 'accepted' }) >= 3);
    assert.ok(n({ issuer: 'up', grant: 'token_exchange', result: 'client' }) >= 1);
    assert.ok(n({ issuer: 'up', grant: 'token_exchange', result: 'require' }) >= 1);
    assert.ok(n({ issuer: 'up', grant: 'token_exchange', result: 'alg_not_allowed' }) >= 1);
    assert.ok(n({ issuer: '(unknown)', grant: 'token_exchange', result: 'unknown_issuer' }) >= 1);
    assert.ok(n({ issuer: 'lk', grant: 'token_exchange', result: 'not_linked' }) >= 1);
    assert.ok(n({ issuer: 'up', grant: 'token_exchange', result: 'inactive_user' }) >= 1);
    assert.ok(n({ issuer: 'up', grant: 'jwt_bearer', result: 'accepted' }) >= 2);
    assert.ok(n({ issuer: 'up', grant: 'jwt_bearer', result: 'replay' }) >= 1);
    assert.ok(n({ issuer: 'up', grant: 'jwt_bearer', result: 'lifetime' }) >= 1);
    assert.ok(n({ issuer: 'up', grant: 'jwt_bearer', result: 'missing_claim' }) >= 1);
    // a refusal is logged with the issuer, grant and reason, never the token
    const logs = srv.logs().join('\n');
    assert.match(logs, /federated token_exchange refused: issuer up, reason require/);
    assert.doesNotMatch(logs, /eyJ[A-Za-z0-9_-]{20,}\.eyJ/);
  });

  test('discovery lists both grants', async () => {
    const d = await getJson(`${srv.url}/.well-known/openid-configuration`);
    assert.ok(d.json.grant_types_supported.includes(TX));
    assert.ok(d.json.grant_types_supported.includes(JB));
  });

  test('an upstream outage: last good keys work; after stale_if_error 503; a restart still verifies', async () => {
    const st = ups.st; // stale_if_error 3s
    st.failKeys(500);
    let r = await exchange(gw, { subject_token: await upToken(st, { sub: 's1' }), subject_token_type: AT });
    assert.equal(r.status, 200, r.text);
    await sleep(4500);
    r = await exchange(gw, { subject_token: await upToken(st, { sub: 's1' }), subject_token_type: AT });
    assert.equal(r.status, 503, r.text);
    assert.equal(r.json.error, 'temporarily_unavailable');
    // up (stale_if_error 1h) fails too; a restarted idpd starts from the stored last good set
    ups.up.failKeys(500);
    await stopOk(srv);
    srv = await startServer(dir, { env: ENV });
    scim = scimClient(srv.url, pkey.key);
    r = await exchange(gw, { subject_token: await upToken(ups.up, { sub: 'alice', tenant: 't1' }), subject_token_type: AT });
    assert.equal(r.status, 200, r.text);
    ups.up.failKeys(null);
    st.failKeys(null);
  });
});
