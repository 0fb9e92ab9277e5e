// Three `idpd serve` nodes on one PostgreSQL database (issue 13), sharing one master key file
// (one data dir: it holds nothing but the key once the store is in PostgreSQL) and one issuer,
// as behind a load balancer. Each change made through one node (or the CLI) must take effect on
// every node within 1 s: measured by polling the other nodes every 20 ms. And what is single-use
// stays single-use across nodes. The file starts its own PostgreSQL cluster (tests/lib/pg.mjs).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair, SignJWT } from 'jose';
import { cliAsync, cliOk, getJson, introspect, postForm, revoke, sleep, startServer, stopOk, tempDir,
  testCleanExit, accessToken, freePort } from '../lib/idpd.mjs';
import { scimClient, userBody } from '../lib/scim.mjs';
import { Agent, authorizeUrl, codeFrom, parseForm, pkcePair, signIn } from '../lib/oidc.mjs';
import { startCluster } from '../lib/pg.mjs';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const EXAMPLE = readFileSync(path.join(repo, 'docs', 'policy.example.yaml'), 'utf8');
const CB = 'http://127.0.0.1:9/cb';
const PW = 'Cluster-Pw-8d1f3b';
const LIMIT_MS = 1000;
const ORDERS = 'https://api.example.com/orders';
const NS = 'https://idpd.example/claims/';
const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
// login_free_failures 2 (as low as tests/integration/throttle.test.mjs uses), refresh_grace 1 s
// (as in oidc_code.test.mjs): the reuse after the window is then a short wait
const NODE_ENV = { IDPD_LOGIN_FREE_FAILURES: '2', IDPD_REFRESH_GRACE: '1s' };
const measured = [];

describe('three nodes on one PostgreSQL database', () => {
  let pg;
  let uri;
  let dir;
  let nodes = [];
  let issuer;
  let rs; // introspection caller (introspect: any)
  const env = () => ({ IDPD_STORE: uri, ...NODE_ENV });
  const ctl = (args) => cliOk([...args, '--store', uri], { dataDir: dir });
  const ctlAsync = (args) => cliAsync([...args, '--store', uri], { dataDir: dir });

  /** Polls check(node) on every node but `except` every 20 ms; returns the slowest ms. */
  async function everywhere(what, check, { except = -1, t0 = Date.now() } = {}) {
    let worst = 0;
    await Promise.all(nodes.map(async (n, i) => {
      if (i === except) return;
      for (;;) {
        if (await check(n, i)) break;
        if (Date.now() - t0 > LIMIT_MS + 2000) assert.fail(`${what}: node ${i} not within ${LIMIT_MS} ms`);
        await sleep(20);
      }
      worst = Math.max(worst, Date.now() - t0);
    }));
    measured.push(`${what}: ${worst} ms`);
    assert.ok(worst < LIMIT_MS, `${what} took ${worst} ms`);
    return worst;
  }

  before(async () => {
    pg = startCluster();
    uri = pg.newDatabase();
    dir = tempDir();
    cliOk(['init', '--json', '--store', uri], { dataDir: dir });
    const port = await freePort();
    issuer = `http://127.0.0.1:${port}`;
    rs = ctl(['client', 'create', '--name', 'rs', '--grant-types', 'client_credentials', '--scope', 'api:read',
      '--introspect', 'any', '--json']).json;
    // the issuer is the load balancer's address (none here): all three nodes use it
    nodes = [];
    for (let i = 0; i < 3; i++) nodes.push(await startServer(dir, { issuer, args: ['--store', uri], env: env() }));
  });
  after(async () => {
    for (const n of nodes) await n.stop();
    pg?.stop();
    if (measured.length) console.log(`propagation (slowest node):\n  ${measured.join('\n  ')}`);
  });

  test('the nodes answer on one issuer', async () => {
    for (const n of nodes) {
      const d = await getJson(`${n.url}/.well-known/openid-configuration`);
      assert.equal(d.status, 200);
      assert.equal(d.json.issuer, issuer);
    }
  });

  test('client create and delete reach every node', async () => {
    // timed from the CLI's exit, when the change is committed (the CLI's own run time is not
    // propagation, and on a loaded machine it alone can take most of a second)
    const c = ctl(['client', 'create', '--name', 'new', '--grant-types', 'client_credentials', '--scope', 'api:read', '--json']).json;
    await everywhere('client create', async (n) => (await postForm(n.url, '/token', c, { grant_type: 'client_credentials' })).status === 200);
    ctl(['client', 'delete', c.client_id]);
    await everywhere('client delete', async (n) => (await postForm(n.url, '/token', c, { grant_type: 'client_credentials' })).status === 401);
  });

  test('a token revoked on node 0 is inactive on nodes 1 and 2', async () => {
    const c = ctl(['client', 'create', '--name', 'svc', '--grant-types', 'client_credentials', '--scope', 'api:read', '--json']).json;
    await everywhere('client create (svc)', async (n) => (await postForm(n.url, '/token', c, { grant_type: 'client_credentials' })).status === 200);
    const tok = await accessToken(nodes[0].url, c);
    for (const n of nodes) assert.equal((await introspect(n.url, rs, tok)).json.active, true);
    const t0 = Date.now();
    assert.equal((await revoke(nodes[0].url, c, tok)).status, 200);
    await everywhere('token revocation', async (n) => (await introspect(n.url, rs, tok)).json.active === false, { t0, except: 0 });
  });

  test('provisioning-key revoke refuses SCIM on every node', async () => {
    const k = ctl(['provisioning-key', 'create', '--name', 'pk', '--scopes', 'scim:read,scim:write', '--json']).json;
    await everywhere('provisioning-key create', async (n) => (await scimClient(n.url, k.key).get('/Users')).status === 200);
    const r = await ctlAsync(['provisioning-key', 'revoke', k.id]);
    assert.equal(r.status, 0, r.stderr);
    const t0 = Date.now(); // from the CLI's exit, when the change is committed
    await everywhere('provisioning-key revoke', async (n) => (await scimClient(n.url, k.key).get('/Users')).status === 401, { t0 });
  });

  test('key rotation: the new key is in every JWKS before any node signs with it', async () => {
    const c = ctl(['client', 'create', '--name', 'rot', '--grant-types', 'client_credentials', '--scope', 'api:read', '--json']).json;
    await everywhere('client create (rot)', async (n) => (await postForm(n.url, '/token', c, { grant_type: 'client_credentials' })).status === 200);
    const before = ctl(['key', 'list', '--json']).json;
    // measured from the CLI's exit: it generates the new next keys (RSA: seconds) before it
    // commits, which is not propagation
    const r = await ctlAsync(['key', 'rotate', '--force']);
    assert.equal(r.status, 0, r.stderr);
    const t0 = Date.now();
    const seen = new Set();
    // every kid a node signs with is in the JWKS of every other node at that moment
    await everywhere('key rotation (signing kid)', async (n, i) => {
      const tok = await accessToken(n.url, c);
      const { kid } = decodeProtectedHeader(tok);
      for (const [j, m] of nodes.entries()) {
        if (j === i) continue;
        const jwks = (await getJson(`${m.url}/jwks.json`)).json;
        assert.ok(jwks.keys.some((k) => k.kid === kid), `node ${i} signs with ${kid} missing from node ${j}'s JWKS`);
      }
      seen.add(kid);
      return !before.some((k) => k.kid === kid && k.state === 'current');
    }, { t0 });
    assert.ok(seen.size >= 1);
  });

  test('policy apply and rollback: idpd_policy_version on every node', async () => {
    const metric = async (n) => /^idpd_policy_version (\d+)$/m.exec(await (await fetch(`${n.url}/metrics`)).text())?.[1];
    const f = path.join(dir, 'p.yaml');
    writeFileSync(f, EXAMPLE);
    let r = await ctlAsync(['policy', 'apply', f, '--json']);
    assert.equal(r.status, 0, r.stderr);
    let t0 = Date.now(); // from the CLI's exit, when the change is committed
    const v1 = String(r.json?.version ?? 1);
    await everywhere('policy apply', async (n) => (await metric(n)) === v1, { t0 });
    writeFileSync(f, EXAMPLE + '\n# v2\n');
    r = await ctlAsync(['policy', 'apply', f, '--json']);
    assert.equal(r.status, 0, r.stderr);
    const v2 = String(r.json?.version ?? 2);
    await everywhere('policy apply v2', async (n) => (await metric(n)) === v2);
    r = await ctlAsync(['policy', 'rollback', v1]);
    assert.equal(r.status, 0, r.stderr);
    t0 = Date.now();
    await everywhere('policy rollback', async (n) => Number(await metric(n)) > Number(v2) || (await metric(n)) === v1, { t0 });
  });

  test('private_key_jwt: an assertion used on node 0 is refused on nodes 1 and 2 (jti single-use)', async () => {
    const kp = await generateKeyPair('ES256');
    const jwk = { ...(await exportJWK(kp.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
    const jwksFile = path.join(dir, 'pkj-jwks.json');
    writeFileSync(jwksFile, JSON.stringify({ keys: [jwk] }));
    const c = ctl(['client', 'create', '--name', 'pkj', '--grant-types', 'client_credentials', '--scope', 'api:read',
      '--auth-method', 'private_key_jwt', '--jwks', jwksFile, '--json']).json;
    const assertion = () => new SignJWT({}).setProtectedHeader({ alg: 'ES256', kid: 'k1' })
      .setIssuer(c.client_id).setSubject(c.client_id).setAudience(`${issuer}/token`)
      .setIssuedAt().setExpirationTime('2m').setJti(randomBytes(12).toString('hex')).sign(kp.privateKey);
    const use = (n, a) => postForm(n.url, '/token', null, { grant_type: 'client_credentials', client_id: c.client_id,
      client_assertion_type: JWT_BEARER, client_assertion: a });
    // the client is known everywhere (each probe spends a fresh assertion)
    await everywhere('client create (pkj)', async (n) => (await use(n, await assertion())).status === 200);
    const a = await assertion();
    const first = await use(nodes[0], a);
    assert.equal(first.status, 200, first.text);
    for (const n of nodes) {
      const again = await use(n, a);
      assert.equal(again.status, 401, `replay on ${n.url}: ${again.text}`);
      assert.equal(again.json.error, 'invalid_client');
    }
    // the same fresh assertion on all three nodes at once: accepted once
    for (let round = 0; round < 3; round++) {
      const b = await assertion();
      const rs3 = await Promise.all(nodes.map((n) => use(n, b)));
      const ok = rs3.filter((r) => r.status === 200);
      assert.equal(ok.length, 1, rs3.map((r) => `${r.status} ${r.text}`).join(' | '));
      assert.ok(rs3.every((r) => r.status === 200 || r.status === 401), rs3.map((r) => r.status).join(' '));
    }
  });

  test('sign-in throttling counts failures on every node as on one (login_free_failures 2)', async () => {
    const k = ctl(['provisioning-key', 'create', '--name', 'throttle', '--scopes', 'scim:read,scim:write', '--json']).json;
    const web = ctl(['client', 'create', '--name', 'tweb', '--grant-types', 'authorization_code',
      '--scope', 'openid', '--redirect-uri', CB, '--json']).json;
    await everywhere('client create (tweb) + key', async (n) => (await scimClient(n.url, k.key).get('/Users')).status === 200);
    const u = await scimClient(nodes[0].url, k.key).post('/Users', userBody('dave', { password: PW }));
    assert.equal(u.status, 201, u.text);
    // one login page, its form posted to each node in turn (the sealed request and the CSRF
    // token are derived from the shared master key, so any node takes it)
    const agent = new Agent(nodes[0].url);
    const page = await agent.get(authorizeUrl(nodes[0].url, { client_id: web.client_id, redirect_uri: CB,
      response_type: 'code', scope: 'openid', code_challenge: pkcePair().challenge, code_challenge_method: 'S256' }));
    assert.equal(page.status, 200);
    const { action, fields } = parseForm(page.text);
    const attempt = (i, password) => agent.post(new URL(action, nodes[i % 3].url).toString(),
      { ...fields, username: 'dave', password });
    const failed = (r) => {
      assert.equal(r.status, 200, r.text.slice(0, 200));
      assert.match(r.text, /Incorrect username or password/);
    };
    const held = (r, wait) => {
      assert.equal(r.status, 429, r.text.slice(0, 200));
      assert.match(r.text, /Too many failed sign-in attempts/);
      assert.equal(Number(r.headers.get('retry-after')), wait);
    };
    // the counters are in whole seconds (a back-off of 1 s ends at the next second boundary
    // after the failure): each failure that starts one is made just after a boundary
    const toSecond = () => sleep(1000 - (Date.now() % 1000) + 5);
    // as on one node: two free failures, then 1 s, 2 s, 4 s of back-off
    failed(await attempt(0, 'wrong-0'));
    await toSecond();
    failed(await attempt(1, 'wrong-1'));
    held(await attempt(2, 'wrong-2'), 1);
    held(await attempt(0, PW), 1); // even the right password, on a node that saw no failure
    await toSecond();
    failed(await attempt(1, 'wrong-3'));
    held(await attempt(2, 'wrong-4'), 2);
    held(await attempt(0, 'wrong-5'), 2);
    await sleep(1000);
    await toSecond();
    failed(await attempt(2, 'wrong-6'));
    for (let i = 0; i < 3; i++) held(await attempt(i, PW), 4);
    measured.push('sign-in throttling: back-off 1/2/4 s with failures on nodes 0,1 / 1 / 2, refused on every node');
    // a parallel burst spread over the nodes gets no more guesses than on one node
    // (throttle.test.mjs): one of 21 is checked, the others are refused
    const f = await scimClient(nodes[0].url, k.key).post('/Users', userBody('frank', { password: PW }));
    assert.equal(f.status, 201, f.text);
    const fattempt = (i, password) => agent.post(new URL(action, nodes[i % 3].url).toString(),
      { ...fields, username: 'frank', password });
    failed(await fattempt(0, 'first'));
    await toSecond();
    const burst = await Promise.all(Array.from({ length: 21 }, (_, i) => fattempt(i, `burst-${i}`)));
    const verified = burst.filter((r) => r.status === 200).length;
    assert.ok(burst.every((r) => r.status === 200 || r.status === 429), burst.map((r) => r.status).join(' '));
    measured.push(`sign-in burst over three nodes: ${verified} of 21 parallel guesses checked`);
    assert.equal(verified, 1, `${verified} of 21 parallel guesses were checked: ${burst.map((r) => r.status).join(' ')}`);
  });

  test('a SCIM group change reaches every node: new tokens lose the role, old ones are inactive', async () => {
    const metric = async (n) => /^idpd_policy_version (\d+)$/m.exec(await (await fetch(`${n.url}/metrics`)).text())?.[1];
    const f = path.join(dir, 'groups.yaml');
    writeFileSync(f, EXAMPLE + '\n# groups\n');
    const p = await ctlAsync(['policy', 'apply', f, '--json']);
    assert.equal(p.status, 0, p.stderr);
    const v = String(p.json?.version);
    const k = ctl(['provisioning-key', 'create', '--name', 'groups', '--scopes', 'scim:read,scim:write', '--json']).json;
    const web = ctl(['client', 'create', '--name', 'orders-ui', '--grant-types', 'authorization_code',
      '--scope', 'openid orders:read orders:write', '--redirect-uri', CB, '--audience', ORDERS, '--json']).json;
    await everywhere('policy + client (orders-ui) + key', async (n) => (await metric(n)) === v &&
      (await scimClient(n.url, k.key).get('/Users')).status === 200);
    const scim = scimClient(nodes[1].url, k.key);
    const u = await scim.post('/Users', userBody('erin', { password: PW }));
    assert.equal(u.status, 201, u.text);
    const g = await scim.post('/Groups', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'],
      displayName: 'Order Desk', members: [{ value: u.json.id }] });
    assert.equal(g.status, 201, g.text);
    // one browser session (started on node 0); a code from each node, redeemed there
    const agent = new Agent(nodes[0].url);
    const tokenFrom = async (i) => {
      const pk = pkcePair();
      const url = authorizeUrl(nodes[i].url, { response_type: 'code', client_id: web.client_id, redirect_uri: CB,
        scope: 'openid orders:read orders:write', resource: ORDERS, code_challenge: pk.challenge,
        code_challenge_method: 'S256' });
      const { final } = await signIn(agent, url, 'erin', PW);
      const c = codeFrom(final);
      assert.ok(c.code, `node ${i}: ${c.error}`);
      const t = await postForm(nodes[i].url, '/token', web, { grant_type: 'authorization_code', code: c.code,
        redirect_uri: CB, code_verifier: pk.verifier });
      assert.equal(t.status, 200, t.text);
      return t.json;
    };
    const before = [];
    for (let i = 0; i < 3; i++) {
      const t = await tokenFrom(i);
      assert.equal(t.scope, 'openid orders:read orders:write', `node ${i} before`);
      assert.deepEqual(decodeJwt(t.access_token)[`${NS}roles`], ['editor', 'viewer']);
      before.push(t.access_token);
    }
    for (const n of nodes) for (const tok of before) assert.equal((await introspect(n.url, rs, tok)).json.active, true);
    // erin leaves Order Desk through node 2
    const t0 = Date.now();
    const r = await scimClient(nodes[2].url, k.key).patch(`/Groups/${g.json.id}`,
      [{ op: 'remove', path: `members[value eq "${u.json.id}"]` }]);
    assert.ok(r.status === 200 || r.status === 204, r.text);
    await everywhere('group removal (token_epoch)', async (n) => {
      for (const tok of before) if ((await introspect(n.url, rs, tok)).json.active !== false) return false;
      return true;
    }, { t0 });
    // the session was started while a member: it ended with the epoch, so this signs in again
    for (let i = 0; i < 3; i++) {
      const t = await tokenFrom(i);
      assert.equal(t.scope, 'openid', `node ${i}: no role, no orders scopes`);
      assert.equal(decodeJwt(t.access_token)[`${NS}roles`], undefined);
    }
  });

  describe('users', () => {
    let scim;
    let app;
    let user;
    before(async () => {
      const k = ctl(['provisioning-key', 'create', '--name', 'users', '--scopes', 'scim:read,scim:write', '--json']).json;
      app = ctl(['client', 'create', '--name', 'web', '--grant-types', 'authorization_code,refresh_token',
        '--scope', 'openid profile offline_access', '--redirect-uri', CB, '--json']).json;
      await everywhere('client create (web) + key', async (n) => (await scimClient(n.url, k.key).get('/Users')).status === 200);
      scim = scimClient(nodes[0].url, k.key);
      const r = await scim.post('/Users', userBody('alice', { password: PW }));
      assert.equal(r.status, 201, r.text);
      user = r.json;
    });

    async function code(node = 0) {
      const pk = pkcePair();
      const agent = new Agent(nodes[node].url);
      const { final } = await signIn(agent, authorizeUrl(issuer, {
        response_type: 'code', client_id: app.client_id, redirect_uri: CB, scope: 'openid offline_access',
        state: 's', code_challenge: pk.challenge, code_challenge_method: 'S256',
      }).replace(issuer, nodes[node].url), 'alice', PW);
      const c = codeFrom(final);
      assert.ok(c.code, `no code: ${c.error}`);
      return { code: c.code, verifier: pk.verifier };
    }
    const redeem = (n, c) => postForm(n.url, '/token', app, { grant_type: 'authorization_code', code: c.code, redirect_uri: CB, code_verifier: c.verifier });

    test('an authorization code redeemed on two nodes at once succeeds once', async () => {
      for (let round = 0; round < 3; round++) {
        const c = await code(round % 3);
        const rs2 = await Promise.all([redeem(nodes[1], c), redeem(nodes[2], c)]);
        const ok = rs2.filter((r) => r.status === 200);
        assert.equal(ok.length, 1, rs2.map((r) => `${r.status} ${r.text}`).join(' | '));
      }
    });

    test('a refresh token used on two nodes at once: one successor (grace), the family survives', async () => {
      const c = await code(0);
      const t = await redeem(nodes[0], c);
      assert.equal(t.status, 200, t.text);
      const rt = t.json.refresh_token;
      const use = (n, tok) => postForm(n.url, '/token', app, { grant_type: 'refresh_token', refresh_token: tok });
      const two = await Promise.all([use(nodes[1], rt), use(nodes[2], rt)]);
      for (const r of two) assert.equal(r.status, 200, r.text);
      assert.equal(two[0].json.refresh_token, two[1].json.refresh_token, 'the same successor within refresh_grace');
      const next = await use(nodes[0], two[0].json.refresh_token);
      assert.equal(next.status, 200, next.text);
    });

    test('a refresh token reused on another node after refresh_grace revokes the family everywhere', async () => {
      const c = await code(2);
      const t = await redeem(nodes[2], c);
      assert.equal(t.status, 200, t.text);
      const use = (n, tok) => postForm(n.url, '/token', app, { grant_type: 'refresh_token', refresh_token: tok });
      const r1 = await use(nodes[0], t.json.refresh_token);
      assert.equal(r1.status, 200, r1.text);
      for (const n of nodes) assert.equal((await introspect(n.url, rs, r1.json.access_token)).json.active, true);
      await sleep(2100); // refresh_grace 1 s, counted in whole seconds
      const t0 = Date.now();
      const reuse = await use(nodes[1], t.json.refresh_token);
      assert.equal(reuse.status, 400, reuse.text);
      assert.equal(reuse.json.error, 'invalid_grant');
      // the successor is dead on every node (as on one node, access tokens already issued from
      // the family live on until they expire)
      await everywhere('refresh family revocation (reuse after grace)', async (n) => {
        const r = await use(n, r1.json.refresh_token);
        if (r.status === 200) assert.fail(`the successor still refreshes on ${n.url}`);
        return r.status === 400 && r.json.error === 'invalid_grant';
      }, { t0 });
    });

    test('SCIM deactivation: tokens inactive everywhere, the next refresh and a new sign-in refused', async () => {
      // a browser session from node 0, before the deactivation
      const sess = new Agent(nodes[0].url);
      const pk0 = pkcePair();
      const authz = (n, pk) => authorizeUrl(n.url, {
        response_type: 'code', client_id: app.client_id, redirect_uri: CB, scope: 'openid',
        state: 's', code_challenge: pk.challenge, code_challenge_method: 'S256' });
      const { final } = await signIn(sess, authz(nodes[0], pk0), 'alice', PW);
      assert.ok(codeFrom(final).code);
      const c = await code(1);
      const t = await redeem(nodes[1], c);
      assert.equal(t.status, 200, t.text);
      for (const n of nodes) assert.equal((await introspect(n.url, rs, t.json.access_token)).json.active, true);
      const t0 = Date.now();
      const r = await scim.patch(`/Users/${user.id}`, [{ op: 'replace', path: 'active', value: false }]);
      assert.equal(r.status, 200, r.text);
      await everywhere('user deactivation', async (n) => (await introspect(n.url, rs, t.json.access_token)).json.active === false, { t0 });
      for (const n of nodes) {
        const rr = await postForm(n.url, '/token', app, { grant_type: 'refresh_token', refresh_token: t.json.refresh_token });
        assert.equal(rr.status, 400, rr.text);
      }
      // a new authorization: the password no longer signs in on nodes 1 and 2 (two attempts:
      // a third would meet the back-off of login_free_failures 2, counted across nodes), and
      // the session started on node 0 yields no code on any node (the login page again)
      for (const [i, n] of nodes.entries()) {
        if (i > 0) {
          const agent = new Agent(n.url);
          const page = await agent.get(authz(n, pkcePair()));
          assert.equal(page.status, 200);
          const r = await agent.submit(page, { username: 'alice', password: PW });
          assert.equal(r.status, 200, `node ${i}: ${r.status} ${r.location}`);
          assert.match(r.text, /Incorrect username or password/);
        }
        const again = await sess.get(authz(n, pkcePair()));
        assert.equal(again.status, 200, `node ${i}: the old session got ${again.status} ${again.location}`);
        assert.ok(parseForm(again.text).action.endsWith('/login'));
      }
    });
  });

  // Rotation due on all three nodes at the same moment: the key rows are back-dated by two
  // rotation periods in the database (no clock to fake), then (1) the running nodes' background
  // ticks (every 10 s, not aligned) race for it, and (2) three nodes started at once race in
  // their start-up tick. rotation_tick re-plans under the writer lock, so exactly one new key
  // per algorithm may result.
  describe('rotation due on every node at once', () => {
    let uri2;
    let dir2;
    let rnodes = [];
    const ALGS = 'ES256 EdDSA'; // no RSA: key generation in seconds under ASan
    const renv = () => ({ IDPD_STORE: uri2, IDPD_ALGS: ALGS, IDPD_ROTATION_PERIOD: '1h', IDPD_PUBLISH_AHEAD: '10m' });
    const keys = () => cliOk(['key', 'list', '--json', '--store', uri2], { dataDir: dir2, env: renv() }).json;
    const backdate = () => pg.psql('UPDATE signing_keys SET created_at = created_at - 7200, '
      + 'activated_at = CASE WHEN activated_at <> 0 THEN activated_at - 7200 ELSE 0 END, '
      + 'retired_at = CASE WHEN retired_at <> 0 THEN retired_at - 7200 ELSE 0 END', uri2);
    const start = () => Promise.all([0, 1, 2].map(() => startServer(dir2, { issuer, args: ['--store', uri2], env: renv() })));
    let clients;

    before(async () => {
      uri2 = pg.newDatabase();
      dir2 = tempDir();
      cliOk(['init', '--json', '--store', uri2], { dataDir: dir2, env: renv() });
      clients = ['ES256', 'EdDSA'].map((alg) => cliOk(['client', 'create', '--name', alg, '--grant-types', 'client_credentials',
        '--scope', 'api:read', '--token-alg', alg, '--json', '--store', uri2], { dataDir: dir2, env: renv() }).json);
      rnodes = await start();
    });
    after(async () => { for (const n of rnodes) await n.stop(); });

    /** The signing kid of every node and alg, each checked against every other node's JWKS. */
    async function signingKids() {
      const jwks = await Promise.all(rnodes.map(async (n) => new Set((await getJson(`${n.url}/jwks.json`)).json.keys.map((k) => k.kid))));
      const kids = [];
      for (const [i, n] of rnodes.entries()) {
        for (const c of clients) {
          const { kid } = decodeProtectedHeader(await accessToken(n.url, c));
          // the JWKS is fetched before the token: a kid it shows was published before the signature
          for (const [j, set] of jwks.entries()) assert.ok(set.has(kid), `node ${i} signs with ${kid}, not in node ${j}'s JWKS`);
          kids.push(kid);
        }
      }
      return kids;
    }

    /** One new key per algorithm (a next key), and the old next keys now sign, alone. */
    function assertOneRotation(old, now) {
      const oldKids = new Set(old.map((k) => k.kid));
      for (const alg of ALGS.split(' ')) {
        const fresh = now.filter((k) => k.alg === alg && !oldKids.has(k.kid));
        assert.equal(fresh.length, 1, `${alg}: ${fresh.length} new keys: ${JSON.stringify(now)}`);
        assert.equal(fresh[0].state, 'next');
        const cur = now.filter((k) => k.alg === alg && k.state === 'current');
        assert.equal(cur.length, 1, `${alg}: ${cur.length} current keys`);
        const wasNext = old.find((k) => k.alg === alg && k.state === 'next');
        assert.equal(cur[0].kid, wasNext.kid, `${alg}: the published next key was promoted`);
      }
    }

    test('the running nodes rotate once; every signing kid is in every JWKS throughout', async () => {
      const old = keys();
      const oldCurrent = new Set(old.filter((k) => k.state === 'current').map((k) => k.kid));
      const t0 = Date.now();
      backdate();
      let polls = 0;
      for (;;) {
        const kids = await signingKids();
        polls++;
        if (kids.every((k) => !oldCurrent.has(k))) break;
        // a tick is due within 10 s of the backdate; the margin is for a loaded machine (ASan,
        // two test files at once), where the suite once saw a node's tick come after 15 s
        assert.ok(Date.now() - t0 < 30000, 'no node rotated within 30 s (ticks every 10 s)');
        await sleep(100);
      }
      const ms = Date.now() - t0;
      measured.push(`rotation by the running nodes' ticks: every node signs with the new keys after ${ms} ms (tick 10 s), ${polls} checks of 6 signatures against 3 JWKS`);
      assertOneRotation(old, keys());
      await sleep(200); // the losers' ticks, if any, have committed nothing
      assertOneRotation(old, keys());
    });

    test('three nodes starting at once rotate once', async () => {
      for (const n of rnodes) await stopOk(n);
      const old = keys();
      backdate();
      const t0 = Date.now();
      rnodes = await start();
      const ms = Date.now() - t0;
      assertOneRotation(old, keys());
      const kids = await signingKids();
      const cur = new Set(keys().filter((k) => k.state === 'current').map((k) => k.kid));
      assert.ok(kids.every((k) => cur.has(k)), 'every node signs with the one current key per alg');
      measured.push(`rotation in three simultaneous start-ups: one new key per alg (started in ${ms} ms)`);
    });

    testCleanExit(() => rnodes);
  });

  testCleanExit(() => nodes);
});
