// The audit log and the throttling table are bounded (issue 10 item 1): a flood of throttled
// sign-ins adds no audit row per attempt (it is counted in /metrics, and one login.throttled
// event marks each back-off window); the throttling table has a cap and fails closed; audit
// events past audit_retention are pruned behind a MACed checkpoint that `idpd audit tail
// --verify` checks, so the chain stays verifiable and tampering after it is still detected.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cli, initDataDir, sleep, startServer, stopOk, storeSql, testCleanExit } from '../lib/idpd.mjs';
import { Agent, authorizeUrl, createCodeClient, parseForm, pkcePair, provisionUser } from '../lib/oidc.mjs';

const PW = 'Correct-Horse-9f1e2d';
const CB = 'http://127.0.0.1:9/cb';

const sql = storeSql;
const auditCount = (dir) => Number(sql(dir, 'SELECT count(*) FROM audit_events'));

async function loginPage(srv, web, agent) {
  const page = await agent.get(authorizeUrl(srv.issuer, { client_id: web.client_id, redirect_uri: CB,
    response_type: 'code', scope: 'openid', code_challenge: pkcePair().challenge, code_challenge_method: 'S256' }));
  assert.equal(page.status, 200);
  return page;
}

function attempt(agent, page, username, password) {
  const { action, fields } = parseForm(page.text);
  return agent.post(action, { ...fields, username, password });
}

describe('bounded audit log and throttling table', () => {
  let dir;
  let srv;
  let web;
  before(async () => {
    dir = initDataDir();
    web = createCodeClient(dir, { name: 'Web' });
    srv = await startServer(dir, { env: { IDPD_LOGIN_FREE_FAILURES: '1', IDPD_LOGIN_ADDRESS_FREE_FAILURES: '0',
      IDPD_LOGIN_THROTTLE_MAX_KEYS: '16' } });
    await provisionUser(srv, dir, 'erin@example.com', PW);
  });
  after(async () => { await stopOk(srv); });

  test('200 throttled sign-ins for one account add at most a few audit rows and are counted in /metrics', async () => {
    const a = new Agent(srv.url);
    const page = await loginPage(srv, web, a);
    const before = auditCount(dir);
    let throttled = 0;
    for (let i = 0; i < 200; i++) {
      const r = await attempt(a, page, 'erin@example.com', `wrong-${i}`);
      assert.ok(r.status === 429 || r.status === 200, `status ${r.status}`);
      if (r.status === 429) throttled++;
    }
    assert.ok(throttled >= 150, `${throttled} of 200 throttled`);
    const grown = auditCount(dir) - before;
    // each back-off window: one login.fail and one login.throttled; windows double (1 s, 2 s,
    // 4 s, ...) so a run of under a minute has fewer than 8 of them
    assert.ok(grown <= 16, `audit grew by ${grown} rows for ${throttled} throttled attempts`);
    const m = await (await fetch(`${srv.url}/metrics`)).text();
    const line = m.split('\n').find((l) => l.startsWith('idpd_login_throttled_total '));
    assert.ok(line, 'idpd_login_throttled_total exported');
    assert.equal(Number(line.split(' ')[1]), throttled);
    const evs = JSON.parse(cli(['audit', 'tail', '-n', '50', '--json'], { dataDir: dir }).stdout);
    const t = evs.filter((e) => e.action === 'login.throttled');
    assert.ok(t.length >= 1 && t.length <= 8);
    assert.equal(t[0].detail.counter, 'account');
    assert.ok(t[0].detail.retry_after >= 1);
  });

  test('the throttling table is capped: cycling user names cannot grow it, and a full table fails closed', async () => {
    const a = new Agent(srv.url);
    const page = await loginPage(srv, web, a);
    let refused = 0;
    for (let i = 0; i < 20; i++) {
      const r = await attempt(a, page, `nobody-${i}@example.com`, 'guess');
      if (r.status === 503) {
        refused++;
        assert.match(r.text, /temporarily unavailable/);
      } else {
        assert.equal(r.status, 200);
      }
    }
    assert.ok(Number(sql(dir, 'SELECT count(*) FROM login_failures')) <= 16);
    assert.ok(refused >= 4, `${refused} refused once the 16 counters were all in back-off`);
  });

  testCleanExit(() => [srv]);
});

describe('audit retention: pruning behind a MACed checkpoint', () => {
  const verify = (d) => cli(['audit', 'tail', '--verify', '--json'], { dataDir: d });
  let srv;
  after(async () => { await stopOk(srv); });

  test('a tiny retention prunes; tail --verify passes from the checkpoint and detects tampering after it', async () => {
    const d = initDataDir();
    for (let i = 0; i < 3; i++) createCodeClient(d, { name: `old-${i}` });
    const before = auditCount(d);
    assert.ok(before >= 3);
    await sleep(1100);
    createCodeClient(d, { name: 'recent' });
    const pr = cli(['audit', 'prune', '--json'], { dataDir: d, env: { IDPD_AUDIT_RETENTION: '1s' } });
    assert.equal(pr.status, 0, pr.stderr);
    assert.equal(pr.json.pruned, before);
    assert.equal(pr.json.through, before);
    assert.equal(pr.json.checkpoint_seq, before + 2);
    assert.equal(auditCount(d), 2, 'the recent event and the checkpoint are left');
    const ck = JSON.parse(cli(['audit', 'tail', '--json'], { dataDir: d }).stdout).at(-1);
    assert.equal(ck.action, 'audit.checkpoint');
    assert.equal(ck.detail.pruned_events, before);
    let v = verify(d);
    assert.equal(v.status, 0, v.stdout + v.stderr);
    assert.deepEqual(v.json.checkpoint, { seq: before + 2, pruned_through: before });
    const txt = cli(['audit', 'tail', '--verify'], { dataDir: d });
    assert.match(txt.stdout, new RegExp(`audit chain ok \\(2 events; events 1\\.\\.${before} pruned, checkpoint at seq ${before + 2}\\)`));
    // nothing old enough a second time: no new checkpoint
    assert.equal(cli(['audit', 'prune', '--json'], { dataDir: d }).json.pruned, 0);

    // tampering after the checkpoint is still detected
    createCodeClient(d, { name: 'after-checkpoint' });
    assert.equal(verify(d).status, 0);
    const last = Number(sql(d, 'SELECT max(seq) FROM audit_events'));
    sql(d, `UPDATE audit_events SET actor = 'mallory' WHERE seq = ${last}`);
    v = verify(d);
    assert.equal(v.status, 1);
    assert.equal(v.json.broken_seq, last);
    sql(d, `UPDATE audit_events SET actor = 'cli' WHERE seq = ${last}`);
    assert.equal(verify(d).status, 0);
    // an altered checkpoint (its MAC no longer matches), even with the chain hashes redone
    // (hashes are unkeyed; the MAC is not): here the detail changes, so the hash breaks first
    sql(d, `UPDATE audit_events SET detail = replace(detail, '"pruned_events":${before}', '"pruned_events":1') WHERE seq = ${before + 2}`);
    v = verify(d);
    assert.equal(v.status, 1);
    assert.equal(v.json.broken_seq, before + 2);
    sql(d, `UPDATE audit_events SET detail = replace(detail, '"pruned_events":1', '"pruned_events":${before}') WHERE seq = ${before + 2}`);
    assert.equal(verify(d).status, 0);
    // events removed before the anchor without a checkpoint: the first left has no checkpoint
    sql(d, `DELETE FROM audit_events WHERE seq = ${before + 1}`);
    v = verify(d);
    assert.equal(v.status, 1);
    assert.equal(v.json.broken_seq, before + 2);
    assert.match(v.json.reason, /removed without a checkpoint/);
  });

  test('idpd serve prunes on its background task', async () => {
    const d = initDataDir();
    createCodeClient(d, { name: 'old-1' });
    createCodeClient(d, { name: 'old-2' }); // the newest event is never pruned: the chain head stays
    await sleep(1100);
    srv = await startServer(d, { env: { IDPD_AUDIT_RETENTION: '1s', IDPD_AUDIT_MAX_EVENTS: '100' } });
    let v;
    for (let i = 0; i < 50; i++) {
      v = verify(d);
      if (v.json?.checkpoint) break;
      await sleep(200);
    }
    assert.equal(v.status, 0, v.stdout + v.stderr);
    assert.ok(v.json.checkpoint, 'a checkpoint was written by the server');
    assert.ok(v.json.checkpoint.pruned_through >= 1);
  });
});
