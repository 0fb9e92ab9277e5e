// The idpd command line: init, client, key, verify, serve --check, usage errors; and that changes
// made by the CLI reach a running server within about a second.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { generateKeyPairSync } from 'node:crypto';
import path from 'node:path';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import {
  accessToken, cli, cliOk, createClient, initDataDir, poll, startServer, stopOk, tempDir, testCleanExit,
  token,
} from '../lib/idpd.mjs';

const API = 'https://api.example.com';
const ALGS = { IDPD_ALGS: 'ES256 EdDSA' };

function assertFailure(r, code, cmd) {
  assert.equal(r.status, code, `${cmd}: exit ${r.status}, stderr: ${r.stderr}`);
  const first = cmd.split(' ')[0];
  assert.match(r.stderr, new RegExp(`^idpd ${first}\\b[^:\\n]*: \\S`, 'm'), `stderr names the command: ${r.stderr}`);
}

describe('idpd init', () => {
  test('creates the data dir, master key 0600, store and first keys; --json shape', () => {
    const dir = path.join(tempDir(), 'data');
    const r = cliOk(['init', '--issuer', 'https://idp.example.test', '--json'], { dataDir: dir, env: ALGS });
    const j = r.json;
    assert.equal(j.issuer, 'https://idp.example.test');
    assert.equal(path.resolve(j.data_dir), path.resolve(dir));
    assert.equal(statSync(path.join(dir, 'master.key')).mode & 0o777, 0o600);
    assert.ok(existsSync(path.join(dir, 'idpd.db')));
    for (const alg of ['ES256', 'EdDSA']) {
      for (const state of ['current', 'next']) {
        const k = j.keys.find((x) => x.alg === alg && x.state === state);
        assert.ok(k && typeof k.kid === 'string', `${state} ${alg} key in ${r.stdout}`);
      }
    }
    assert.equal(j.keys.length, 4);
  });

  test('an existing empty directory is fine', () => {
    const dir = tempDir();
    cliOk(['init'], { dataDir: dir, env: ALGS });
    assert.ok(existsSync(path.join(dir, 'idpd.db')));
  });

  test('refuses a data dir that already holds idpd.db or master.key (exit 1)', () => {
    const dir = initDataDir({ env: ALGS });
    const before = cliOk(['key', 'list', '--json'], { dataDir: dir }).json;
    assertFailure(cli(['init'], { dataDir: dir, env: ALGS }), 1, 'init');
    assert.deepEqual(cliOk(['key', 'list', '--json'], { dataDir: dir }).json, before, 'keys untouched');
    const d2 = tempDir();
    writeFileSync(path.join(d2, 'master.key'), 'x');
    assertFailure(cli(['init'], { dataDir: d2, env: ALGS }), 1, 'init');
  });

  test('IDPD_DATA_DIR is honoured', () => {
    const dir = initDataDir({ env: ALGS });
    const r = cliOk(['key', 'list', '--json'], { env: { IDPD_DATA_DIR: dir } });
    assert.equal(r.json.length, 4);
  });
});

describe('idpd client and key commands', () => {
  let dir;
  before(() => {
    dir = initDataDir({ env: ALGS });
  });

  test('client create --json / list / show / delete', () => {
    const c = createClient(dir, { name: 'svc-a', scope: 'a b', audiences: [API, 'https://x.test'], tokenAlg: 'EdDSA' });
    assert.ok(c.client_id.length > 0);
    assert.ok(c.client_secret.length >= 32, 'secret has at least 256 bits of entropy in text');
    const list = cliOk(['client', 'list', '--json'], { dataDir: dir });
    assert.ok(Array.isArray(list.json));
    const row = list.json.find((x) => x.client_id === c.client_id);
    assert.ok(row, 'listed');
    assert.equal(row.name, 'svc-a');
    const show = cliOk(['client', 'show', c.client_id, '--json'], { dataDir: dir });
    assert.equal(show.json.client_id, c.client_id);
    assert.equal(show.json.name, 'svc-a');
    for (const out of [list.stdout, show.stdout]) {
      assert.ok(!out.includes(c.client_secret), 'secret never shown again');
      assert.doesNotMatch(out, /"(client_secret|secret_hash|secret)"\s*:/);
    }
    const text = cliOk(['client', 'show', c.client_id], { dataDir: dir }).stdout;
    assert.ok(text.includes(c.client_id));
    assert.ok(!text.includes(c.client_secret));
    cliOk(['client', 'delete', c.client_id], { dataDir: dir });
    assertFailure(cli(['client', 'show', c.client_id], { dataDir: dir }), 1, 'client show');
    assert.ok(!cliOk(['client', 'list', '--json'], { dataDir: dir }).json.some((x) => x.client_id === c.client_id));
    assertFailure(cli(['client', 'delete', c.client_id], { dataDir: dir }), 1, 'client delete');
  });

  test('client rotate-secret --json -> {client_id, client_secret} with a new secret', () => {
    const c = createClient(dir);
    const r = cliOk(['client', 'rotate-secret', c.client_id, '--json'], { dataDir: dir }).json;
    assert.equal(r.client_id, c.client_id);
    assert.equal(typeof r.client_secret, 'string');
    assert.notEqual(r.client_secret, c.client_secret);
    assertFailure(cli(['client', 'rotate-secret', 'no-such-client'], { dataDir: dir }), 1, 'client rotate-secret');
  });

  test('client ids are unique', () => {
    const a = createClient(dir);
    const b = createClient(dir);
    assert.notEqual(a.client_id, b.client_id);
    assert.notEqual(a.client_secret, b.client_secret);
  });

  test('key list --json shape', () => {
    const keys = cliOk(['key', 'list', '--json'], { dataDir: dir }).json;
    assert.ok(Array.isArray(keys));
    for (const k of keys) {
      assert.equal(typeof k.kid, 'string');
      assert.ok(['ES256', 'EdDSA'].includes(k.alg));
      assert.ok(['next', 'current', 'retired'].includes(k.state));
      for (const f of ['created_at', 'activated_at', 'retired_at']) assert.ok(f in k, `${f} in ${JSON.stringify(k)}`);
      assert.equal(typeof k.created_at, 'number');
      if (k.state === 'current') assert.ok(k.activated_at > 0);
      for (const secret of ['d', 'private', 'enc_private', 'private_jwk']) assert.equal(secret in k, false);
    }
  });

  test('key rotate without --force is refused (exit 1); with --force it rotates', () => {
    const before = cliOk(['key', 'list', '--json'], { dataDir: dir }).json;
    assertFailure(cli(['key', 'rotate', '--alg', 'ES256'], { dataDir: dir, env: ALGS }), 1, 'key rotate');
    assert.deepEqual(cliOk(['key', 'list', '--json'], { dataDir: dir }).json, before, 'nothing changed');
    const next = before.find((k) => k.alg === 'ES256' && k.state === 'next');
    const cur = before.find((k) => k.alg === 'ES256' && k.state === 'current');
    cliOk(['key', 'rotate', '--alg', 'ES256', '--force'], { dataDir: dir, env: ALGS });
    const afterKeys = cliOk(['key', 'list', '--json'], { dataDir: dir }).json;
    const st = (kid) => afterKeys.find((k) => k.kid === kid)?.state;
    assert.equal(st(next.kid), 'current');
    assert.equal(st(cur.kid), 'retired');
    assert.ok(afterKeys.find((k) => k.kid === cur.kid).retired_at > 0);
    const newNext = afterKeys.filter((k) => k.alg === 'ES256' && k.state === 'next');
    assert.equal(newNext.length, 1);
    assert.ok(!before.some((k) => k.kid === newNext[0].kid), 'a fresh next key');
    // EdDSA untouched by --alg ES256
    for (const k of before.filter((x) => x.alg === 'EdDSA')) assert.equal(st(k.kid), k.state);
  });

  test('key rotate --force without --alg rotates every alg', () => {
    const before = cliOk(['key', 'list', '--json'], { dataDir: dir }).json;
    cliOk(['key', 'rotate', '--force'], { dataDir: dir, env: ALGS });
    const afterKeys = cliOk(['key', 'list', '--json'], { dataDir: dir }).json;
    for (const alg of ['ES256', 'EdDSA']) {
      const next = before.find((k) => k.alg === alg && k.state === 'next');
      assert.equal(afterKeys.find((k) => k.kid === next.kid).state, 'current', alg);
    }
  });

  test('serve --check', () => {
    const r = cliOk(['serve', '--check'], { dataDir: dir, env: ALGS });
    assert.match(r.stdout, /configuration ok/);
    const missing = cli(['serve', '--check'], { dataDir: path.join(tempDir(), 'nope'), env: ALGS });
    assertFailure(missing, 1, 'serve');
    const cfg = path.join(tempDir(), 'bad.yaml');
    writeFileSync(cfg, 'no_such_option: 1\n');
    const bad = cli(['serve', '--check', '--config', cfg], { dataDir: dir });
    assert.equal(bad.status, 1, bad.stderr);
    assert.match(bad.stderr, /no_such_option/);
  });

  test('usage errors exit 2; --help exits 0', () => {
    for (const args of [[], ['frobnicate'], ['client'], ['client', 'frob'], ['key', 'rotate', '--bogus'],
      ['init', '--no-such-flag'], ['client', 'show'], ['verify']]) {
      const r = cli(args, { dataDir: dir });
      assert.equal(r.status, 2, `idpd ${args.join(' ')}: exit ${r.status}, stderr ${r.stderr}`);
      assert.ok(r.stderr.length > 0, `idpd ${args.join(' ')} explains on stderr`);
    }
    for (const args of [['--help'], ['client', '--help'], ['key', '--help'], ['verify', '--help']]) {
      const r = cli(args);
      assert.equal(r.status, 0, `idpd ${args.join(' ')}: ${r.stderr}`);
      assert.ok(r.stdout.length > 0);
    }
  });

  test('invalid option values are rejected', () => {
    for (const [opt, val] of [['--token-alg', 'HS256'], ['--token-alg', 'none'], ['--token-ttl', 'soon']]) {
      const r = cli(['client', 'create', '--name', 'x', '--grant-types', 'client_credentials', '--scope', 'a', opt, val],
        { dataDir: dir });
      assert.ok(r.status === 1 || r.status === 2, `${opt} ${val}: exit ${r.status}`);
      assert.match(r.stderr, /^idpd /m);
    }
  });
});

describe('CLI changes reach a running server', () => {
  let dir;
  let srv;
  before(async () => {
    dir = initDataDir({ env: ALGS });
    srv = await startServer(dir, { env: ALGS });
  });
  after(() => stopOk(srv));

  test('a client created while the server runs gets a token within ~1 s', async () => {
    const c = createClient(dir);
    const t0 = Date.now();
    const ok = await poll(async () => (await token(srv.url, c)).status === 200, 2000);
    assert.ok(ok, 'token within 2 s');
    assert.ok(Date.now() - t0 < 2000);
  });

  test('after rotate-secret the old secret is rejected and the new one accepted', async () => {
    const c = createClient(dir);
    await poll(async () => (await token(srv.url, c)).status === 200, 2000);
    const r = cliOk(['client', 'rotate-secret', c.client_id, '--json'], { dataDir: dir }).json;
    const oldRejected = await poll(async () => (await token(srv.url, c)).status === 401, 2000);
    assert.ok(oldRejected, 'old secret still accepted 2 s after rotate-secret');
    assert.equal((await token(srv.url, { ...c, client_secret: r.client_secret })).status, 200);
  });

  test('a deleted client can no longer get tokens', async () => {
    const c = createClient(dir);
    await poll(async () => (await token(srv.url, c)).status === 200, 2000);
    cliOk(['client', 'delete', c.client_id], { dataDir: dir });
    const gone = await poll(async () => {
      const r = await token(srv.url, c);
      return r.status === 401 && r.json?.error === 'invalid_client';
    }, 2000);
    assert.ok(gone, 'deleted client still gets tokens 2 s later');
  });

  testCleanExit(() => [srv]);
});

describe('idpd verify', () => {
  let dir;
  let srv;
  let c;
  let jwksFile;
  let foreign; // {privateKey, kid} published in its own JWKS file
  let foreignJwks;
  before(async () => {
    dir = initDataDir({ env: ALGS });
    c = createClient(dir, { audiences: [API] });
    srv = await startServer(dir, { env: ALGS });
    jwksFile = path.join(tempDir(), 'jwks.json');
    writeFileSync(jwksFile, await (await fetch(`${srv.url}/jwks.json`)).text());
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    const jwk = { ...(await exportJWK(publicKey)), kid: 'test-key', alg: 'ES256', use: 'sig' };
    foreign = { privateKey, kid: 'test-key' };
    foreignJwks = path.join(tempDir(), 'foreign.json');
    writeFileSync(foreignJwks, JSON.stringify({ keys: [jwk] }));
  });
  after(() => stopOk(srv));

  const verify = (tok, { jwks, iss, aud = API, extra = [] } = {}) =>
    cli(['verify', '--jwks', jwks ?? `${srv.url}/jwks.json`, '--issuer', iss ?? srv.issuer,
      '--audience', aud, ...extra, tok]);

  /** A token signed by the test's own key (JWKS in foreignJwks). */
  const sign = (claims, hdr = {}) => new SignJWT({ client_id: 'x', scope: 's', ...claims })
    .setProtectedHeader({ alg: 'ES256', kid: foreign.kid, typ: 'at+jwt', ...hdr })
    .sign(foreign.privateKey);
  const now = () => Math.floor(Date.now() / 1000);

  test('a good token: exit 0, claims on stdout (JWKS from the live URL and from a file)', async () => {
    const tok = await accessToken(srv.url, c);
    for (const jwks of [`${srv.url}/jwks.json`, jwksFile]) {
      const r = verify(tok, { jwks });
      assert.equal(r.status, 0, `${jwks}: ${r.stderr}`);
      assert.equal(r.json.sub, c.client_id);
      assert.equal(r.json.iss, srv.issuer);
      assert.equal(r.json.aud, API);
    }
    const r = verify(tok, { extra: ['--typ', 'at+jwt', '--alg', 'ES256,EdDSA'] });
    assert.equal(r.status, 0, r.stderr);
  });

  test('wrong audience -> exit 1 naming the audience', async () => {
    const r = verify(await accessToken(srv.url, c), { aud: 'https://someone-else.example' });
    assertFailure(r, 1, 'verify');
    assert.match(r.stderr, /aud/i);
    assert.equal(r.stdout, '');
  });

  test('wrong issuer -> exit 1 naming the issuer', async () => {
    const r = verify(await accessToken(srv.url, c), { iss: 'https://not-the-issuer.example' });
    assertFailure(r, 1, 'verify');
    assert.match(r.stderr, /iss/i);
  });

  test('tampered token -> exit 1 naming the signature', async () => {
    const tok = await accessToken(srv.url, c);
    const [h, p, s] = tok.split('.');
    const flipped = s.slice(0, 5) + (s[5] === 'A' ? 'B' : 'A') + s.slice(6);
    const r = verify(`${h}.${p}.${flipped}`);
    assertFailure(r, 1, 'verify');
    assert.match(r.stderr, /signature/i);
  });

  test('disallowed alg -> exit 1', async () => {
    const r = verify(await accessToken(srv.url, c), { extra: ['--alg', 'RS256'] });
    assertFailure(r, 1, 'verify');
    assert.match(r.stderr, /alg/i);
  });

  test('expired token -> exit 1 naming exp', async () => {
    const t = now();
    const tok = await sign({ iss: srv.issuer, aud: API, sub: 'x', iat: t - 3600, nbf: t - 3600, exp: t - 600, jti: 'j1' });
    const r = verify(tok, { jwks: foreignJwks });
    assertFailure(r, 1, 'verify');
    assert.match(r.stderr, /exp/i);
  });

  test('RFC 7517 §5: an unusable JWKS member (1024-bit RSA) is ignored and named; the rest verifies', async () => {
    const weak = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'jwk' });
    const mixed = path.join(tempDir(), 'mixed.json');
    const own = JSON.parse(readFileSync(foreignJwks, 'utf8')).keys;
    writeFileSync(mixed, JSON.stringify({ keys: [{ ...weak, kid: 'weak-1024', use: 'sig' }, ...own] }));
    const t = now();
    const good = await sign({ iss: srv.issuer, aud: API, sub: 'x', iat: t, nbf: t, exp: t + 300, jti: 'j-mixed' });
    const r = verify(good, { jwks: mixed });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /ignoring JWKS member 0 \(kid weak-1024\): .*1024/);
    // a set with no usable member at all is refused with a clear reason
    const onlyWeak = path.join(tempDir(), 'weak.json');
    writeFileSync(onlyWeak, JSON.stringify({ keys: [{ ...weak, kid: 'weak-1024' }] }));
    const r2 = verify(good, { jwks: onlyWeak });
    assertFailure(r2, 1, 'verify');
    assert.match(r2.stderr, /no usable key/);
  });

  test('a valid token signed by the file JWKS passes; not-yet-valid and wrong typ fail', async () => {
    const t = now();
    const good = await sign({ iss: srv.issuer, aud: API, sub: 'x', iat: t, nbf: t, exp: t + 300, jti: 'j2' });
    assert.equal(verify(good, { jwks: foreignJwks }).status, 0);
    const future = await sign({ iss: srv.issuer, aud: API, sub: 'x', iat: t, nbf: t + 3600, exp: t + 7200, jti: 'j3' });
    const r = verify(future, { jwks: foreignJwks });
    assertFailure(r, 1, 'verify');
    assert.match(r.stderr, /nbf|not.{0,10}(yet|before)/i);
    const jwt = await sign({ iss: srv.issuer, aud: API, sub: 'x', iat: t, nbf: t, exp: t + 300, jti: 'j4' }, { typ: 'JWT' });
    const r2 = verify(jwt, { jwks: foreignJwks, extra: ['--typ', 'at+jwt'] });
    assertFailure(r2, 1, 'verify');
    assert.match(r2.stderr, /typ/i);
  });

  test('unknown kid and a garbage token -> exit 1', async () => {
    const tok = await accessToken(srv.url, c);
    assertFailure(verify(tok, { jwks: foreignJwks }), 1, 'verify');
    assertFailure(verify('not-a-jwt'), 1, 'verify');
    const missing = path.join(tempDir(), 'missing.json');
    assertFailure(verify(tok, { jwks: missing }), 1, 'verify');
    const dirAsJwks = tempDir();
    mkdirSync(path.join(dirAsJwks, 'x'));
    assertFailure(verify(tok, { jwks: path.join(dirAsJwks, 'x') }), 1, 'verify');
  });

  testCleanExit(() => [srv]);
});
