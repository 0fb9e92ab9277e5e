// A group of several thousand members, patched one member at a time the way Entra ID and Okta do
// it without excludedAttributes: PATCH answers 204 (RFC 7644 §3.5.2) once the group is larger
// than the PATCH body limit (~1 MiB), 200 + the group when attributes/excludedAttributes are
// asked for, and GET still returns every member.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { stopOk, testCleanExit } from '../lib/idpd.mjs';
import { URN, assertResource, startScim, userBody } from '../lib/scim.mjs';

const N = 5200; // x ~230 bytes per member rendered > 1 MiB
const PAD = 'x'.repeat(60);

describe('SCIM group of thousands of members', () => {
  let s;
  let c;
  let group;
  const ids = [];
  before(async () => {
    s = await startScim();
    c = s.c;
    let next = 0;
    const worker = async () => {
      for (;;) {
        const i = next++;
        if (i >= N) return;
        const r = await c.post('/Users', userBody(`member-${String(i).padStart(5, '0')}-${PAD}`));
        assert.equal(r.status, 201, r.text);
        ids[i] = r.json.id;
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    group = assertResource(await c.post('/Groups', { schemas: [URN.GROUP], displayName: 'big' }), 201, 'Group');
    for (let i = 0; i < N; i += 1000) {
      const r = await c.patch(`/Groups/${group.id}?excludedAttributes=members`,
        [{ op: 'add', path: 'members', value: ids.slice(i, i + 1000).map((value) => ({ value })) }]);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.members, undefined);
    }
  });
  after(async () => { await stopOk(s?.srv); });

  test('PATCH without attributes on a group over the body limit -> 204 with the new ETag', async () => {
    const before1 = await c.get(`/Groups/${group.id}?attributes=displayName`);
    const r = await c.patch(`/Groups/${group.id}`, [{ op: 'remove', path: `members[value eq "${ids[0]}"]` }]);
    assert.equal(r.status, 204, r.text.slice(0, 200));
    assert.equal(r.text, '');
    const etag = r.headers.get('etag');
    assert.match(etag, /^W\/"\d+"$/);
    assert.notEqual(etag, before1.headers.get('etag'));
    const g = await c.get(`/Groups/${group.id}?attributes=displayName`);
    assert.equal(g.headers.get('etag'), etag);
  });

  test('PATCH with attributes -> 200 and the projected group (RFC 7644 §3.5.2 MUST)', async () => {
    const r = await c.patch(`/Groups/${group.id}?attributes=displayName`,
      [{ op: 'add', path: 'members', value: [{ value: ids[0] }] }]);
    assert.equal(r.status, 200, r.text.slice(0, 200));
    assert.equal(r.json.displayName, 'big');
    assert.equal(r.json.members, undefined);
  });

  test('GET returns every member (no 413)', async () => {
    const r = await c.get(`/Groups/${group.id}`);
    assert.equal(r.status, 200, r.text.slice(0, 200));
    assert.ok(r.text.length > 1024 * 1024, `body ${r.text.length} bytes`);
    assert.equal(r.json.members.length, N);
    assert.deepEqual(new Set(r.json.members.map((m) => m.value)), new Set(ids));
  });

  testCleanExit(() => [s?.srv]);
});
