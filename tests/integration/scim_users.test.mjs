// SCIM /Users as a plain RFC 7643/7644 client: create, read, filter, paginate, sort, project,
// replace, patch, conditional requests (ETags), delete, and the error responses (RFC 7644 §3.12).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { stopOk, testCleanExit } from '../lib/idpd.mjs';
import {
  URN, assertList, assertResource, assertScimError, startScim, userBody,
} from '../lib/scim.mjs';

const PASSWORD = 'Pw-never-returned-7f3a9c';
const RFC3339_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}(Z|[+-]\d{2}:\d{2})$/;

/** The 25-user fixture: pg-01..pg-25; Jones when i%3==0 (8), work email @example.com when even (12). */
function fixtureUser(i) {
  const n = `pg-${String(i).padStart(2, '0')}`;
  return {
    schemas: [URN.USER],
    userName: n,
    name: { givenName: `G${i}`, familyName: i % 3 === 0 ? 'Jones' : 'Smith' },
    emails: [
      { value: `${n}@example.${i % 2 === 0 ? 'com' : 'org'}`, type: 'work', primary: true },
      { value: `${n}@home.test`, type: 'home' },
    ],
    title: 'Engineer',
  };
}

describe('SCIM /Users (RFC 7644)', () => {
  let s;
  let c;
  let alice; // created in the first test
  before(async () => {
    s = await startScim();
    c = s.c;
    for (let i = 1; i <= 25; i++) {
      const r = await c.post('/Users', fixtureUser(i));
      assert.equal(r.status, 201, r.text);
    }
  });
  after(async () => { await stopOk(s?.srv); });

  const filt = (filter, extra = {}) => c.list('Users', { filter, ...extra });
  const names = (l) => l.Resources.map((u) => u.userName);

  test('POST /Users -> 201, Location, ETag, meta, id; password never returned', async () => {
    const r = await c.post('/Users', userBody('Alice', { password: PASSWORD, externalId: 'ext-alice', displayName: 'Alice A' }));
    alice = assertResource(r, 201, 'User');
    assert.equal(r.headers.get('location'), `${c.base}/Users/${alice.id}`);
    assert.equal(alice.meta.location, r.headers.get('location'));
    assert.match(alice.meta.created, RFC3339_MS);
    assert.match(alice.meta.lastModified, RFC3339_MS);
    assert.deepEqual(alice.schemas, [URN.USER]);
    assert.equal(alice.userName, 'Alice');
    assert.equal(alice.externalId, 'ext-alice');
    assert.equal(alice.displayName, 'Alice A');
    assert.equal(alice.active, true);
    assert.deepEqual(alice.name, { givenName: 'Given', familyName: 'Family' });
    assert.equal(alice.emails[0].value, 'alice@example.com');
    assert.equal('password' in alice, false);
    assert.ok(!r.text.includes(PASSWORD));
  });

  test('active defaults to true; application/json bodies are accepted', async () => {
    const b = userBody('Defaulted');
    delete b.active;
    const r = await c.post('/Users', b, { contentType: 'application/json' });
    assertResource(r, 201, 'User');
    assert.equal(r.json.active, true);
  });

  test('duplicate userName in a different case -> 409 uniqueness', async () => {
    assertScimError(await c.post('/Users', userBody('ALICE')), 409, 'uniqueness');
    assertScimError(await c.post('/Users', userBody('alice')), 409, 'uniqueness');
  });

  test('GET /Users/{id} -> 200 with ETag; unknown id -> 404 SCIM error', async () => {
    const r = await c.get(`/Users/${alice.id}`);
    const u = assertResource(r, 200, 'User');
    assert.equal(u.id, alice.id);
    assert.equal(u.meta.version, alice.meta.version);
    assert.ok(!r.text.includes(PASSWORD) && !('password' in u));
    assertScimError(await c.get('/Users/00000000-0000-0000-0000-000000000000'), 404);
    assertScimError(await c.get('/Users/no-such-user'), 404);
  });

  test('filter userName eq is case-insensitive (caseExact false)', async () => {
    const l = assertList(await filt('userName eq "PG-07"'));
    assert.equal(l.totalResults, 1);
    assert.equal(l.Resources[0].userName, 'pg-07');
    const none = assertList(await filt('userName eq "nobody-here"'));
    assert.equal(none.totalResults, 0);
    assert.deepEqual(none.Resources, []);
  });

  test('filter emails[type eq "work" and value co "@example.com"]', async () => {
    const l = assertList(await filt('emails[type eq "work" and value co "@example.com"] and userName sw "pg-"', { count: 100 }));
    assert.equal(l.totalResults, 12);
    for (const u of l.Resources) assert.equal(Number(u.userName.slice(3)) % 2, 0, u.userName);
    // The value filter applies to the same email: home addresses never end in @example.com.
    const none = assertList(await filt('emails[type eq "home" and value co "@example.com"]'));
    assert.equal(none.totalResults, 0);
  });

  test('filter name.familyName sw "J", and/or/not, grouping, pr', async () => {
    assert.equal(assertList(await filt('name.familyName sw "J" and userName sw "pg-"')).totalResults, 8);
    assert.equal(assertList(await filt('name.familyName sw "j" and userName sw "pg-"')).totalResults, 8, 'sw is case-insensitive here');
    const or = assertList(await filt('userName eq "pg-01" or userName eq "pg-02"'));
    assert.deepEqual(names(or).sort(), ['pg-01', 'pg-02']);
    assert.equal(assertList(await filt('userName sw "pg-" and not (name.familyName eq "Jones")')).totalResults, 17);
    assert.equal(assertList(await filt('userName sw "pg-" and (name.familyName eq "Jones" or userName ew "-01")')).totalResults, 9);
    assert.equal(assertList(await filt('title pr and userName sw "pg-"')).totalResults, 25);
    assert.equal(assertList(await filt('emails co "pg-1"')).totalResults, 10, 'emails co applies to emails.value');
  });

  test('pagination: startIndex/count/totalResults/itemsPerPage', async () => {
    const f = 'userName sw "pg-"';
    const p1 = assertList(await filt(f, { sortBy: 'userName', startIndex: 1, count: 10 }));
    assert.equal(p1.totalResults, 25);
    assert.equal(p1.startIndex, 1);
    assert.equal(p1.itemsPerPage, 10);
    assert.equal(p1.Resources[0].userName, 'pg-01');
    const p3 = assertList(await filt(f, { sortBy: 'userName', startIndex: 21, count: 10 }));
    assert.equal(p3.startIndex, 21);
    assert.deepEqual(names(p3), ['pg-21', 'pg-22', 'pg-23', 'pg-24', 'pg-25']);
    const seen = new Set();
    for (let i = 1; i <= 25; i += 7) {
      for (const n of names(assertList(await filt(f, { sortBy: 'userName', startIndex: i, count: 7 })))) seen.add(n);
    }
    assert.equal(seen.size, 25, 'pages cover every user exactly once');
    const zero = assertList(await filt(f, { count: 0 }));
    assert.equal(zero.totalResults, 25);
    assert.equal(zero.itemsPerPage, 0);
    const neg = assertList(await filt(f, { count: -5 }));
    assert.equal(neg.itemsPerPage, 0, 'negative count -> 0');
    const lowStart = assertList(await filt(f, { startIndex: 0, count: 2, sortBy: 'userName' }));
    assert.equal(lowStart.startIndex, 1, 'startIndex < 1 -> 1');
    assert.equal(lowStart.Resources[0].userName, 'pg-01');
    const past = assertList(await filt(f, { startIndex: 100 }));
    assert.equal(past.totalResults, 25);
    assert.equal(past.itemsPerPage, 0);
  });

  test('count above the maximum is clamped to 200 (no error)', async () => {
    const l = assertList(await c.list('Users', { count: 100000 }));
    assert.ok(l.itemsPerPage <= 200);
    assert.equal(l.itemsPerPage, Math.min(l.totalResults, 200));
    const d = assertList(await c.list('Users'));
    assert.equal(d.itemsPerPage, Math.min(d.totalResults, 100), 'default count 100');
  });

  test('sortBy userName ascending / descending', async () => {
    const f = 'userName sw "pg-"';
    const asc = names(assertList(await filt(f, { sortBy: 'userName', sortOrder: 'ascending', count: 25 })));
    const expected = Array.from({ length: 25 }, (_, i) => `pg-${String(i + 1).padStart(2, '0')}`);
    assert.deepEqual(asc, expected);
    const desc = names(assertList(await filt(f, { sortBy: 'userName', sortOrder: 'descending', count: 25 })));
    assert.deepEqual(desc, [...expected].reverse());
    const byFamily = assertList(await filt(f, { sortBy: 'name.familyName', count: 25 }));
    assert.deepEqual(byFamily.Resources.slice(0, 8).map((u) => u.name.familyName), Array(8).fill('Jones'));
  });

  test('attributes and excludedAttributes (list and single resource)', async () => {
    const l = assertList(await filt('userName sw "pg-"', { attributes: 'userName', count: 3 }));
    for (const u of l.Resources) {
      assert.equal(typeof u.id, 'string', 'id is returned always');
      assert.equal(typeof u.userName, 'string');
      assert.equal(u.name, undefined);
      assert.equal(u.emails, undefined);
      assert.equal(u.title, undefined);
    }
    const sub = assertList(await filt('userName eq "pg-03"', { attributes: 'name.familyName' }));
    assert.deepEqual(sub.Resources[0].name, { familyName: 'Jones' });
    const ex = assertList(await filt('userName eq "pg-03"', { excludedAttributes: 'emails,name' }));
    const u = ex.Resources[0];
    assert.equal(u.emails, undefined);
    assert.equal(u.name, undefined);
    assert.equal(u.userName, 'pg-03');
    assert.equal(u.title, 'Engineer');
    assert.equal(typeof u.id, 'string');
    const one = await c.get(`/Users/${alice.id}?attributes=emails`);
    assert.equal(one.status, 200, one.text);
    assert.equal(one.json.id, alice.id);
    assert.ok(Array.isArray(one.json.emails));
    assert.equal(one.json.name, undefined);
    const exId = await c.get(`/Users/${alice.id}?excludedAttributes=id`);
    assert.equal(exId.json.id, alice.id, 'id is returned always, even when excluded');
    const pw = await c.get(`/Users/${alice.id}?attributes=password`);
    assert.equal(pw.status, 200, pw.text);
    assert.equal('password' in pw.json, false, 'password is returned never');
  });

  test('PUT replaces the resource; omitted attributes are cleared; meta updated', async () => {
    const before = (await c.get(`/Users/${alice.id}`)).json;
    const body = {
      schemas: [URN.USER],
      userName: 'Alice',
      name: { givenName: 'Alicia', familyName: 'Anders' },
      emails: [{ value: 'alicia@example.net', type: 'work', primary: true }],
      active: true,
    };
    const r = await c.put(`/Users/${alice.id}`, body);
    const u = assertResource(r, 200, 'User');
    assert.equal(u.id, alice.id);
    assert.deepEqual(u.name, { givenName: 'Alicia', familyName: 'Anders' });
    assert.deepEqual(u.emails.map((e) => e.value), ['alicia@example.net']);
    assert.equal(u.displayName, undefined, 'displayName omitted from PUT -> cleared');
    assert.equal(u.meta.created, before.meta.created);
    assert.notEqual(u.meta.version, before.meta.version);
    assert.ok(Date.parse(u.meta.lastModified) >= Date.parse(before.meta.lastModified));
    assert.deepEqual((await c.get(`/Users/${alice.id}`)).json.name, u.name);
    alice = u;
  });

  test('conditional requests: If-Match stale -> 412, current or * -> 200; If-None-Match -> 304', async () => {
    const cur = (await c.get(`/Users/${alice.id}`)).json.meta.version;
    const stale = 'W/"stale-version-0"';
    const body = { ...userBody('Alice'), name: { givenName: 'Alicia', familyName: 'Anders' } };
    assertScimError(await c.put(`/Users/${alice.id}`, body, { headers: { 'if-match': stale } }), 412);
    assertScimError(await c.patch(`/Users/${alice.id}`, [{ op: 'replace', path: 'title', value: 'x' }], { headers: { 'if-match': stale } }), 412);
    assertScimError(await c.del(`/Users/${alice.id}`, { headers: { 'if-match': stale } }), 412);
    assert.equal((await c.get(`/Users/${alice.id}`)).json.meta.version, cur, '412 changed nothing');

    const nm = await c.get(`/Users/${alice.id}`, { headers: { 'if-none-match': cur } });
    assert.equal(nm.status, 304);
    assert.equal(nm.text, '');
    assert.equal((await c.get(`/Users/${alice.id}`, { headers: { 'if-none-match': stale } })).status, 200);

    const ok = await c.patch(`/Users/${alice.id}`, [{ op: 'replace', path: 'title', value: 'Lead' }], { headers: { 'if-match': cur } });
    const u = assertResource(ok, 200, 'User');
    assert.equal(u.title, 'Lead');
    assert.notEqual(u.meta.version, cur);
    assertScimError(await c.patch(`/Users/${alice.id}`, [{ op: 'replace', path: 'title', value: 'y' }], { headers: { 'if-match': cur } }), 412);
    const star = await c.patch(`/Users/${alice.id}`, [{ op: 'replace', path: 'title', value: 'Star' }], { headers: { 'if-match': '*' } });
    assert.equal(star.status, 200, star.text);
    assert.equal(star.json.title, 'Star');
  });

  test('PATCH add/replace/remove with value filters (RFC 7644 §3.5.2)', async () => {
    const p = (ops) => c.patch(`/Users/${alice.id}`, ops);
    let r = await p([{ op: 'add', path: 'emails', value: [{ value: 'alice@home.test', type: 'home' }] }]);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.emails.map((e) => e.type).sort(), ['home', 'work']);
    r = await p([{ op: 'replace', path: 'emails[type eq "work"].value', value: 'alice@work.test' }]);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.emails.find((e) => e.type === 'work').value, 'alice@work.test');
    r = await p([{ op: 'remove', path: 'emails[type eq "home"]' }]);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.emails.map((e) => e.type), ['work']);
    r = await p([{ op: 'replace', path: 'name.givenName', value: 'Ally' }, { op: 'remove', path: 'title' }]);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.name.givenName, 'Ally');
    assert.equal(r.json.name.familyName, 'Anders');
    assert.equal(r.json.title, undefined);
    r = await p([{ op: 'replace', value: { displayName: 'Ally A', nickName: 'al' } }]);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.displayName, 'Ally A');
    assert.equal(r.json.nickName, 'al');
  });

  test('PATCH replace with a non-eq value filter that matches nothing -> 400 noTarget (RFC 7644 §3.5.2.3)', async () => {
    const r = await c.patch(`/Users/${alice.id}`, [{ op: 'replace', path: 'emails[value co "nowhere.invalid"].value', value: 'x@y.example' }]);
    assertScimError(r, 400, 'noTarget');
    assert.ok(!(await c.get(`/Users/${alice.id}`)).json.emails.some((e) => e.value === 'x@y.example'), 'nothing added');
  });

  test('PATCH replace on an eq-only value filter with no match creates the element (Entra tolerance, docs/SCIM.md)', async () => {
    const r = await c.patch(`/Users/${alice.id}`, [{ op: 'replace', path: 'emails[type eq "fax"].value', value: 'x' }]);
    assert.equal(r.status, 200, r.text);
    assert.ok(r.json.emails.some((e) => e.type === 'fax' && e.value === 'x'), 'fax email created');
  });

  test('password is write-only: set via POST/PUT/PATCH, never in any response', async () => {
    const pw2 = PASSWORD + '-2';
    const r1 = await c.patch(`/Users/${alice.id}`, [{ op: 'replace', path: 'password', value: pw2 }]);
    assert.equal(r1.status, 200, r1.text);
    const r2 = await c.put(`/Users/${alice.id}`, { ...userBody('Alice'), password: pw2 });
    assert.equal(r2.status, 200, r2.text);
    const r3 = await c.get(`/Users/${alice.id}`);
    const r4 = await c.list('Users', { filter: 'userName eq "alice"' });
    const r5 = await c.list('Users', { filter: 'userName eq "alice"', attributes: 'password,userName' });
    for (const r of [r1, r2, r3, r4, r5]) {
      assert.ok(!r.text.includes(PASSWORD), r.text);
      assert.ok(!/"password"/.test(r.text), r.text);
    }
    // Filtering on a write-only attribute must not become a password oracle.
    const f = await c.list('Users', { filter: `password eq "${pw2}"` });
    assert.ok(f.status === 400 || (f.status === 200 && f.json.totalResults === 0), `${f.status} ${f.text}`);
  });

  test('invalid filters -> 400 invalidFilter', async () => {
    for (const f of ['userName eq', 'userName zz "x"', '(userName eq "x"', 'userName eq "x" and', 'userName eq x"',
      'emails[type eq "work"', 'userName eq "x" or or userName eq "y"']) {
      assertScimError(await filt(f), 400, 'invalidFilter');
    }
  });

  test('bad PATCH path -> 400 invalidPath; readOnly target -> 400 mutability', async () => {
    const p = (ops) => c.patch(`/Users/${alice.id}`, ops);
    assertScimError(await p([{ op: 'replace', path: 'noSuchAttribute', value: 'x' }]), 400, 'invalidPath');
    assertScimError(await p([{ op: 'replace', path: 'name.noSuchSub', value: 'x' }]), 400, 'invalidPath');
    assertScimError(await p([{ op: 'replace', path: 'urn:ietf:params:scim:schemas:nope:User:x', value: 'x' }]), 400, 'invalidPath');
    assertScimError(await p([{ op: 'replace', path: 'id', value: 'other-id' }]), 400, 'mutability');
    assertScimError(await p([{ op: 'add', path: 'groups', value: [{ value: 'g' }] }]), 400, 'mutability');
    assertScimError(await p([{ op: 'replace', path: 'meta.created', value: '2000-01-01T00:00:00Z' }]), 400, 'mutability');
    assert.equal((await c.get(`/Users/${alice.id}`)).json.id, alice.id);
  });

  test('bad PATCH messages -> 400 invalidSyntax/invalidValue', async () => {
    const id = alice.id;
    const body = (b) => c.req('PATCH', `/Users/${id}`, { body: b });
    assertScimError(await body({ schemas: ['urn:wrong'], Operations: [{ op: 'replace', path: 'title', value: 'x' }] }), 400);
    assertScimError(await body({ schemas: [URN.PATCH] }), 400);
    assertScimError(await body({ schemas: [URN.PATCH], Operations: [{ op: 'frobnicate', path: 'title', value: 'x' }] }), 400);
    assertScimError(await body({ schemas: [URN.PATCH], Operations: [{ op: 'remove' }] }), 400, 'noTarget');
  });

  test('wrong JSON types -> 400 invalidValue; missing userName -> 400', async () => {
    assertScimError(await c.post('/Users', { schemas: [URN.USER], userName: 42 }), 400, 'invalidValue');
    assertScimError(await c.post('/Users', { schemas: [URN.USER], userName: 'typed', emails: 'a@b.c' }), 400, 'invalidValue');
    assertScimError(await c.post('/Users', { schemas: [URN.USER], userName: 'typed', name: 'flat' }), 400, 'invalidValue');
    assertScimError(await c.post('/Users', { schemas: [URN.USER], userName: 'typed', active: 'maybe' }), 400, 'invalidValue');
    assertScimError(await c.patch(`/Users/${alice.id}`, [{ op: 'replace', path: 'active', value: 17 }]), 400, 'invalidValue');
    assertScimError(await c.post('/Users', { schemas: [URN.USER], displayName: 'no user name' }), 400, 'invalidValue');
    assertScimError(await c.post('/Users', { schemas: [URN.USER], userName: '' }), 400, 'invalidValue');
  });

  test('malformed JSON -> 400 invalidSyntax; foreign Content-Type -> 415', async () => {
    for (const raw of ['{"userName":', 'not json', '[1,2]', '{"userName":"a","userName":"b"}', '']) {
      assertScimError(await c.req('POST', '/Users', { raw }), 400, 'invalidSyntax');
    }
    const r = await c.req('POST', '/Users', { raw: JSON.stringify(userBody('ctype')), contentType: 'text/plain' });
    assertScimError(r, 415);
  });

  test('enterprise extension round trip (create, read, filter, patch)', async () => {
    const boss = (await c.post('/Users', userBody('Boss'))).json;
    const ext = { employeeNumber: '701', costCenter: 'CC1', organization: 'Org', division: 'Div', department: 'Eng', manager: { value: boss.id } };
    const r = await c.post('/Users', userBody('Worker', { schemas: [URN.USER, URN.ENTERPRISE], [URN.ENTERPRISE]: ext }));
    const u = assertResource(r, 201, 'User');
    assert.deepEqual([...u.schemas].sort(), [URN.USER, URN.ENTERPRISE].sort());
    const e = u[URN.ENTERPRISE];
    for (const k of ['employeeNumber', 'costCenter', 'organization', 'division', 'department']) assert.equal(e[k], ext[k], k);
    assert.equal(e.manager.value, boss.id);
    const g = (await c.get(`/Users/${u.id}`)).json;
    assert.deepEqual(g[URN.ENTERPRISE].department, 'Eng');
    const l = assertList(await filt(`${URN.ENTERPRISE}:department eq "Eng"`));
    assert.deepEqual(names(l), ['Worker']);
    const p = await c.patch(`/Users/${u.id}`, [{ op: 'replace', path: `${URN.ENTERPRISE}:department`, value: 'Ops' }]);
    assert.equal(p.status, 200, p.text);
    assert.equal(p.json[URN.ENTERPRISE].department, 'Ops');
    assert.equal(p.json[URN.ENTERPRISE].employeeNumber, '701');
    const plain = (await c.get(`/Users/${boss.id}`)).json;
    assert.deepEqual(plain.schemas, [URN.USER], 'no extension -> schemas lists only the core');
  });

  test('groups is computed from memberships (readOnly)', async () => {
    const gr = await c.post('/Groups', { schemas: [URN.GROUP], displayName: 'Readers', members: [{ value: alice.id }] });
    assert.equal(gr.status, 201, gr.text);
    const u = (await c.get(`/Users/${alice.id}`)).json;
    assert.equal(u.groups?.length, 1, JSON.stringify(u));
    assert.equal(u.groups[0].value, gr.json.id);
    assert.equal(u.groups[0].display, 'Readers');
    assert.equal(u.groups[0].type, 'direct');
    assert.equal(u.groups[0].$ref, `${c.base}/Groups/${gr.json.id}`);
  });

  test('DELETE -> 204 then GET 404, DELETE again 404; the userName is free again', async () => {
    const r = await c.del(`/Users/${alice.id}`);
    assert.equal(r.status, 204);
    assert.equal(r.text, '');
    assertScimError(await c.get(`/Users/${alice.id}`), 404);
    assertScimError(await c.del(`/Users/${alice.id}`), 404);
    assert.equal(assertList(await filt('userName eq "alice"')).totalResults, 0);
    const again = await c.post('/Users', userBody('alice'));
    assert.equal(again.status, 201, again.text);
    assert.notEqual(again.json.id, alice.id);
  });

  test('the server log never contains the password', () => {
    const log = s.srv.logs().join('\n');
    assert.ok(!log.includes(PASSWORD), 'password in server log');
  });

  testCleanExit(() => [s.srv]);
});
