// POST /ssf/poll — the revocation feed's transmitter (issue 14; RFC 8936 poll of RFC 8417 SETs,
// wire form in src/verify/set_feed.h, docs/REVOCATION_FEED.md): the caller's key and scope, each
// refused body, the empty feed, one SET per kind of revocation (token revoked, user disabled,
// user left a group, user deleted) verified with jose against /jwks.json, the since cursor and
// moreAvailable; and a second node on the same store whose own denylist (deny_sync) learns the
// revocations made through the first node, seen through its /metrics. Runs on PostgreSQL too
// with IDPD_TEST_STORE=pg (tests/lib/idpd.mjs).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { accessToken, createClient, initDataDir, poll, revoke, startServer, storeSql, testCleanExit } from '../lib/idpd.mjs';
import { ALGS, NO_RATE_LIMIT, URN, createPkey, scimClient, userBody } from '../lib/scim.mjs';

const CAEP = 'https://schemas.openid.net/secevent/caep/event-type/';
const RISC = 'https://schemas.openid.net/secevent/risc/event-type/';
const EV = {
  revoked: `${CAEP}session-revoked`,
  disabled: `${RISC}account-disabled`,
  purged: `${RISC}account-purged`,
  changed: `${CAEP}token-claims-change`,
};
const ENV = { ...ALGS, ...NO_RATE_LIMIT };

describe('POST /ssf/poll', () => {
  let dir;
  let a; // node A: the transmitter under test
  let b; // node B: same store, same issuer
  let feedKey; // events:read
  let scimKey; // scim:read scim:write, no events:read
  let client;
  let scim;
  let jwks;
  let all = []; // every SET seen, in order: {name, payload}

  /** POST /ssf/poll on node (default A) with key (null: none) and a JSON body (object or raw). */
  async function pollFeed(body = {}, { key = feedKey, node = a, contentType = 'application/json' } = {}) {
    const headers = {};
    if (key) headers.authorization = `Bearer ${key}`;
    if (contentType) headers['content-type'] = contentType;
    const res = await fetch(`${node.url}/ssf/poll`, {
      method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    let json;
    try { json = JSON.parse(text); } catch { json = undefined; }
    return { status: res.status, headers: res.headers, text, json };
  }

  function assertErr(r, status, err, desc) {
    assert.equal(r.status, status, r.text);
    assert.match(r.headers.get('content-type') || '', /^application\/json/);
    assert.equal(r.json?.err, err, r.text);
    assert.equal(typeof r.json.description, 'string');
    if (desc) assert.match(r.json.description, desc);
    assert.equal(r.headers.get('cache-control'), 'no-store');
  }

  /** Verifies one SET (signature against /jwks.json, typ, iss, no exp/sub) and returns its payload. */
  async function verifySet(name, compact) {
    const { payload, protectedHeader } = await jwtVerify(compact, jwks, { issuer: a.issuer, typ: 'secevent+jwt' });
    assert.equal(protectedHeader.alg, 'ES256');
    assert.equal(typeof protectedHeader.kid, 'string');
    assert.equal(payload.jti, name, 'RFC 8936 §2.5: each SET is listed under its jti');
    assert.match(name, /^rev-\d+$/);
    assert.equal('exp' in payload, false, 'RFC 8417 §2.2: no exp');
    assert.equal('sub' in payload, false, 'RFC 8417 §2.2: no sub');
    assert.equal('aud' in payload, false, 'the feed is one broadcast: no aud');
    assert.equal(Object.keys(payload.events).length, 1, 'one event per SET');
    return payload;
  }

  /** Polls from cursor until caught up; verifies and collects every SET; returns the new cursor. */
  async function drain(since) {
    let cursor = since;
    for (;;) {
      const r = await pollFeed(cursor === undefined ? {} : { since: cursor });
      assert.equal(r.status, 200, r.text);
      for (const [name, set] of Object.entries(r.json.sets)) all.push({ name, payload: await verifySet(name, set) });
      cursor = r.json.cursor;
      if (!r.json.moreAvailable) return cursor;
    }
  }
  let cursor;

  /** The one new event of type uri since the last drain. */
  async function nextEvent(uri) {
    const before = all.length;
    cursor = await drain(cursor);
    const got = all.slice(before);
    assert.equal(got.length, 1, `one new SET expected: ${JSON.stringify(got)}`);
    const ev = got[0].payload.events[uri];
    assert.ok(ev, `event ${uri} expected: ${JSON.stringify(got[0].payload)}`);
    assert.equal(typeof ev.event_timestamp, 'number');
    assert.ok(ev.until >= ev.event_timestamp);
    return { ...got[0].payload, ev };
  }

  /** A number from node's /metrics. */
  async function metric(node, name) {
    const text = await (await fetch(`${node.url}/metrics`)).text();
    const esc = name.replace(/[{}"]/g, (c) => `\\${c}`);
    const m = new RegExp(`^${esc} (\\d+)$`, 'm').exec(text);
    return m ? Number(m[1]) : undefined;
  }
  async function onNodeB(name, want) {
    const got = await poll(async () => ((await metric(b, name)) >= want ? true : undefined), 3000, 50);
    assert.ok(got, `node B ${name} >= ${want} (now ${await metric(b, name)})`);
  }

  before(async () => {
    dir = initDataDir({ env: ALGS });
    feedKey = createPkey(dir, { name: 'feed', scopes: 'events:read' }).key;
    scimKey = createPkey(dir, { name: 'scim', scopes: 'scim:read,scim:write,admin' }).key;
    client = createClient(dir, { name: 'c', env: ALGS });
    a = await startServer(dir, { env: ENV });
    b = await startServer(dir, { env: ENV, issuer: a.issuer });
    scim = scimClient(a.url, scimKey);
    jwks = createRemoteJWKSet(new URL(`${a.url}/jwks.json`));
  });
  after(async () => {
    await b?.stop();
    await a?.stop();
  });

  test('an empty feed: {sets:{}, moreAvailable:false, cursor}', async () => {
    const r = await pollFeed({});
    assert.equal(r.status, 200, r.text);
    assert.match(r.headers.get('content-type'), /^application\/json/);
    assert.equal(r.headers.get('cache-control'), 'no-store');
    assert.deepEqual(r.json, { sets: {}, moreAvailable: false, cursor: '0' });
    // returnImmediately, ack and setErrs are accepted; since given back when nothing follows it
    const r2 = await pollFeed({ returnImmediately: true, maxEvents: 10, ack: ['rev-1'], setErrs: {}, since: '0' });
    assert.deepEqual(r2.json, { sets: {}, moreAvailable: false, cursor: '0' });
    assert.equal(await metric(a, 'idpd_denylist_overflow'), 0);
  });

  test('401 without a valid provisioning key (one answer, RFC 6750 challenge)', async () => {
    for (const key of [null, 'idpd_pk_AAAAAAAAAAAAAAAAAAAAAA.' + 'A'.repeat(43), 'garbage']) {
      const r = await pollFeed({}, { key });
      assertErr(r, 401, 'authentication_failed');
      assert.equal(r.json.description, 'authentication required');
      assert.equal(r.headers.get('www-authenticate'), 'Bearer realm="idpd-ssf"');
    }
  });

  test('403 for a key without events:read (insufficient_scope)', async () => {
    const r = await pollFeed({}, { key: scimKey });
    assertErr(r, 403, 'access_denied', /events:read/);
    assert.match(r.headers.get('www-authenticate'), /^Bearer realm="idpd-ssf", error="insufficient_scope"/);
  });

  test('415 unless the body is application/json', async () => {
    for (const ct of ['application/x-www-form-urlencoded', 'text/plain', null, 'application/jsonx']) {
      assertErr(await pollFeed({}, { contentType: ct }), 415, 'invalid_request', /application\/json/);
    }
    assert.equal((await pollFeed({}, { contentType: 'Application/JSON; charset=utf-8' })).status, 200);
  });

  test('400 for each malformed request (with the reason)', async () => {
    const cases = [
      ['', /body is required/],
      ['{', /malformed JSON/],
      ['[]', /not an object/],
      ['{"since":"1","since":"2"}', /duplicate/],
      ['{"maxEvents":0}', /maxEvents/],
      ['{"maxEvents":1001}', /maxEvents/],
      ['{"maxEvents":"5"}', /maxEvents/],
      ['{"maxEvents":2.5}', /maxEvents/],
      ['{"returnImmediately":"yes"}', /returnImmediately/],
      ['{"ack":"rev-1"}', /ack/],
      ['{"ack":[1]}', /ack/],
      ['{"setErrs":[]}', /setErrs/],
      ['{"since":7}', /since/],
      ['{"since":"garbage"}', /since/],
      ['{"since":"-1"}', /since/],
      ['{"since":"007"}', /since/],
      ['{"since":"99999999999999999999"}', /since/],
    ];
    for (const [body, reason] of cases) {
      const r = await pollFeed(body);
      assertErr(r, 400, 'invalid_request', reason);
      assert.equal(r.json.description.includes('garbage'), false, 'the reason never quotes the input');
    }
    // past the transport's max_body (64 KiB = SET_FEED_MAX_REQUEST): refused before it is read
    const big = await pollFeed(`{"pad":"${'a'.repeat(70 * 1024)}"}`);
    assert.equal(big.status, 413, big.text);
  });

  test('a revoked access token -> a signed session-revoked SET with its jti; node B learns it', async () => {
    cursor = await drain(undefined);
    const jtiBefore = await metric(b, 'idpd_denylist_entries{kind="jti"}');
    const tok = await accessToken(a.url, client);
    const jti = decodeJwt(tok).jti;
    assert.equal((await revoke(a.url, client, tok)).status, 200);
    const p = await nextEvent(EV.revoked);
    assert.deepEqual(p.sub_id, { format: 'jwt_id', iss: a.issuer, jti });
    assert.equal(p.iss, a.issuer);
    assert.ok(p.ev.until >= decodeJwt(tok).exp, 'until covers the token lifetime');
    // the SET's header as RFC 8417 §2.3 wants it
    const raw = await pollFeed({ since: String(Number(p.jti.slice(4)) - 1), maxEvents: 1 });
    assert.equal(decodeProtectedHeader(raw.json.sets[p.jti]).typ, 'secevent+jwt');
    // node B: its own denylist, from the store's events (deny_sync), within one wake-up
    await onNodeB('idpd_denylist_entries{kind="jti"}', jtiBefore + 1);
    assert.ok((await metric(b, 'idpd_revocation_events_applied_total')) >= 1);
    assert.equal(await metric(b, 'idpd_denylist_overflow'), 0);
  });

  let alice;
  let bob;
  test('SCIM PATCH active:false -> account-disabled; node B learns it', async () => {
    alice = (await scim.post('/Users', userBody('ssf-alice'))).json;
    assert.ok(alice?.id);
    const subBefore = await metric(b, 'idpd_denylist_entries{kind="subject"}');
    const r = await scim.patch(`/Users/${alice.id}`, [{ op: 'replace', path: 'active', value: false }]);
    assert.equal(r.status, 200, r.text);
    const p = await nextEvent(EV.disabled);
    assert.deepEqual(p.sub_id, { format: 'iss_sub', iss: a.issuer, sub: alice.id });
    assert.ok(Number.isInteger(p.ev.token_epoch) && p.ev.token_epoch >= 1);
    await onNodeB('idpd_denylist_entries{kind="subject"}', subBefore + 1);
  });

  test('leaving a group -> token-claims-change for that user', async () => {
    bob = (await scim.post('/Users', userBody('ssf-bob'))).json;
    const g = (await scim.post('/Groups', { schemas: [URN.GROUP], displayName: 'ssf-g', members: [{ value: bob.id }] })).json;
    assert.ok(g?.id);
    cursor = await drain(cursor); // joining revokes nothing
    const r = await scim.patch(`/Groups/${g.id}`, [{ op: 'remove', path: `members[value eq "${bob.id}"]` }]);
    assert.ok(r.status === 200 || r.status === 204, r.text);
    const p = await nextEvent(EV.changed);
    assert.deepEqual(p.sub_id, { format: 'iss_sub', iss: a.issuer, sub: bob.id });
    assert.ok(p.ev.token_epoch >= 1);
  });

  test('SCIM DELETE user -> account-purged', async () => {
    assert.equal((await scim.del(`/Users/${alice.id}`)).status, 204);
    const p = await nextEvent(EV.purged);
    assert.deepEqual(p.sub_id, { format: 'iss_sub', iss: a.issuer, sub: alice.id });
  });

  test('since is incremental; maxEvents 1 pages with moreAvailable', async () => {
    assert.ok(all.length >= 4);
    const seen = [];
    let c;
    for (let i = 0; i < all.length + 1; i++) {
      const r = await pollFeed(c === undefined ? { maxEvents: 1 } : { maxEvents: 1, since: c });
      assert.equal(r.status, 200, r.text);
      const names = Object.keys(r.json.sets);
      assert.ok(names.length <= 1);
      if (!names.length) {
        assert.equal(r.json.moreAvailable, false);
        assert.equal(r.json.cursor, c, 'nothing new: the cursor given back');
        break;
      }
      assert.equal(r.json.cursor, names[0].slice(4), 'the cursor is the seq of the last SET');
      seen.push(names[0]);
      assert.equal(r.json.moreAvailable, seen.length < all.length);
      c = r.json.cursor;
    }
    assert.deepEqual(seen, all.map((s) => s.name), 'every SET once, in order');
    // a well-formed cursor beyond every event ever written is not ours (a restored store)
    const ahead = await pollFeed({ since: String(Number(all.at(-1).name.slice(4)) + 1) });
    assertErr(ahead, 400, 'invalid_request', /beyond the newest event/);
    // every poll from the same cursor answers the same events (stateless: no acknowledgement)
    const mid = all[1].name.slice(4);
    const r1 = await pollFeed({ since: mid });
    const r2 = await pollFeed({ since: mid, ack: [all[2].name] });
    assert.deepEqual(Object.keys(r1.json.sets), all.slice(2).map((s) => s.name));
    assert.deepEqual(Object.keys(r2.json.sets), Object.keys(r1.json.sets));
    // node B serves the same feed
    const rb = await pollFeed({ since: mid }, { node: b });
    assert.deepEqual(Object.keys(rb.json.sets), Object.keys(r1.json.sets));
  });

  test('503 (never an empty 200) while the store cannot be read', async () => {
    storeSql(dir, 'ALTER TABLE rev_events RENAME TO rev_events_away');
    try {
      const r = await pollFeed({});
      assertErr(r, 503, 'temporarily_unavailable');
      assert.equal(r.text.includes('rev_events'), false, 'the detail is for the log only');
    } finally {
      storeSql(dir, 'ALTER TABLE rev_events_away RENAME TO rev_events');
    }
    const r = await pollFeed({});
    assert.equal(r.status, 200, r.text);
    assert.equal(Object.keys(r.json.sets).length, all.length);
  });

  test('bounded: at most maxEvents (<= 1000) SETs, 100 by default, the rest moreAvailable', async () => {
    const end = await drain(cursor);
    const exp = Math.floor(Date.now() / 1000) + 600;
    // 1005 revocations in one statement (the triggers write one event each, in order)
    storeSql(dir, `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1005) `
      + `INSERT INTO revoked_jti (jti, exp) SELECT 'bulk-' || i, ${exp} FROM n`);
    const dflt = await pollFeed({ since: end });
    assert.equal(Object.keys(dflt.json.sets).length, 100);
    assert.equal(dflt.json.moreAvailable, true);
    const max = await pollFeed({ since: end, maxEvents: 1000 });
    assert.equal(max.status, 200);
    const names = Object.keys(max.json.sets);
    assert.equal(names.length, 1000);
    assert.equal(max.json.moreAvailable, true);
    assert.equal(max.json.cursor, names[999].slice(4));
    const seqs = names.map((n) => Number(n.slice(4)));
    assert.deepEqual(seqs, seqs.map((_, i) => Number(end) + 1 + i), 'gapless, in order');
    await verifySet(names[999], max.json.sets[names[999]]);
    const rest = await pollFeed({ since: max.json.cursor, maxEvents: 1000 });
    assert.equal(Object.keys(rest.json.sets).length, 5);
    assert.equal(rest.json.moreAvailable, false);
    // node B's denylist has them all
    await onNodeB('idpd_denylist_entries{kind="jti"}', 1006);
  });

  testCleanExit(() => [b, a]);
});

describe('POST /ssf/poll rate limit (per key, the SCIM limit)', () => {
  let srv;
  let key;
  before(async () => {
    const dir = initDataDir({ env: ALGS });
    key = createPkey(dir, { name: 'feed', scopes: 'events:read' }).key;
    srv = await startServer(dir, { env: { ...ALGS, IDPD_SCIM_RATE: '1', IDPD_SCIM_BURST: '2' } });
  });
  after(async () => { await srv?.stop(); });

  test('429 slow_down with Retry-After past the burst', async () => {
    const go = () => fetch(`${srv.url}/ssf/poll`, {
      method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: '{}',
    });
    const statuses = [];
    let last;
    for (let i = 0; i < 4; i++) {
      last = await go();
      statuses.push(last.status);
      if (last.status === 429) break;
    }
    assert.equal(statuses.at(-1), 429, `statuses ${statuses}`);
    assert.match(last.headers.get('retry-after') || '', /^\d+$/);
    assert.equal((await last.json()).err, 'slow_down');
  });

  testCleanExit(() => [srv]);
});
