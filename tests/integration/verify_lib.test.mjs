// libidpd-verify as a C service sees it (issue 14 item 1, docs/VERIFY.md): `meson install
// --destdir` into a temporary directory, then examples/verify.c and a long-lived helper
// (verify_lib_helper.c) are compiled with `cc $(pkg-config --cflags --libs idpd-verify)` against
// that installed copy only (LD_LIBRARY_PATH into it), and run against a real `idpd serve`:
// a fresh client_credentials token verifies (jwks_uri and issuer discovery); wrong audience,
// expired, tampered, other issuer, wrong typ are refused with their reason; after two key
// rotations a token signed by a key the verifier never saw verifies (kid-miss refetch); a token
// revoked through POST /revoke is refused by a verifier subscribed to the revocation feed within
// 5 s; a feed whose key is refused fails closed. Also: the installed shared library exports
// idpd_verify_* only and needs nothing beyond OpenSSL, jansson, libcurl and libc.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { SignJWT, decodeProtectedHeader, exportJWK, generateKeyPair } from 'jose';
import { Agent, authorizeUrl, codeFrom, createCodeClient, pkcePair, provisionUser, signIn } from '../lib/oidc.mjs';
import {
  accessToken, bin, cli, cliOk, createClient, getJson, initDataDir, poll, postForm, revoke, sleep, startServer,
  stopOk, tempDir, testCleanExit, trackProcess,
} from '../lib/idpd.mjs';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const buildDir = path.dirname(path.resolve(bin));
const CB = 'http://127.0.0.1:9/cb';
const PW = 'Verify-Lib-Pw-5d2e';
const API = 'https://api.example.com';
const ALGS = { IDPD_ALGS: 'ES256' };

/** Every file under dir (recursive). */
function walk(dir) {
  return readdirSync(dir).flatMap((n) => {
    const p = path.join(dir, n);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}

/** The sanitizers the build under test uses (a sanitized library needs them in the program). */
function sanitizeFlags() {
  const opts = JSON.parse(readFileSync(path.join(buildDir, 'meson-info', 'intro-buildoptions.json'), 'utf8'));
  const s = opts.find((o) => o.name === 'b_sanitize')?.value;
  return s && s !== 'none' ? [`-fsanitize=${s}`] : [];
}

/** A running verify_lib_helper: send(line) resolves with its JSON answer. */
function startHelper(exe, args, env) {
  const proc = trackProcess(spawn(exe, args, { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'inherit'] }));
  const rl = readline.createInterface({ input: proc.stdout });
  const waiting = [];
  rl.on('line', (l) => waiting.shift()?.(JSON.parse(l)));
  return {
    send: (line) => new Promise((resolve) => { waiting.push(resolve); proc.stdin.write(`${line}\n`); }),
    stop: () => new Promise((resolve) => { proc.on('exit', (code) => resolve(code)); proc.stdin.end(); }),
  };
}

describe('libidpd-verify installed and used by a C program', () => {
  let dir;
  let srv;
  let c;
  let env; // LD_LIBRARY_PATH into the installed copy
  let libdir;
  let incFlags;
  let example;
  let helperExe;
  let feedKey;
  let apiExe;
  const helpers = [];

  before(async () => {
    const dest = tempDir('idpd-verify-install-');
    execFileSync('meson', ['install', '-C', buildDir, '--no-rebuild', '--quiet', '--destdir', dest], { stdio: 'pipe' });
    const files = walk(dest);
    const pc = files.find((f) => f.endsWith('/pkgconfig/idpd-verify.pc'));
    assert.ok(pc, 'idpd-verify.pc installed');
    assert.ok(files.some((f) => f.endsWith('/include/idpd/verify.h')), 'verify.h installed');
    assert.ok(files.some((f) => f.endsWith('/libidpd-verify.a')), 'the static library installed');
    const prefix = /^prefix=(.*)$/m.exec(readFileSync(pc, 'utf8'))[1];
    const pcEnv = { ...process.env, PKG_CONFIG_PATH: path.dirname(pc) };
    const flags = execFileSync('pkg-config', [`--define-variable=prefix=${dest}${prefix}`, '--cflags', '--libs', 'idpd-verify'],
      { env: pcEnv, encoding: 'utf8' }).trim().split(/\s+/);
    assert.ok(flags.every((f) => !f.includes(repo) || f.includes(dest)), `flags point into the installed copy only: ${flags}`);
    libdir = flags.find((f) => f.startsWith('-L')).slice(2);
    incFlags = flags.filter((f) => f.startsWith('-I'));
    env = { LD_LIBRARY_PATH: libdir };
    const out = tempDir('idpd-verify-cc-');
    example = path.join(out, 'verify');
    helperExe = path.join(out, 'verify_lib_helper');
    const cc = (src, exe) => execFileSync('cc', ['-std=c11', '-Wall', '-Wextra', '-Werror', ...sanitizeFlags(), src, ...flags, '-pthread', '-o', exe], { stdio: 'pipe' });
    cc(path.join(repo, 'examples', 'verify.c'), example);
    cc(path.join(repo, 'tests', 'integration', 'verify_lib_helper.c'), helperExe);
    apiExe = path.join(out, 'verify_lib_api');
    cc(path.join(repo, 'tests', 'integration', 'verify_lib_api.c'), apiExe);

    dir = initDataDir({ env: ALGS });
    c = createClient(dir, { audiences: [API] });
    feedKey = cliOk(['provisioning-key', 'create', '--name', 'feed', '--scopes', 'events:read', '--json'], { dataDir: dir }).json.key;
    srv = await startServer(dir, { env: ALGS });
  });
  after(async () => {
    for (const h of helpers) await h.stop();
    await stopOk(srv);
  });

  const run = (args) => {
    try {
      return { status: 0, stdout: execFileSync(example, args, { env: { ...process.env, ...env }, encoding: 'utf8' }) };
    } catch (e) {
      return { status: e.status, stdout: e.stdout };
    }
  };

  test('the installed .so exports idpd_verify_* only and needs only OpenSSL, jansson, libcurl, libc', () => {
    const so = path.join(libdir, 'libidpd-verify.so');
    const syms = execFileSync('nm', ['-D', '--defined-only', so], { encoding: 'utf8' }).trim().split('\n')
      .map((l) => l.split(/\s+/).pop()).filter((s) => s !== 'IDPD_VERIFY_0');
    assert.ok(syms.length >= 15, syms.join(' '));
    assert.deepEqual(syms.filter((s) => !s.startsWith('idpd_verify_')), []);
    const needed = [...execFileSync('readelf', ['-d', so], { encoding: 'utf8' }).matchAll(/NEEDED.*\[(.*)\]/g)].map((m) => m[1]);
    const ok = /^(libssl|libcrypto|libjansson|libcurl|libc|libpthread|libm|ld-linux|libasan|libubsan|libstdc\+\+|libgcc_s)[.-]/;
    assert.deepEqual(needed.filter((n) => !ok.test(n)), [], `NEEDED: ${needed}`);
    const runpath = execFileSync('readelf', ['-d', example], { encoding: 'utf8' });
    assert.doesNotMatch(runpath, new RegExp(buildDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')), 'no RUNPATH into the build tree');
  });

  test('the installed archive links too (docs/VERIFY.md: -l:libidpd-verify.a and the shared system libraries)', async () => {
    const exe = path.join(tempDir('idpd-verify-static-'), 'verify');
    const sys = execFileSync('pkg-config', ['--libs', 'openssl', 'jansson', 'libcurl'], { encoding: 'utf8' }).trim().split(/\s+/);
    execFileSync('cc', ['-std=c11', '-Wall', '-Werror', ...sanitizeFlags(), path.join(repo, 'examples', 'verify.c'),
      ...incFlags, `-L${libdir}`, '-l:libidpd-verify.a', ...sys, '-pthread', '-lm', '-o', exe], { stdio: 'pipe' });
    assert.doesNotMatch(execFileSync('readelf', ['-d', exe], { encoding: 'utf8' }), /libidpd-verify/);
    const tok = await accessToken(srv.url, c);
    const out = execFileSync(exe, [srv.issuer, API, `${srv.url}/jwks.json`, tok], { encoding: 'utf8' });
    assert.match(out, new RegExp(`^sub: ${c.client_id}$`, 'm'));
  });

  test('a fresh client_credentials token verifies (jwks_uri, and issuer discovery)', async () => {
    const tok = await accessToken(srv.url, c);
    for (const src of [`${srv.url}/jwks.json`, '-']) {
      const r = run([srv.issuer, API, src, tok]);
      assert.equal(r.status, 0, r.stdout);
      assert.match(r.stdout, new RegExp(`^sub: ${c.client_id}$`, 'm'));
      assert.match(r.stdout, /^scope: api:read api:write$/m);
    }
  });

  test('wrong audience, tampered, other issuer: exit 1 with the reason', async () => {
    const tok = await accessToken(srv.url, c);
    const jwks = `${srv.url}/jwks.json`;
    let r = run([srv.issuer, 'https://someone-else.example', jwks, tok]);
    assert.equal(r.status, 1);
    assert.match(r.stdout, /^error: invalid_token: audience mismatch/m);
    const [h, p, s] = tok.split('.');
    r = run([srv.issuer, API, jwks, `${h}.${p}.${s.slice(0, 5)}${s[5] === 'A' ? 'B' : 'A'}${s.slice(6)}`]);
    assert.equal(r.status, 1);
    assert.match(r.stdout, /^error: invalid_token: signature did not verify/m);
    r = run(['https://other-issuer.example', API, jwks, tok]);
    assert.equal(r.status, 1);
    assert.match(r.stdout, /^error: invalid_token: issuer mismatch/m);
    r = run([srv.issuer, API, jwks, 'not-a-jwt']);
    assert.equal(r.status, 1);
    assert.match(r.stdout, /^error: invalid_token: malformed token/m);
    // discovery of an issuer that is not there: fail closed with temporarily_unavailable
    r = run(['http://127.0.0.1:1', API, '-', tok]);
    assert.equal(r.status, 1);
    assert.match(r.stdout, /^error: temporarily_unavailable: /m);
  });

  test('expired and wrong-typ tokens (signed by a test key, JWKS from a file) are refused', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    const jwksFile = path.join(tempDir(), 'jwks.json');
    writeFileSync(jwksFile, JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' }] }));
    const now = Math.floor(Date.now() / 1000);
    const sign = (claims, typ = 'at+jwt') => new SignJWT({ client_id: 'x', scope: 's', sub: 'u1', jti: 'j1', aud: API, iss: srv.issuer, iat: now - 10, exp: now + 300, ...claims })
      .setProtectedHeader({ alg: 'ES256', kid: 'k1', typ }).sign(privateKey);
    let r = run([srv.issuer, API, jwksFile, await sign({})]);
    assert.equal(r.status, 0, r.stdout);
    assert.match(r.stdout, /^sub: u1$/m);
    r = run([srv.issuer, API, jwksFile, await sign({ iat: now - 1000, exp: now - 600 })]);
    assert.equal(r.status, 1);
    assert.match(r.stdout, /^error: invalid_token: token expired/m);
    r = run([srv.issuer, API, jwksFile, await sign({}, 'JWT')]);
    assert.equal(r.status, 1);
    assert.match(r.stdout, /^error: invalid_token: typ mismatch/m);
    r = run([srv.issuer, API, jwksFile, await sign({ client_id: undefined })]);
    assert.equal(r.status, 1);
    assert.match(r.stdout, /^error: invalid_token: missing or malformed claim/m);
  });

  test('the API without a server: options, tick / next_deadline over a JWKS file, getters, cache, malformed calls', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    const jwksFile = path.join(tempDir(), 'jwks.json');
    writeFileSync(jwksFile, JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' }] }));
    const iss = 'https://issuer.example';
    const now = Math.floor(Date.now() / 1000);
    const claims = { iss, aud: [API, 'other'], sub: 'user-1', client_id: 'c1', jti: 'j1', iat: now, exp: now + 600,
      scope: 'a b  c', roles: ['r1', 'r2'], n: 2.5, big: 42, flag: true, mixed: ['x', 1] };
    const sign = (hdr) => new SignJWT(claims).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', ...hdr }).sign(privateKey);
    const { privateKey: other } = await generateKeyPair('ES256');
    const tokens = { T_GOOD: await sign({ kid: 'k1' }), T_NOKID: await sign({}),
      T_MIN: await new SignJWT({ iss, aud: API, exp: now + 600 }).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'k1' }).sign(privateKey),
      T_FOREIGN: await new SignJWT(claims).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'k9' }).sign(other) };
    let out;
    try {
      out = execFileSync(apiExe, [iss, API, jwksFile], { env: { ...process.env, ...env, ...tokens }, encoding: 'utf8' });
    } catch (e) {
      assert.fail(`verify_lib_api exited ${e.status}:\n${e.stdout}`);
    }
    assert.match(out, /^all checks passed$/m);
  });

  test('a repeated token is a cache hit; after two key rotations a token of an unseen key verifies', async () => {
    const h = startHelper(helperExe, [srv.issuer, API, `${srv.url}/jwks.json`], env);
    helpers.push(h);
    const tok = await accessToken(srv.url, c);
    const t0 = Date.now();
    let r = await h.send(`v ${tok}`);
    assert.equal(r.code, 0, r.reason);
    assert.equal(r.sub, c.client_id);
    r = await h.send(`v ${tok}`);
    assert.equal(r.code, 0, r.reason);
    assert.equal(r.hits, 1);
    const fetched = r.fetches;
    const seen = new Set((await getJson(`${srv.url}/jwks.json`)).json.keys.map((k) => k.kid));
    cliOk(['key', 'rotate', '--force', '--alg', 'ES256'], { dataDir: dir, env: ALGS });
    cliOk(['key', 'rotate', '--force', '--alg', 'ES256'], { dataDir: dir, env: ALGS });
    const fresh = await poll(async () => {
      const t = await accessToken(srv.url, c);
      return seen.has(decodeProtectedHeader(t).kid) ? null : t;
    }, 4000);
    assert.ok(fresh, 'a token signed by a key not in the JWKS the verifier fetched');
    // the helper's kid_miss_cooldown is 500 ms: past it, one miss refetches at once
    await sleep(Math.max(0, 600 - (Date.now() - t0)));
    r = await h.send(`v ${fresh}`);
    assert.equal(r.code, 0, r.reason);
    assert.ok(r.fetches > fetched, `a kid-miss refetch (${fetched} -> ${r.fetches})`);
    r = await h.send(`v ${tok}`); // the old key is retired but still published
    assert.equal(r.code, 0, r.reason);
  });

  test('a token revoked at idpd is refused within 5 s through the revocation feed', async (t) => {
    const h = startHelper(helperExe, [srv.issuer, API, `${srv.url}/jwks.json`, `${srv.url}/ssf/poll`], { ...env, IDPD_FEED_TOKEN: feedKey });
    helpers.push(h);
    const tok = await accessToken(srv.url, c);
    const ok = await poll(async () => ((await h.send(`v ${tok}`)).code === 0 ? true : null), 5000);
    assert.ok(ok, 'verifies once the feed is synchronised');
    assert.equal((await h.send('s')).feed, 'ok');
    const t0 = Date.now();
    assert.equal((await revoke(srv.url, c, tok)).status, 200);
    const r = await h.send(`u ${tok} 8000`);
    const ms = Date.now() - t0;
    assert.equal(r.code, 1, JSON.stringify(r));
    assert.equal(r.error, 'invalid_token');
    assert.equal(r.reason, 'token revoked');
    assert.ok(ms <= 5000, `refused ${ms} ms after the revocation`);
    t.diagnostic(`refused ${ms} ms after POST /revoke`);
    const st = await h.send('s');
    assert.ok(st.applied >= 1, JSON.stringify(st));
    assert.match(st.cursor, /^\d+$/);
    // another token of the same client still verifies
    assert.equal((await h.send(`v ${await accessToken(srv.url, c)}`)).code, 0);
  });

  test('a user deactivated at idpd, and a user removed from a group: their tokens are refused within 5 s', async (t) => {
    const h = startHelper(helperExe, [srv.issuer, API, `${srv.url}/jwks.json`, `${srv.url}/ssf/poll`], { ...env, IDPD_FEED_TOKEN: feedKey });
    helpers.push(h);
    const web = createCodeClient(dir, { name: 'vl-web', scope: 'openid', redirectUris: [CB], audiences: [API] });
    await sleep(600); // the server's client snapshot
    /** An access token of userName through the code flow (PKCE), audience API. */
    async function userToken(userName) {
      const { verifier, challenge } = pkcePair();
      const { final } = await signIn(new Agent(srv.url), authorizeUrl(srv.issuer, { client_id: web.client_id, redirect_uri: CB,
        response_type: 'code', scope: 'openid', resource: API, code_challenge: challenge, code_challenge_method: 'S256' }),
      userName, PW);
      const r = await postForm(srv.url, '/token', web, { grant_type: 'authorization_code', code: codeFrom(final).code,
        redirect_uri: CB, code_verifier: verifier });
      assert.equal(r.status, 200, r.text);
      return r.json.access_token;
    }
    const gone = await provisionUser(srv, dir, 'vl-gone@example.com', PW);
    const moved = await provisionUser(srv, dir, 'vl-moved@example.com', PW);
    const g = await moved.scim.post('/Groups', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'],
      displayName: 'vl-team', members: [{ value: moved.user.id }] });
    assert.equal(g.status, 201, g.text);
    const tGone = await userToken('vl-gone@example.com');
    const tMoved = await userToken('vl-moved@example.com');
    assert.ok(await poll(async () => ((await h.send(`v ${tGone}`)).code === 0 ? true : null), 5000), 'verifies once synchronised');
    assert.equal((await h.send(`v ${tMoved}`)).code, 0);
    // deactivation (RISC account-disabled)
    let t0 = Date.now();
    const p = await gone.scim.patch(`/Users/${gone.user.id}`, [{ op: 'replace', path: 'active', value: false }]);
    assert.equal(p.status, 200, p.text);
    let r = await h.send(`u ${tGone} 8000`);
    let ms = Date.now() - t0;
    assert.equal(r.code, 1, JSON.stringify(r));
    assert.equal(r.error, 'invalid_token');
    assert.ok(ms <= 5000, `deactivation: refused ${ms} ms after the SCIM PATCH`);
    t.diagnostic(`deactivated user: refused ${ms} ms after the SCIM PATCH`);
    assert.equal((await h.send(`v ${tMoved}`)).code, 0, 'another user is untouched');
    // group removal (CAEP token-claims-change: the user's earlier tokens end)
    t0 = Date.now();
    const rm = await moved.scim.patch(`/Groups/${g.json.id}`, [{ op: 'remove', path: `members[value eq "${moved.user.id}"]` }]);
    assert.ok(rm.status === 200 || rm.status === 204, rm.text);
    r = await h.send(`u ${tMoved} 8000`);
    ms = Date.now() - t0;
    assert.equal(r.code, 1, JSON.stringify(r));
    assert.ok(ms <= 5000, `group removal: refused ${ms} ms after the SCIM PATCH`);
    t.diagnostic(`user removed from a group: earlier token refused ${ms} ms after the SCIM PATCH`);
    // a token minted after the change verifies
    assert.equal((await h.send(`v ${await userToken('vl-moved@example.com')}`)).code, 0, 'a fresh token after the group change');
  });

  test('a feed that refuses our key fails closed: temporarily_unavailable, never acceptance', async () => {
    const h = startHelper(helperExe, [srv.issuer, API, `${srv.url}/jwks.json`, `${srv.url}/ssf/poll`],
      { ...env, IDPD_FEED_TOKEN: 'idpd_pk_notakeynotakeynotakey.x' });
    helpers.push(h);
    const tok = await accessToken(srv.url, c);
    await new Promise((r) => setTimeout(r, 500));
    const r = await h.send(`v ${tok}`);
    assert.equal(r.code, 3, JSON.stringify(r));
    assert.equal(r.error, 'temporarily_unavailable');
    assert.match(r.reason, /revocation feed/);
    const st = await h.send('s');
    assert.equal(st.feed, 'unsynced');
  });

  test('fail closed when the feed goes quiet: refused past feed_stale_ms, accepted again after a good poll; a refused cursor starts over', async () => {
    let up = true;
    let polls = 0;
    const sinces = [];
    const mock = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d) => { body += d; });
      req.on('end', () => {
        polls++;
        const okReq = req.method === 'POST' && req.headers.authorization === 'Bearer feed-key-1' &&
          /^application\/json/.test(req.headers['content-type'] || '') && typeof JSON.parse(body).maxEvents === 'number';
        const since = okReq ? JSON.parse(body).since : undefined;
        sinces.push(since ?? null);
        if (since === '999') { // a cursor we never gave (a store restored from a backup)
          res.writeHead(400, { 'content-type': 'application/json' });
          res.end('{"err":"invalid_request","description":"since is beyond the newest event"}');
          return;
        }
        if (!up || !okReq) {
          res.writeHead(okReq ? 503 : 400, { 'content-type': 'application/json' });
          res.end('{"err":"temporarily_unavailable","description":"down"}');
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(`{"sets":{},"moreAvailable":false,"cursor":"${polls === 1 ? '999' : '0'}"}`);
      });
    });
    await new Promise((r) => mock.listen(0, '127.0.0.1', r));
    try {
      const feed = `http://127.0.0.1:${mock.address().port}/ssf/poll`;
      const h = startHelper(helperExe, [srv.issuer, API, `${srv.url}/jwks.json`, feed],
        { ...env, IDPD_FEED_TOKEN: 'feed-key-1', IDPD_FEED_INTERVAL_MS: '200', IDPD_FEED_STALE_MS: '1000' });
      helpers.push(h);
      const tok = await accessToken(srv.url, c);
      assert.ok(await poll(async () => ((await h.send(`v ${tok}`)).code === 0 ? true : null), 3000), 'verifies with a good feed');
      assert.ok(polls >= 1);
      // the first answer's cursor "999" is refused on the next poll: the receiver starts over
      assert.ok(await poll(async () => (sinces.length >= 4 ? true : null), 3000));
      assert.deepEqual(sinces.slice(0, 4), [null, '999', null, '0']);
      up = false;
      const t0 = Date.now();
      const r = await h.send(`u ${tok} 4000`);
      assert.equal(r.code, 3, JSON.stringify(r));
      assert.match(r.reason, /^revocation feed stale/);
      assert.ok(Date.now() - t0 >= 600 && Date.now() - t0 <= 2500, `refused after ${Date.now() - t0} ms`);
      assert.equal((await h.send('s')).feed, 'stale');
      up = true;
      assert.ok(await poll(async () => ((await h.send(`v ${tok}`)).code === 0 ? true : null), 3000), 'accepted again');
      assert.equal((await h.send('s')).feed, 'ok');
    } finally {
      mock.close();
    }
  });

  test('the helpers exit 0 (no leak or sanitizer report)', async () => {
    while (helpers.length) assert.equal(await helpers.pop().stop(), 0);
  });

  test('idpd verify still works (it links the same library)', async () => {
    const r = cli(['verify', '--jwks', `${srv.url}/jwks.json`, '--issuer', srv.issuer, '--audience', API, await accessToken(srv.url, c)]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.json.client_id, c.client_id);
  });

  testCleanExit(() => [srv]);
});
