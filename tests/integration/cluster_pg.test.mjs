// Three `idpd serve` nodes on one PostgreSQL database (issue 13), sharing one master key file
// (one data dir: it holds nothing but the key once the store is in PostgreSQL) and one issuer,
// as behind a load balancer. Each change made through one node (or the CLI) must take effect on
// every node within 1 s: measured by polling the other nodes every 20 ms. And what is single-use
// stays single-use across nodes. The file starts its own PostgreSQL cluster (tests/lib/pg.mjs).
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { cliAsync, cliOk, getJson, introspect, postForm, revoke, sleep, startServer, stopOk, tempDir,
  testCleanExit, accessToken, freePort } from '../lib/idpd.mjs';
import { scimClient, userBody } from '../lib/scim.mjs';
import { Agent, authorizeUrl, codeFrom, pkcePair, signIn } from '../lib/oidc.mjs';
import { startCluster } from '../lib/pg.mjs';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const EXAMPLE = readFileSync(path.join(repo, 'docs', 'policy.example.yaml'), 'utf8');
const CB = 'http://127.0.0.1:9/cb';
const PW = 'Cluster-Pw-8d1f3b';
const LIMIT_MS = 1000;
const measured = [];

describe('three nodes on one PostgreSQL database', () => {
  let pg;
  let uri;
  let dir;
  let nodes = [];
  let issuer;
  let rs; // introspection caller (introspect: any)
  const env = () => ({ IDPD_STORE: uri });
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
    const t0 = Date.now();
    const c = ctl(['client', 'create', '--name', 'new', '--grant-types', 'client_credentials', '--scope', 'api:read', '--json']).json;
    await everywhere('client create', async (n) => (await postForm(n.url, '/token', c, { grant_type: 'client_credentials' })).status === 200, { t0 });
    const t1 = Date.now();
    ctl(['client', 'delete', c.client_id]);
    await everywhere('client delete', async (n) => (await postForm(n.url, '/token', c, { grant_type: 'client_credentials' })).status === 401, { t0: t1 });
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
    const t0 = Date.now();
    const r = await ctlAsync(['provisioning-key', 'revoke', k.id]);
    assert.equal(r.status, 0, r.stderr);
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
    let t0 = Date.now();
    let r = await ctlAsync(['policy', 'apply', f, '--json']);
    assert.equal(r.status, 0, r.stderr);
    const v1 = String(r.json?.version ?? 1);
    await everywhere('policy apply', async (n) => (await metric(n)) === v1, { t0 });
    writeFileSync(f, EXAMPLE + '\n# v2\n');
    r = await ctlAsync(['policy', 'apply', f, '--json']);
    assert.equal(r.status, 0, r.stderr);
    const v2 = String(r.json?.version ?? 2);
    await everywhere('policy apply v2', async (n) => (await metric(n)) === v2);
    t0 = Date.now();
    r = await ctlAsync(['policy', 'rollback', v1]);
    assert.equal(r.status, 0, r.stderr);
    await everywhere('policy rollback', async (n) => Number(await metric(n)) > Number(v2) || (await metric(n)) === v1, { t0 });
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

    test('SCIM deactivation: tokens inactive everywhere, the next refresh refused', async () => {
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
    });
  });

  testCleanExit(() => nodes);
});
