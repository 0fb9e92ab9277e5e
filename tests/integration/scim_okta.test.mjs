// SCIM driven the way Okta's SCIM 2.0 provisioning does it (Okta "SCIM 2.0 protocol" reference
// request shapes): filter + startIndex/count lookups, POST with groups:[] and a password, PUT
// (full replace, id/meta echoed back) for profile updates, PATCH {"op":"replace","value":{...}}
// for deactivation, and group create / PATCH members / PUT displayName / DELETE.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { stopOk, testCleanExit } from '../lib/idpd.mjs';
import { URN, assertList, assertResource, assertScimError, startScim } from '../lib/scim.mjs';

const PW = 'okta-Pw-1mz050nq-secret';

function oktaUser(userName, extra = {}) {
  return {
    schemas: [URN.USER],
    userName,
    name: { givenName: 'Test', familyName: 'User' },
    emails: [{ primary: true, value: userName, type: 'work' }],
    displayName: 'Test User',
    locale: 'en-US',
    externalId: '00ujl29u0le5T6Aj10h7',
    groups: [],
    password: PW,
    active: true,
    ...extra,
  };
}

describe('SCIM as Okta provisioning drives it', () => {
  let s;
  let c;
  let user;
  let user2;
  let group;
  const lookup = (userName) => c.get(`/Users?filter=${encodeURIComponent(`userName eq "${userName}"`)}&startIndex=1&count=100`);
  before(async () => {
    s = await startScim();
    c = s.c;
  });
  after(async () => { await stopOk(s?.srv); });

  test('GET /Users?filter=userName eq "x"&startIndex=1&count=100 -> empty list', async () => {
    const l = assertList(await lookup('test.user@okta.local'));
    assert.equal(l.totalResults, 0);
    assert.equal(l.startIndex, 1);
  });

  test('POST /Users (groups:[] readOnly is ignored, password accepted, not returned)', async () => {
    const r = await c.post('/Users', oktaUser('test.user@okta.local'));
    user = assertResource(r, 201, 'User');
    assert.equal(user.userName, 'test.user@okta.local');
    assert.equal(user.locale, 'en-US');
    assert.equal(user.externalId, '00ujl29u0le5T6Aj10h7');
    assert.ok(!r.text.includes(PW) && !('password' in user));
    assert.ok(!user.groups || user.groups.length === 0);
    const l = assertList(await lookup('test.user@okta.local'));
    assert.equal(l.totalResults, 1);
    assert.equal(l.Resources[0].id, user.id);
    assert.ok(!JSON.stringify(l).includes(PW));
  });

  test('POST of an existing userName -> 409 uniqueness (Okta then looks the user up)', async () => {
    assertScimError(await c.post('/Users', oktaUser('TEST.USER@okta.local')), 409, 'uniqueness');
  });

  test('PUT /Users/{id} with id and meta echoed back updates the profile', async () => {
    const cur = (await c.get(`/Users/${user.id}`)).json;
    const body = oktaUser('test.user@okta.local', {
      id: user.id,
      name: { givenName: 'Another', middleName: 'Excited', familyName: 'User' },
      meta: { resourceType: 'User', created: '2010-01-23T04:56:22Z', lastModified: '2011-05-13T04:42:34Z' },
    });
    const r = await c.put(`/Users/${user.id}`, body);
    const u = assertResource(r, 200, 'User');
    assert.deepEqual(u.name, { givenName: 'Another', middleName: 'Excited', familyName: 'User' });
    assert.equal(u.meta.created, cur.meta.created, 'meta in a PUT body is ignored (readOnly)');
    assert.notEqual(u.meta.lastModified, '2011-05-13T04:42:34Z');
    assert.ok(!r.text.includes(PW));
  });

  test('PATCH {"op":"replace","value":{"active":false}} deactivates; true reactivates', async () => {
    let r = await c.patch(`/Users/${user.id}`, [{ op: 'replace', value: { active: false } }]);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.active, false);
    assert.equal((await c.get(`/Users/${user.id}`)).json.active, false);
    r = await c.patch(`/Users/${user.id}`, [{ op: 'replace', value: { active: true } }]);
    assert.equal(r.json.active, true);
  });

  test('PATCH {"op":"replace","value":{"password":...}} (Okta password sync) is not echoed', async () => {
    const r = await c.patch(`/Users/${user.id}`, [{ op: 'replace', value: { password: PW + 'x' } }]);
    assert.equal(r.status, 200, r.text);
    assert.ok(!r.text.includes(PW) && !('password' in r.json));
  });

  test('groups: POST, lookup by displayName with startIndex/count', async () => {
    user2 = assertResource(await c.post('/Users', oktaUser('second@okta.local', { externalId: 'x2' })), 201, 'User');
    const r = await c.post('/Groups', { schemas: [URN.GROUP], displayName: 'Test SCIMv2', members: [] });
    group = assertResource(r, 201, 'Group');
    assert.deepEqual(group.schemas, [URN.GROUP]);
    assert.ok(!group.members || group.members.length === 0);
    const l = assertList(await c.get(`/Groups?filter=${encodeURIComponent('displayName eq "Test SCIMv2"')}&startIndex=1&count=100`));
    assert.equal(l.totalResults, 1);
    assert.equal(l.Resources[0].id, group.id);
    assertScimError(await c.post('/Groups', { schemas: [URN.GROUP] }), 400, 'invalidValue');
  });

  test('group PATCH add/remove members (RFC paths, as Okta sends them)', async () => {
    let r = await c.patch(`/Groups/${group.id}`, [{ op: 'add', path: 'members', value: [
      { value: user.id, display: 'test.user@okta.local' }, { value: user2.id, display: 'second@okta.local' }] }]);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.members.map((m) => m.value).sort(), [user.id, user2.id].sort());
    for (const m of r.json.members) {
      assert.equal(m.type, 'User');
      assert.equal(m.$ref, `${c.base}/Users/${m.value}`);
    }
    r = await c.patch(`/Groups/${group.id}`, [{ op: 'remove', path: `members[value eq "${user2.id}"]` }]);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.members.map((m) => m.value), [user.id]);
    const ex = await c.get(`/Groups/${group.id}?excludedAttributes=members`);
    assert.equal(ex.status, 200, ex.text);
    assert.equal(ex.json.members, undefined);
    assert.equal(ex.json.displayName, 'Test SCIMv2');
  });

  test('group PATCH {"op":"replace","value":{"id":...,"displayName":...}} renames', async () => {
    const r = await c.patch(`/Groups/${group.id}`, [{ op: 'replace', value: { id: group.id, displayName: 'Renamed SCIMv2' } }]);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.displayName, 'Renamed SCIMv2');
    assert.equal(r.json.id, group.id);
    assert.deepEqual(r.json.members.map((m) => m.value), [user.id], 'members untouched');
  });

  test('group PUT replaces displayName and members', async () => {
    const r = await c.put(`/Groups/${group.id}`, {
      schemas: [URN.GROUP], id: group.id, displayName: 'Put SCIMv2', members: [{ value: user2.id, display: 'second@okta.local' }],
    });
    const g = assertResource(r, 200, 'Group');
    assert.equal(g.displayName, 'Put SCIMv2');
    assert.deepEqual(g.members.map((m) => m.value), [user2.id]);
    assert.equal(g.members[0].display, 'second@okta.local');
    const u1 = (await c.get(`/Users/${user.id}`)).json;
    const u2 = (await c.get(`/Users/${user2.id}`)).json;
    assert.ok(!u1.groups || u1.groups.length === 0);
    assert.deepEqual(u2.groups.map((x) => x.value), [group.id]);
    assert.equal(u2.groups[0].display, 'Put SCIMv2');
  });

  test('GET /Groups?startIndex=1&count=100 lists groups; DELETE -> 204 then 404', async () => {
    const l = assertList(await c.get('/Groups?startIndex=1&count=100'));
    assert.equal(l.totalResults, 1);
    assert.equal((await c.del(`/Groups/${group.id}`)).status, 204);
    assertScimError(await c.get(`/Groups/${group.id}`), 404);
    const u2 = (await c.get(`/Users/${user2.id}`)).json;
    assert.ok(!u2.groups || u2.groups.length === 0, 'deleted group left the user');
    assert.equal(assertList(await c.get('/Groups?startIndex=1&count=100')).totalResults, 0);
  });

  test('the server log never contains the password', () => {
    assert.ok(!s.srv.logs().join('\n').includes(PW));
  });

  testCleanExit(() => [s.srv]);
});
