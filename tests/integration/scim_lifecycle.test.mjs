// SCIM lifecycle side effects that are observable today: client_credentials tokens are unaffected
// by provisioning, every write appends a hash-chained audit event (actor, action, target,
// before/after version, changed attribute names) and no password value ever reaches the audit
// trail or the server log; `idpd audit tail --verify` checks the chain and names a broken seq.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  accessToken, cli, createClient, introspect, poll, stopOk, storeSql, testCleanExit, token,
} from '../lib/idpd.mjs';
import { URN, assertResource, auditTail, pkeyAsync, startScim, userBody } from '../lib/scim.mjs';

const PW1 = 'Lifecycle-Pw-first-91c2e';
const PW2 = 'Lifecycle-Pw-second-4d7b0';
const PW3 = 'Lifecycle-Pw-third-a01f3';

describe('SCIM lifecycle and audit', () => {
  let s;
  let c;
  let client;
  let tok;
  let user;
  let group;
  let start; // audit seq before the SCIM writes
  before(async () => {
    s = await startScim();
    c = s.c;
    client = createClient(s.dir, { name: 'svc', audiences: ['https://api.example.com'] });
    // created while the server runs: it sees the client within a second (poll_interval_ms)
    await poll(async () => (await token(s.srv.url, client)).status === 200);
  });
  after(async () => { await stopOk(s?.srv); });

  const mine = (evs) => evs.filter((e) => e.seq > start);

  test('the CLI key creation is audited (actor cli, pkey.create, no secret)', () => {
    const { events, stdout } = auditTail(s.dir);
    const ev = events.find((e) => e.action === 'pkey.create' && e.target_id === s.pkey.id);
    assert.ok(ev, stdout);
    assert.equal(ev.actor, 'cli');
    assert.ok(!stdout.includes(s.pkey.key.slice(31)), 'key secret in the audit trail');
    start = events.at(-1).seq;
  });

  test('a client_credentials token is issued before SCIM writes', async () => {
    tok = await accessToken(s.srv.url, client);
    const r = await introspect(s.srv.url, client, tok);
    assert.equal(r.json.active, true);
  });

  test('create, replace, patch (deactivate), group add/remove, delete via SCIM', async () => {
    user = assertResource(await c.post('/Users', userBody('life', { password: PW1 })), 201, 'User');
    const put = await c.put(`/Users/${user.id}`, userBody('life', { password: PW2, title: 'T' }));
    assert.equal(put.status, 200, put.text);
    const p = await c.patch(`/Users/${user.id}`, [{ op: 'replace', path: 'active', value: false },
      { op: 'replace', path: 'password', value: PW3 }]);
    assert.equal(p.status, 200, p.text);
    assert.equal(p.json.active, false);
    group = assertResource(await c.post('/Groups', { schemas: [URN.GROUP], displayName: 'life-g' }), 201, 'Group');
    let g = await c.patch(`/Groups/${group.id}`, [{ op: 'add', path: 'members', value: [{ value: user.id }] }]);
    assert.equal(g.status, 200, g.text);
    g = await c.patch(`/Groups/${group.id}`, [{ op: 'remove', path: `members[value eq "${user.id}"]` }]);
    assert.equal(g.status, 200, g.text);
    assert.equal((await c.del(`/Users/${user.id}`)).status, 204);
    assert.equal((await c.del(`/Groups/${group.id}`)).status, 204);
  });

  test('the client_credentials token is unaffected by SCIM (still active, new ones issued)', async () => {
    const r = await introspect(s.srv.url, client, tok);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.active, true);
    assert.equal(r.json.client_id, client.client_id);
    await accessToken(s.srv.url, client);
  });

  test('one audit event per change: actor pkey:<id>, action, target, before/after versions', () => {
    const { events, stdout } = auditTail(s.dir);
    const evs = mine(events);
    const actions = evs.map((e) => e.action);
    assert.deepEqual(actions, ['user.create', 'user.replace', 'user.patch', 'group.create', 'group.patch',
      'group.patch', 'user.delete', 'group.delete'], stdout);
    for (const e of evs) {
      assert.equal(e.actor, `pkey:${s.pkey.id}`);
      assert.equal(typeof e.seq, 'number');
      assert.equal(typeof e.hash, 'string');
    }
    const [create, replace, patch, gcreate, gadd] = evs;
    assert.equal(create.target_type, 'User');
    assert.equal(create.target_id, user.id);
    assert.equal(create.before_version, 0);
    assert.ok(create.after_version > 0);
    assert.equal(replace.before_version, create.after_version);
    assert.ok(replace.after_version > replace.before_version);
    assert.equal(patch.before_version, replace.after_version);
    assert.ok(patch.detail && Array.isArray(patch.detail.changed), JSON.stringify(patch.detail));
    assert.ok(patch.detail.changed.includes('active'), JSON.stringify(patch.detail));
    assert.equal(gcreate.target_type, 'Group');
    assert.equal(gcreate.target_id, group.id);
    assert.equal(gadd.target_id, group.id);
    assert.ok(gadd.after_version > gadd.before_version);
    const del = evs.find((e) => e.action === 'user.delete');
    assert.equal(del.target_id, user.id);
    assert.equal(del.after_version, 0, 'delete -> after_version 0');
    assert.ok(del.before_version > 0);
    for (const e of evs) assert.equal(e.seq, evs[0].seq + evs.indexOf(e), 'consecutive seqs');
  });

  test('no password value anywhere in the audit trail or the server log', () => {
    const { stdout } = auditTail(s.dir);
    const text = cli(['audit', 'tail', '-n', '1000'], { dataDir: s.dir }).stdout;
    const log = s.srv.logs().join('\n') + s.srv.stdout().join('\n');
    for (const pw of [PW1, PW2, PW3]) {
      assert.ok(!stdout.includes(pw), 'password in audit --json');
      assert.ok(!text.includes(pw), 'password in audit text');
      assert.ok(!log.includes(pw), 'password in server log');
    }
    const patch = mine(auditTail(s.dir).events).find((e) => e.action === 'user.patch');
    assert.ok(patch.detail.changed.includes('password'), 'the attribute name is recorded');
  });

  test('pkey revoke and rotate are audited with actor cli', async () => {
    const r = await pkeyAsync(['rotate', s.pkey.id, '--overlap', '1h', '--json'], s.dir);
    assert.equal(r.status, 0, r.stderr);
    const evs = mine(auditTail(s.dir).events);
    const rot = evs.find((e) => e.action === 'pkey.rotate');
    assert.ok(rot, JSON.stringify(evs.map((e) => e.action)));
    assert.equal(rot.actor, 'cli');
    assert.ok(!JSON.stringify(evs).includes(r.json.key.slice(31)), 'new secret in the audit trail');
    const rv = await pkeyAsync(['revoke', r.json.id], s.dir);
    assert.equal(rv.status, 0, rv.stderr);
    assert.ok(mine(auditTail(s.dir).events).some((e) => e.action === 'pkey.revoke' && e.target_id === r.json.id));
  });

  test('audit tail --verify passes; text and -n forms work', () => {
    const v = cli(['audit', 'tail', '--verify'], { dataDir: s.dir });
    assert.equal(v.status, 0, v.stderr);
    assert.match(v.stdout, /audit chain ok \(\d+ events\)/);
    const vj = cli(['audit', 'tail', '--verify', '--json'], { dataDir: s.dir });
    assert.equal(vj.status, 0, vj.stderr);
    assert.equal(vj.json.ok, true);
    const t2 = auditTail(s.dir, 2).events;
    assert.equal(t2.length, 2);
    assert.ok(t2[0].seq < t2[1].seq, 'oldest first');
    assert.equal(cli(['audit', 'tail', '-n', '0'], { dataDir: s.dir }).status, 2, '-n 0 is a usage error');
  });

  test('a tampered audit event is detected: --verify exits 1 naming the seq', async () => {
    await stopOk(s.srv);
    const evs = mine(auditTail(s.dir).events);
    const target = evs[2].seq;
    storeSql(s.dir, `UPDATE audit_events SET actor = 'pkey:forged' WHERE seq = ${target}`);
    const v = cli(['audit', 'tail', '--verify', '--json'], { dataDir: s.dir });
    assert.equal(v.status, 1, v.stdout + v.stderr);
    assert.equal(v.json.ok, false);
    assert.equal(v.json.broken_seq, target);
    const t = cli(['audit', 'tail', '--verify'], { dataDir: s.dir });
    assert.equal(t.status, 1);
    assert.match(t.stderr, new RegExp(`seq ${target}\\b`));
  });

  testCleanExit(() => [s.srv]);
});
