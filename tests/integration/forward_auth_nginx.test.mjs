// Real nginx (Debian's /usr/sbin/nginx, auth_request) in front of a small Node upstream, asking
// idpd's GET /forward-auth: examples/nginx/forward-auth.conf rendered into a temp directory
// (loopback only, every path nginx writes under it), nginx stopped by PID in after().
// Cases: allowed (the upstream sees idpd's identity headers, never the client's own), 401 with the
// challenge passed to the client, 403 insufficient_scope, public, rotated key, revoked token and
// deactivated user (through the node's denylist, polled with a deadline).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeProtectedHeader } from 'jose';
import {
  accessToken, cliOk, createClient, freePort, initDataDir, poll, postForm, removeDir, revoke, sleep, startServer,
  tempDir, testCleanExit, trackProcess,
} from '../lib/idpd.mjs';
import { Agent, authorizeUrl, codeFrom, createCodeClient, pkcePair, provisionUser, signIn } from '../lib/oidc.mjs';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const NGINX = process.env.IDPD_NGINX || '/usr/sbin/nginx';
const ALGS = { IDPD_ALGS: 'ES256 EdDSA' };
const API = 'https://api.example';
const NS = 'https://idpd.example/claims/';
const CB = 'http://127.0.0.1:9/cb';
const PW = 'Nginx-Pw-31b9aa';

const policyDoc = (editorId, viewerId) => `version: 1
claim_namespace: "${NS}"
permissions:
  orders.read: ""
  orders.write: ""
roles:
  viewer: { permissions: [orders.read] }
  editor: { permissions: [orders.write], includes: [viewer] }
scopes:
  openid: {}
  orders:read: { requires: [orders.read], claims: [roles] }
  orders:write: { requires: [orders.write], claims: [roles] }
resources:
  "${API}": { scopes: [orders:read, orders:write] }
bindings:
  users:
    "nxuser@example.com": [viewer]
  clients:
    "${editorId}": [editor]
    "${viewerId}": [viewer]
routes:
  - { path: /public, public: true }
  - { path: /api, scopes: [orders:read], audience: "${API}" }
  - { path: /api/orders, methods: [POST], scopes: [orders:write] }
`;

/** The status of one raw request (the socket is not half-closed: nginx would drop the request). */
function rawStatus(url, text) {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const sock = net.connect(Number(u.port), u.hostname, () => sock.write(text));
    let got = '';
    const t = setTimeout(() => { sock.destroy(); reject(new Error('raw request timed out')); }, 5000);
    sock.on('data', (d) => { got += d.toString('latin1'); });
    sock.on('error', () => {});
    sock.on('close', () => { clearTimeout(t); resolve(Number(/^HTTP\/1\.[01] (\d{3})/.exec(got)?.[1] || 0)); });
  });
}

/** Renders examples/nginx/forward-auth.conf into dir and starts nginx on it; resolves {url, proc}. */
async function startNginx(dir, idpdHostPort, upstreamPort) {
  const port = await freePort();
  const conf = readFileSync(path.join(repo, 'examples', 'nginx', 'forward-auth.conf'), 'utf8')
    .replaceAll('{{LISTEN}}', `127.0.0.1:${port}`)
    .replaceAll('{{IDPD}}', idpdHostPort)
    .replaceAll('{{UPSTREAM}}', `127.0.0.1:${upstreamPort}`);
  assert.doesNotMatch(conf, /\{\{/, 'every placeholder rendered');
  mkdirSync(path.join(dir, 'tmp'), { recursive: true });
  // as root, the workers run as nobody: they must be able to enter the prefix
  chmodSync(dir, 0o755);
  writeFileSync(path.join(dir, 'nginx.conf'), conf);
  const proc = spawn(NGINX, ['-e', 'stderr', '-p', `${dir}/`, '-c', path.join(dir, 'nginx.conf'),
    '-g', `daemon off; pid ${path.join(dir, 'nginx.pid')}; error_log stderr;`], { stdio: ['ignore', 'ignore', 'pipe'] });
  trackProcess(proc);
  let log = '';
  proc.stderr.on('data', (d) => { log += d.toString(); });
  const url = `http://127.0.0.1:${port}`;
  const up = await poll(async () => {
    if (proc.exitCode !== null) return true;
    try { await fetch(`${url}/public/ping`); return true; } catch { return false; }
  }, 10000, 50);
  assert.ok(up && proc.exitCode === null, `nginx did not start: ${log}`);
  return { url, proc, log: () => log };
}

describe('nginx auth_request in front of GET /forward-auth', () => {
  let dir;
  let ndir;
  let srv;
  let nginx;
  let upstream;
  let editor;
  let viewer;
  const seen = []; // the headers each request reached the upstream with

  before(async () => {
    // no silent skip: the suite's dependencies (scripts/deps.sh test) include nginx
    assert.ok(existsSync(NGINX), `${NGINX} is missing: run scripts/deps.sh test (or set IDPD_NGINX)`);
    dir = initDataDir({ env: ALGS });
    editor = createClient(dir, { name: 'editor', scope: 'orders:read orders:write', audiences: [API] });
    viewer = createClient(dir, { name: 'viewer', scope: 'orders:read orders:write', audiences: [API] });
    const f = path.join(dir, 'routes.yaml');
    writeFileSync(f, policyDoc(editor.client_id, viewer.client_id));
    cliOk(['policy', 'apply', f], { dataDir: dir });
    srv = await startServer(dir, { env: ALGS });
    upstream = http.createServer((req, res) => {
      seen.push(req.headers);
      const pick = Object.fromEntries(Object.entries(req.headers).filter(([k]) => k.startsWith('x-auth-') || k === 'authorization'));
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify({ path: req.url, method: req.method, headers: pick }));
    });
    await new Promise((r) => upstream.listen(0, '127.0.0.1', r));
    ndir = tempDir('idpd-nginx-');
    nginx = await startNginx(ndir, new URL(srv.url).host, upstream.address().port);
  });
  after(async () => {
    if (nginx && nginx.proc.exitCode === null) {
      const gone = new Promise((r) => nginx.proc.once('exit', r));
      process.kill(nginx.proc.pid, 'SIGQUIT');
      const t = setTimeout(() => { try { process.kill(nginx.proc.pid, 'SIGKILL'); } catch { /* gone */ } }, 5000);
      await gone;
      clearTimeout(t);
    }
    await new Promise((r) => (upstream ? upstream.close(r) : r()));
    await srv?.stop();
    if (ndir) removeDir(ndir);
  });

  const get = (p, { token, headers = {}, method = 'GET' } = {}) => fetch(`${nginx.url}${p}`, {
    method, headers: { ...(token ? { Authorization: `Bearer ${token}` } : {}), ...headers } });
  const tokenFor = (c, scope = 'orders:read') => accessToken(srv.url, c, { scope, resource: API });

  test('allowed: the upstream answers, with idpd\'s identity headers and not the client\'s', async () => {
    const tok = await tokenFor(editor, 'orders:read orders:write');
    const r = await get('/api/orders?id=7', { token: tok, headers: { 'X-Auth-Subject': 'admin', 'X-Auth-Groups': 'root' } });
    assert.equal(r.status, 200, nginx.log());
    const j = await r.json();
    assert.equal(j.path, '/api/orders?id=7');
    assert.equal(j.headers['x-auth-subject'], editor.client_id);
    assert.equal(j.headers['x-auth-client-id'], editor.client_id);
    assert.equal(j.headers['x-auth-scope'], 'orders:read orders:write');
    assert.match(j.headers['x-auth-roles'], /editor/);
    assert.equal(j.headers['x-auth-groups'], undefined, 'the client\'s X-Auth-Groups is dropped');
    assert.equal(j.headers.authorization, undefined, 'the token stays at the proxy');
    const w = await get('/api/orders', { token: tok, method: 'POST' });
    assert.equal(w.status, 200);
    // a public rule: no token, and a client-sent identity still never gets through
    const p = await get('/public/x', { headers: { 'X-Auth-Subject': 'admin' } });
    assert.equal(p.status, 200);
    assert.equal((await p.json()).headers['x-auth-subject'], undefined);
    assert.ok(seen.every((h) => h['x-auth-subject'] !== 'admin'), 'no forged X-Auth-Subject reached the upstream');
  });

  test('401 with WWW-Authenticate: Bearer error="invalid_token" (no token, bad token); upstream not reached', async () => {
    const n = seen.length;
    for (const token of [undefined, 'nope', 'a.b.c']) {
      const r = await get('/api/x', { token });
      assert.equal(r.status, 401, String(token));
      assert.match(r.headers.get('www-authenticate') || '', /^Bearer realm="idpd", error="invalid_token"/);
    }
    assert.equal(seen.length, n);
  });

  test('403 with error="insufficient_scope"; no rule: 403 without a challenge; dot segments refused', async () => {
    const tok = await tokenFor(viewer);
    const r = await get('/api/orders', { token: tok, method: 'POST' });
    assert.equal(r.status, 403);
    assert.match(r.headers.get('www-authenticate') || '', /error="insufficient_scope", .*scope="orders:write"/);
    const none = await get('/elsewhere', { token: tok });
    assert.equal(none.status, 403);
    assert.equal(none.headers.get('www-authenticate'), null);
    // nginx itself resolves "/public/../api" for its location, but sends the raw target on; idpd refuses it
    // (raw bytes: fetch would resolve the dot segment itself)
    const n = seen.length;
    for (const target of ['/public/%2e%2e/api/x', '/public/../api/x', '/public//api']) {
      assert.equal(await rawStatus(nginx.url, `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`), 403, target);
    }
    assert.equal(seen.length, n, 'the upstream saw none of them');
  });

  test('a rotated key: the new key\'s tokens and the old ones pass through nginx', async () => {
    const old = await tokenFor(editor);
    assert.equal((await get('/api/x', { token: old })).status, 200);
    cliOk(['key', 'rotate', '--force', '--alg', 'ES256'], { dataDir: dir, env: ALGS });
    const fresh = await poll(async () => {
      const t = await tokenFor(editor);
      return decodeProtectedHeader(t).kid !== decodeProtectedHeader(old).kid ? t : null;
    }, 3000);
    assert.ok(fresh);
    assert.equal((await get('/api/x', { token: fresh })).status, 200);
    assert.equal((await get('/api/x', { token: old })).status, 200);
  });

  test('a revoked token is refused by nginx within the background tail (2 s deadline)', async () => {
    const tok = await tokenFor(viewer);
    assert.equal((await get('/api/x', { token: tok })).status, 200);
    assert.equal((await revoke(srv.url, viewer, tok)).status, 200);
    const t0 = Date.now();
    assert.ok(await poll(async () => (await get('/api/x', { token: tok })).status === 401, 2000, 50),
      'revoked token still let through');
    assert.ok(Date.now() - t0 <= 2100);
  });

  test('a deactivated user\'s token is refused by nginx within the background tail (2 s deadline)', async () => {
    const web = createCodeClient(dir, { name: 'nx-web', scope: 'openid orders:read', redirectUris: [CB], audiences: [API] });
    await sleep(600);
    const { user, scim } = await provisionUser(srv, dir, 'nxuser@example.com', PW);
    const { verifier, challenge } = pkcePair();
    const { final } = await signIn(new Agent(srv.url), authorizeUrl(srv.issuer, { client_id: web.client_id, redirect_uri: CB,
      response_type: 'code', scope: 'openid orders:read', resource: API, code_challenge: challenge,
      code_challenge_method: 'S256' }), 'nxuser@example.com', PW);
    const t = await postForm(srv.url, '/token', web, { grant_type: 'authorization_code', code: codeFrom(final).code,
      redirect_uri: CB, code_verifier: verifier });
    assert.equal(t.status, 200, t.text);
    const ok = await get('/api/x', { token: t.json.access_token });
    assert.equal(ok.status, 200);
    assert.equal((await ok.json()).headers['x-auth-subject'], user.id);
    const p = await scim.patch(`/Users/${user.id}`, [{ op: 'replace', path: 'active', value: false }]);
    assert.equal(p.status, 200, p.text);
    assert.ok(await poll(async () => (await get('/api/x', { token: t.json.access_token })).status === 401, 2000, 50),
      'a deactivated user\'s token still let through');
  });

  testCleanExit(() => [srv]);
});
