// SCIM driven the way Microsoft Entra ID provisioning does it: the request shapes of Entra's
// documented provisioning flow ("Develop a SCIM endpoint", request/response examples), including
// its non-RFC habits: capitalised ops ("Replace", "Add", "Remove"), "active":"False" strings,
// no-path value objects with dotted keys, "$ref":null in member values, member removal by a value
// array, and queries with excludedAttributes=members.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { stopOk, testCleanExit } from '../lib/idpd.mjs';
import { URN, assertList, assertResource, assertScimError, startScim } from '../lib/scim.mjs';

/** The user body Entra POSTs (meta.resourceType and roles:[] included, as Entra sends them). */
function entraUser(userName, extra = {}) {
  return {
    schemas: [URN.USER, URN.ENTERPRISE],
    externalId: randomUUID(),
    userName,
    active: true,
    displayName: 'Test User',
    emails: [{ primary: true, type: 'work', value: `${userName}@testuser.com` }],
    meta: { resourceType: 'User' },
    name: { formatted: 'givenName familyName', familyName: 'familyName', givenName: 'givenName' },
    roles: [],
    ...extra,
  };
}

describe('SCIM as Microsoft Entra ID provisioning drives it', () => {
  let s;
  let c;
  let manager;
  let user;
  let group;
  const userName = `Test_User_${randomUUID()}`;
  const groupName = `Group_${randomUUID()}`;
  before(async () => {
    s = await startScim();
    c = s.c;
  });
  after(async () => { await stopOk(s?.srv); });

  test('GET /Users?filter=userName eq "..." first returns an empty ListResponse', async () => {
    const l = assertList(await c.get(`/Users?filter=${encodeURIComponent(`userName eq "${userName}"`)}`));
    assert.equal(l.totalResults, 0);
    assert.deepEqual(l.Resources, []);
  });

  test('POST user with enterprise department and manager -> 201', async () => {
    manager = assertResource(await c.post('/Users', entraUser(`Mgr_${randomUUID()}`)), 201, 'User');
    const r = await c.post('/Users', entraUser(userName, {
      [URN.ENTERPRISE]: { department: 'Dept', employeeNumber: 'E1', manager: { value: manager.id } },
    }), { contentType: 'application/json' });
    user = assertResource(r, 201, 'User');
    assert.equal(user.userName, userName);
    assert.equal(user.active, true);
    assert.equal(user[URN.ENTERPRISE].manager.value, manager.id);
    assert.equal(user[URN.ENTERPRISE].department, 'Dept');
    assert.equal(user.meta.resourceType, 'User');
    assert.ok(Array.isArray(user.roles) ? user.roles.length === 0 : user.roles === undefined, 'roles:[] accepted');
  });

  test('the filter now finds exactly that user (Entra matches on userName)', async () => {
    const l = assertList(await c.get(`/Users?filter=${encodeURIComponent(`userName eq "${userName.toUpperCase()}"`)}`));
    assert.equal(l.totalResults, 1);
    assert.equal(l.Resources[0].id, user.id);
    const byExt = assertList(await c.get(`/Users?filter=${encodeURIComponent(`externalId eq "${user.externalId}"`)}`));
    assert.equal(byExt.totalResults, 1);
  });

  test('PATCH "op":"Replace" single- and multi-valued paths', async () => {
    const r = await c.patch(`/Users/${user.id}`, [
      { op: 'Replace', path: 'emails[type eq "work"].value', value: 'updated@testuser.com' },
      { op: 'Replace', path: 'name.familyName', value: 'updatedFamilyName' },
      { op: 'Replace', path: `${URN.ENTERPRISE}:department`, value: 'NewDept' },
    ]);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.emails.find((e) => e.type === 'work').value, 'updated@testuser.com');
    assert.equal(r.json.name.familyName, 'updatedFamilyName');
    assert.equal(r.json.name.givenName, 'givenName');
    assert.equal(r.json[URN.ENTERPRISE].department, 'NewDept');
    assert.equal(r.json[URN.ENTERPRISE].manager.value, manager.id, 'untouched extension attributes kept');
  });

  test('PATCH "op":"Add" on a filtered path with no match creates the value (Entra phone/email adds)', async () => {
    const r = await c.patch(`/Users/${user.id}`, [{ op: 'Add', path: 'emails[type eq "home"].value', value: 'home@testuser.com' }]);
    assert.equal(r.status, 200, r.text);
    const home = r.json.emails.find((e) => e.type === 'home');
    assert.equal(home?.value, 'home@testuser.com', r.text);
  });

  test('PATCH without path: value object with dotted keys ("name.givenName")', async () => {
    const r = await c.patch(`/Users/${user.id}`, [{
      op: 'Replace',
      value: { 'name.givenName': 'NewGiven', displayName: 'New Display', 'name.formatted': 'NewGiven updatedFamilyName' },
    }]);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.name.givenName, 'NewGiven');
    assert.equal(r.json.name.familyName, 'updatedFamilyName');
    assert.equal(r.json.name.formatted, 'NewGiven updatedFamilyName');
    assert.equal(r.json.displayName, 'New Display');
    assert.equal(r.json['name.givenName'], undefined, 'dotted key is a path, not an attribute');
  });

  test('PATCH manager by the enterprise URN path', async () => {
    const other = assertResource(await c.post('/Users', entraUser(`Mgr2_${randomUUID()}`)), 201, 'User');
    const r = await c.patch(`/Users/${user.id}`, [{ op: 'Add', path: `${URN.ENTERPRISE}:manager`, value: { value: other.id } }]);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json[URN.ENTERPRISE].manager.value, other.id);
  });

  test('groups: GET ?excludedAttributes=members&filter=displayName eq -> empty, then POST', async () => {
    const q = `/Groups?excludedAttributes=members&filter=${encodeURIComponent(`displayName eq "${groupName}"`)}`;
    assert.equal(assertList(await c.get(q)).totalResults, 0);
    const r = await c.post('/Groups', {
      externalId: randomUUID(), displayName: groupName, meta: { resourceType: 'Group' }, members: [], schemas: [URN.GROUP],
    });
    group = assertResource(r, 201, 'Group');
    assert.equal(group.displayName, groupName);
    assert.equal(r.headers.get('location'), `${c.base}/Groups/${group.id}`);
    const l = assertList(await c.get(q));
    assert.equal(l.totalResults, 1);
    assert.equal(l.Resources[0].id, group.id);
    assert.equal(l.Resources[0].members, undefined, 'members excluded');
  });

  test('PATCH group: Add members with "$ref":null', async () => {
    const r = await c.patch(`/Groups/${group.id}`, [{ op: 'Add', path: 'members', value: [{ $ref: null, value: user.id }, { $ref: null, value: manager.id }] }]);
    assert.equal(r.status, 200, r.text);
    const ids = (r.json.members || []).map((m) => m.value).sort();
    assert.deepEqual(ids, [user.id, manager.id].sort());
    const m = r.json.members.find((x) => x.value === user.id);
    assert.equal(m.$ref, `${c.base}/Users/${user.id}`);
    assert.equal(m.display, userName);
    const again = await c.patch(`/Groups/${group.id}`, [{ op: 'Add', path: 'members', value: [{ $ref: null, value: user.id }] }]);
    assert.equal(again.status, 200, again.text);
    assert.equal(again.json.members.length, 2, 'adding an existing member is idempotent');
    const u = (await c.get(`/Users/${user.id}`)).json;
    assert.deepEqual(u.groups.map((g) => g.value), [group.id]);
  });

  test('PATCH group: Remove with a value array (Entra) and with members[value eq "id"]', async () => {
    let r = await c.patch(`/Groups/${group.id}`, [{ op: 'Remove', path: 'members', value: [{ $ref: null, value: manager.id }] }]);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual((r.json.members || []).map((m) => m.value), [user.id]);
    r = await c.patch(`/Groups/${group.id}`, [{ op: 'Remove', path: `members[value eq "${user.id}"]` }]);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.members || [], []);
    const u = (await c.get(`/Users/${user.id}`)).json;
    assert.ok(!u.groups || u.groups.length === 0, JSON.stringify(u.groups));
  });

  test('PATCH group: Replace displayName; unknown member id -> 400 invalidValue', async () => {
    const r = await c.patch(`/Groups/${group.id}`, [{ op: 'Replace', path: 'displayName', value: `${groupName}-renamed` }]);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.displayName, `${groupName}-renamed`);
    assertScimError(await c.patch(`/Groups/${group.id}`, [{ op: 'Add', path: 'members', value: [{ value: randomUUID() }] }]), 400, 'invalidValue');
    assertScimError(await c.patch(`/Groups/${group.id}`, [{ op: 'Add', path: 'members', value: [{ value: group.id }] }]), 400, 'invalidValue');
  });

  test('deactivate: "active":"False" string, with a path and in a value object', async () => {
    let r = await c.patch(`/Users/${user.id}`, [{ op: 'Replace', path: 'active', value: 'False' }]);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.active, false);
    r = await c.patch(`/Users/${user.id}`, [{ op: 'Replace', path: 'active', value: 'True' }]);
    assert.equal(r.json.active, true);
    r = await c.patch(`/Users/${user.id}`, [{ op: 'Replace', value: { active: 'False' } }]);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.active, false);
    assert.equal((await c.get(`/Users/${user.id}`)).json.active, false);
    const l = assertList(await c.get(`/Users?filter=${encodeURIComponent(`userName eq "${userName}" and active eq false`)}`));
    assert.equal(l.totalResults, 1);
  });

  test('delete user and group -> 204; then 404', async () => {
    await c.patch(`/Groups/${group.id}`, [{ op: 'Add', path: 'members', value: [{ value: user.id }] }]);
    assert.equal((await c.del(`/Users/${user.id}`)).status, 204);
    assertScimError(await c.get(`/Users/${user.id}`), 404);
    const g = (await c.get(`/Groups/${group.id}`)).json;
    assert.ok(!(g.members || []).some((m) => m.value === user.id), 'deleted user left its groups');
    assert.equal((await c.del(`/Groups/${group.id}`)).status, 204);
    assertScimError(await c.get(`/Groups/${group.id}`), 404);
  });

  testCleanExit(() => [s.srv]);
});
