// SCIM authentication and authorisation (provisioning keys), rate limiting, and the discovery
// endpoints (RFC 7644 §4: ServiceProviderConfig, Schemas, ResourceTypes).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { poll, sleep, stopOk, testCleanExit } from '../lib/idpd.mjs';
import {
  AUTH_FAILED_BODY, URN, WWW_AUTHENTICATE, assertScimError, createPkey, pkeyAsync,
  scimClient, startScim, userBody,
} from '../lib/scim.mjs';

/** Asserts the one 401 answer: same body, same header, whatever was wrong. */
function assertAuthFailed(r, what) {
  assert.equal(r.status, 401, `${what}: ${r.status} ${r.text}`);
  assert.equal(r.headers.get('www-authenticate'), WWW_AUTHENTICATE, what);
  assert.match(r.headers.get('content-type') || '', /^application\/scim\+json/i, what);
  assert.deepEqual(r.json, AUTH_FAILED_BODY, `${what}: ${r.text}`);
}

describe('SCIM authentication', () => {
  let s;
  before(async () => { s = await startScim(); });
  after(async () => { await stopOk(s?.srv); });

  test('a valid read+write key lists users (200)', async () => {
    const r = await s.c.get('/Users');
    assert.equal(r.status, 200, r.text);
    assert.match(r.headers.get('content-type'), /^application\/scim\+json; ?charset=utf-8$/i);
    assert.deepEqual(r.json.schemas, [URN.LIST]);
    assert.equal(r.json.totalResults, 0);
  });

  test('missing, garbage, wrong-secret, unknown-id keys -> identical 401', async () => {
    const k = s.pkey.key;
    const lastChar = k.at(-1) === 'A' ? 'B' : 'A';
    const otherId = (k[8] === 'A' ? 'B' : 'A') + k.slice(9);
    const cases = [
      ['no header', null, {}],
      ['garbage bearer', 'garbage', {}],
      ['wrong secret', k.slice(0, -1) + lastChar, {}],
      ['unknown id', 'idpd_pk_' + otherId, {}],
      ['truncated', k.slice(0, -2), {}],
      ['basic scheme', null, { authorization: 'Basic ' + Buffer.from('a:b').toString('base64') }],
      ['bearer without token', null, { authorization: 'Bearer ' }],
      ['key with trailing junk', null, { authorization: `Bearer ${k} x` }],
    ];
    for (const [what, key, headers] of cases) {
      const c = scimClient(s.srv.url, key);
      assertAuthFailed(await c.get('/Users', { headers }), what);
      assertAuthFailed(await c.post('/Users', userBody('nobody'), { headers }), `${what} (POST)`);
    }
    // Discovery endpoints are protected the same way.
    assertAuthFailed(await scimClient(s.srv.url, null).get('/ServiceProviderConfig'), 'SPC without key');
  });

  test('the Bearer scheme name is case-insensitive (RFC 6750 §2.1)', async () => {
    const c = scimClient(s.srv.url, null);
    const r = await c.get('/Users', { headers: { authorization: `bearer ${s.pkey.key}` } });
    assert.equal(r.status, 200, r.text);
  });

  test('a read-only key can GET but not POST/PUT/PATCH/DELETE (403)', async () => {
    const ro = createPkey(s.dir, { name: 'ro', scopes: 'scim:read' });
    const c = scimClient(s.srv.url, ro.key);
    const r = await poll(async () => { const x = await c.get('/Users'); return x.status === 200 && x; }, 3000);
    assert.ok(r, 'new key accepted within 1 s (contract)');
    const u = await s.c.post('/Users', userBody('ro-target'));
    assert.equal(u.status, 201, u.text);
    assertScimError(await c.post('/Users', userBody('ro-new')), 403);
    assertScimError(await c.put(`/Users/${u.json.id}`, userBody('ro-target')), 403);
    assertScimError(await c.patch(`/Users/${u.json.id}`, [{ op: 'replace', path: 'active', value: false }]), 403);
    assertScimError(await c.del(`/Users/${u.json.id}`), 403);
    assert.equal((await s.c.get(`/Users/${u.json.id}`)).json.active, true, 'nothing changed');
  });

  test('a write-only key cannot GET (scim:write does not imply scim:read)', async () => {
    const wo = createPkey(s.dir, { name: 'wo', scopes: 'scim:write' });
    const c = scimClient(s.srv.url, wo.key);
    const r = await poll(async () => { const x = await c.post('/Users', userBody('wo-user')); return x.status === 201 && x; }, 3000);
    assert.ok(r, 'write-only key can create');
    assertScimError(await c.get('/Users'), 403);
    assertScimError(await c.get(`/Users/${r.json.id}`), 403);
  });

  test('revoked while running -> 401 within ~1 s; list shows revoked_at, never the hash', async () => {
    const k = createPkey(s.dir, { name: 'to-revoke' });
    const c = scimClient(s.srv.url, k.key);
    assert.ok(await poll(async () => (await c.get('/Users')).status === 200, 3000));
    const rv = await pkeyAsync(['revoke', k.id], s.dir);
    assert.equal(rv.status, 0, rv.stderr);
    const t0 = Date.now();
    const gone = await poll(async () => (await c.get('/Users')).status === 401, 3000, 50);
    assert.ok(gone, 'revoked key still accepted after 3 s');
    assert.ok(Date.now() - t0 < 2000, `revocation took ${Date.now() - t0} ms (contract: within 1 s)`);
    assertAuthFailed(await c.get('/Users'), 'revoked key');
    const ls = await pkeyAsync(['list', '--json'], s.dir);
    assert.equal(ls.status, 0, ls.stderr);
    const row = ls.json.find((x) => x.id === k.id);
    assert.ok(row, ls.stdout);
    assert.equal(row.name, 'to-revoke');
    assert.ok(row.revoked_at, 'revoked_at set');
    assert.ok(!ls.stdout.includes(k.key.slice(31)), 'list never prints the secret');
    assert.ok(!/hash/i.test(ls.stdout), 'list never prints the hash');
  });

  test('an expired key -> identical 401', async () => {
    const k = createPkey(s.dir, { name: 'short', expires: '1s' });
    assert.ok(k.expires_at, 'expires_at set');
    await sleep(2100);
    assertAuthFailed(await scimClient(s.srv.url, k.key).get('/Users'), 'expired key');
  });

  test('rotate with overlap: old and new keys both work, same name and scopes', async () => {
    const k = createPkey(s.dir, { name: 'rot', scopes: 'scim:read' });
    const r = await pkeyAsync(['rotate', k.id, '--overlap', '1h', '--json'], s.dir);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.json.key, /^idpd_pk_[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}$/);
    assert.notEqual(r.json.id, k.id);
    assert.deepEqual(r.json.scopes, k.scopes);
    const oldC = scimClient(s.srv.url, k.key);
    const newC = scimClient(s.srv.url, r.json.key);
    assert.ok(await poll(async () => (await newC.get('/Users')).status === 200, 3000), 'new key works');
    assert.equal((await oldC.get('/Users')).status, 200, 'old key works during the overlap');
    assertScimError(await newC.post('/Users', userBody('rot-new')), 403);
    const ls = await pkeyAsync(['list', '--json'], s.dir);
    const oldRow = ls.json.find((x) => x.id === k.id);
    const newRow = ls.json.find((x) => x.id === r.json.id);
    assert.equal(newRow.name, 'rot');
    assert.ok(oldRow.expires_at, 'old key now expires');
    const exp = typeof oldRow.expires_at === 'number' ? oldRow.expires_at * 1000 : Date.parse(oldRow.expires_at);
    assert.ok(Math.abs(exp - (Date.now() + 3600e3)) < 120e3, `old expires_at ~ now+1h: ${oldRow.expires_at}`);
  });

  test('rotate with a 1 s overlap: the old key stops, the new one keeps working', async () => {
    const k = createPkey(s.dir, { name: 'rot2' });
    const r = await pkeyAsync(['rotate', k.id, '--overlap', '1s', '--json'], s.dir);
    assert.equal(r.status, 0, r.stderr);
    await sleep(2100);
    assertAuthFailed(await scimClient(s.srv.url, k.key).get('/Users'), 'rotated-out key');
    assert.equal((await scimClient(s.srv.url, r.json.key).get('/Users')).status, 200);
  });

  test('CLI rejects unknown scopes (exit 2)', async () => {
    const r = await pkeyAsync(['create', '--name', 'x', '--scopes', 'scim:read,root', '--json'], s.dir);
    assert.equal(r.status, 2, r.stdout + r.stderr);
  });

  test('unknown SCIM path -> 404 SCIM error (Microsoft /serviceConfiguration is not an RFC path)', async () => {
    assertScimError(await s.c.get('/serviceConfiguration'), 404);
    assertScimError(await s.c.get('/Nope'), 404);
  });

  testCleanExit(() => [s.srv]);
});

describe('SCIM discovery (RFC 7644 §4, RFC 7643 §5-7)', () => {
  let s;
  before(async () => { s = await startScim({ scopes: 'scim:read' }); });
  after(async () => { await stopOk(s?.srv); });

  test('/ServiceProviderConfig', async () => {
    const r = await s.c.get('/ServiceProviderConfig');
    assert.equal(r.status, 200, r.text);
    assert.match(r.headers.get('content-type'), /^application\/scim\+json/i);
    const j = r.json;
    assert.deepEqual(j.schemas, [URN.SPC]);
    assert.equal(j.patch.supported, true);
    assert.equal(j.bulk.supported, false);
    assert.equal(j.filter.supported, true);
    assert.equal(j.filter.maxResults, 200);
    assert.equal(j.changePassword.supported, false);
    assert.equal(j.sort.supported, true);
    assert.equal(j.etag.supported, true);
    assert.ok(Array.isArray(j.authenticationSchemes) && j.authenticationSchemes.length >= 1);
    const a = j.authenticationSchemes[0];
    assert.equal(a.type, 'oauthbearertoken');
    assert.equal(a.primary, true);
    assert.equal(typeof a.name, 'string');
    assert.equal(typeof a.description, 'string');
  });

  test('/Schemas lists User, EnterpriseUser and Group with attribute definitions', async () => {
    const r = await s.c.get('/Schemas');
    assert.equal(r.status, 200, r.text);
    const list = r.json.Resources;
    assert.ok(Array.isArray(list), r.text);
    const ids = list.map((x) => x.id).sort();
    for (const u of [URN.USER, URN.ENTERPRISE, URN.GROUP]) assert.ok(ids.includes(u), `${u} in ${ids}`);
    const user = list.find((x) => x.id === URN.USER);
    assert.equal(user.name, 'User');
    const userName = user.attributes.find((a) => a.name === 'userName');
    assert.equal(userName.type, 'string');
    assert.equal(userName.required, true);
    assert.equal(userName.uniqueness, 'server');
    assert.equal(userName.caseExact, false);
    const password = user.attributes.find((a) => a.name === 'password');
    assert.equal(password.mutability, 'writeOnly');
    assert.equal(password.returned, 'never');
    const groups = user.attributes.find((a) => a.name === 'groups');
    assert.equal(groups.mutability, 'readOnly');
    assert.equal(groups.multiValued, true);
    const emails = user.attributes.find((a) => a.name === 'emails');
    assert.equal(emails.type, 'complex');
    assert.ok(emails.subAttributes.some((x) => x.name === 'value'));
    const ent = list.find((x) => x.id === URN.ENTERPRISE);
    const mgr = ent.attributes.find((a) => a.name === 'manager');
    assert.equal(mgr.type, 'complex');
    assert.ok(mgr.subAttributes.some((x) => x.name === 'value'));
    const grp = list.find((x) => x.id === URN.GROUP);
    assert.ok(grp.attributes.some((a) => a.name === 'displayName' && a.required === true));
    assert.ok(grp.attributes.some((a) => a.name === 'members' && a.multiValued === true));
  });

  test('/Schemas/{urn} returns one schema; unknown urn -> 404', async () => {
    const r = await s.c.get(`/Schemas/${URN.GROUP}`);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.id, URN.GROUP);
    assert.ok(Array.isArray(r.json.attributes));
    assertScimError(await s.c.get('/Schemas/urn:nope'), 404);
  });

  test('/ResourceTypes lists User (with the enterprise extension) and Group', async () => {
    const r = await s.c.get('/ResourceTypes');
    assert.equal(r.status, 200, r.text);
    const list = r.json.Resources;
    const user = list.find((x) => x.name === 'User');
    const group = list.find((x) => x.name === 'Group');
    assert.ok(user && group, r.text);
    assert.deepEqual(user.schemas, [URN.RESOURCE_TYPE]);
    assert.equal(user.endpoint, '/Users');
    assert.equal(user.schema, URN.USER);
    assert.deepEqual(user.schemaExtensions, [{ schema: URN.ENTERPRISE, required: false }]);
    assert.equal(group.endpoint, '/Groups');
    assert.equal(group.schema, URN.GROUP);
    const one = await s.c.get('/ResourceTypes/User');
    assert.equal(one.status, 200, one.text);
    assert.equal(one.json.endpoint, '/Users');
    assertScimError(await s.c.get('/ResourceTypes/Printer'), 404);
  });

  testCleanExit(() => [s.srv]);
});

describe('SCIM rate limit (token bucket per key)', () => {
  let s;
  before(async () => { s = await startScim({ env: { IDPD_SCIM_RATE: '5', IDPD_SCIM_BURST: '5' } }); });
  after(async () => { await stopOk(s?.srv); });

  test('burst 5 -> the 6th..12th immediate requests get 429 with Retry-After', async () => {
    const rs = await Promise.all(Array.from({ length: 12 }, () => s.c.get('/Users')));
    const ok = rs.filter((r) => r.status === 200).length;
    const limited = rs.filter((r) => r.status === 429);
    assert.ok(ok >= 5 && ok <= 7, `~burst requests pass: ${rs.map((r) => r.status)}`);
    assert.ok(limited.length >= 5, `the rest are limited: ${rs.map((r) => r.status)}`);
    for (const r of limited) {
      assertScimError(r, 429);
      const ra = r.headers.get('retry-after');
      assert.match(ra || '', /^\d+$/, 'Retry-After in seconds');
      assert.ok(Number(ra) >= 1 && Number(ra) <= 60, ra);
    }
  });

  test('the bucket refills (5/s): a request succeeds again after 1.2 s', async () => {
    await sleep(1200);
    const r = await s.c.get('/Users');
    assert.equal(r.status, 200, r.text);
  });

  test('the limit is per key: another key is not limited', async () => {
    const other = createPkey(s.dir, { name: 'other' });
    const mine = await Promise.all(Array.from({ length: 10 }, () => s.c.get('/Users')));
    assert.ok(mine.some((r) => r.status === 429), 'first key exhausted');
    const c2 = scimClient(s.srv.url, other.key);
    assert.ok(await poll(async () => (await c2.get('/Users')).status === 200, 3000), 'second key unaffected');
  });

  testCleanExit(() => [s.srv]);
});
