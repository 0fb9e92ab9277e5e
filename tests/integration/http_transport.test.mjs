// HTTP transport hardening: bearer tokens up to the token size cap at every bearer endpoint
// (RFC 6750 §2.1), strict HTTP/1.1 framing (RFC 9112 §3.2, §6.3), NUL in query values refused,
// /metrics behind an optional token, per-IP connection limit and a whole-header deadline
// (slowloris), MHD's log lines rate-limited. docs/SECURITY.md "HTTP transport" cites these tests.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { basic, createClient, initDataDir, postForm, rawRequest, startServer, stopOk, testCleanExit } from '../lib/idpd.mjs';
import { authorizeUrl, codeFrom, createCodeClient, pkcePair, provisionUser, Agent, signIn } from '../lib/oidc.mjs';

const PW = 'Correct-Horse-9f1e2d';
const CB = 'http://127.0.0.1:9/cb';
const JWS_MAX_LEN = 16 * 1024; // src/jose/jws.h: the token size cap

/**
 * Writes bytes on a new connection without closing our side and collects everything until the
 * server closes the connection. Resolves {raw (latin1 string), closed: true} or, when the server
 * keeps the connection open for timeoutMs, {raw, closed: false}.
 */
function exchange(baseUrl, bytes, timeoutMs = 5000, localAddress) {
  const u = new URL(baseUrl);
  return new Promise((resolve) => {
    const sock = net.connect({ port: Number(u.port), host: u.hostname, localAddress });
    const chunks = [];
    let done = false;
    const finish = (closed) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({ raw: Buffer.concat(chunks).toString('latin1'), closed });
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    sock.on('connect', () => sock.write(bytes));
    sock.on('data', (c) => chunks.push(c));
    sock.on('end', () => finish(true));
    sock.on('close', () => finish(true));
    sock.on('error', () => finish(true));
  });
}

const statusOf = (raw) => Number(/^HTTP\/1\.[01] (\d{3})/.exec(raw)?.[1] || 0);
const responses = (raw) => (raw.match(/HTTP\/1\.[01] \d{3}/g) || []).length;

describe('bearer tokens longer than 1,024 characters', () => {
  let dir;
  let srv;
  let web;
  before(async () => {
    dir = initDataDir({ env: { IDPD_ALGS: 'ES256 RS256' } });
    // A long default audience makes the RS256 access token well over 1,024 characters.
    web = createCodeClient(dir, { tokenAlg: 'RS256', audiences: [`https://api.example.com/${'a'.repeat(480)}`] });
    srv = await startServer(dir, { env: { IDPD_ALGS: 'ES256 RS256' } });
    await provisionUser(srv, dir, 'alice@example.com', PW, { name: { givenName: 'Alice' } });
  });
  after(() => stopOk(srv));

  async function userToken() {
    const { verifier, challenge } = pkcePair();
    const { final } = await signIn(new Agent(srv.url), authorizeUrl(srv.issuer, { client_id: web.client_id,
      redirect_uri: CB, response_type: 'code', scope: 'openid profile email', state: 's1', nonce: 'n1',
      code_challenge: challenge, code_challenge_method: 'S256' }), 'alice@example.com', PW);
    const r = await postForm(srv.url, '/token', web, { grant_type: 'authorization_code', code: codeFrom(final).code,
      redirect_uri: CB, code_verifier: verifier });
    assert.equal(r.status, 200, r.text);
    return r.json.access_token;
  }

  test('a 1,025+ character user access token works at /userinfo (GET and POST)', async () => {
    const tok = await userToken();
    assert.ok(tok.length > 1024, `token is ${tok.length} characters`);
    for (const method of ['GET', 'POST']) {
      const res = await fetch(`${srv.url}/userinfo`, { method, headers: { authorization: `Bearer ${tok}` } });
      const text = await res.text();
      assert.equal(res.status, 200, text);
      assert.equal(JSON.parse(text).email, 'alice@example.com');
    }
  });

  test('a token over the token size cap gets 401 invalid_token at /userinfo, not invalid_request', async () => {
    const huge = `${'a'.repeat(JWS_MAX_LEN)}.b.c`;
    const res = await fetch(`${srv.url}/userinfo`, { headers: { authorization: `Bearer ${huge}` } });
    assert.equal(res.status, 401);
    assert.match(res.headers.get('www-authenticate'), /error="invalid_token"/);
    assert.equal((await res.json()).error, 'invalid_token');
  });

  test('SCIM and admin (provisioning-key bearer endpoints): a long token is a 401, not a crash', async () => {
    const long = `${'a'.repeat(2000)}.b.c`;
    for (const p of ['/scim/v2/Users', '/admin/v1/policy']) {
      const res = await fetch(`${srv.url}${p}`, { headers: { authorization: `Bearer ${long}` } });
      assert.equal(res.status, 401, p);
      assert.match(res.headers.get('www-authenticate'), /^Bearer/);
    }
  });
  testCleanExit(() => [srv]);
});

describe('strict HTTP/1.1 framing (RFC 9112 §3.2, §6.3)', () => {
  let srv;
  let c;
  let host;
  before(async () => {
    const dir = initDataDir({ env: { IDPD_ALGS: 'ES256' } });
    c = createClient(dir, { authMethod: 'client_secret_post' }); // the raw requests carry the secret in the body
    srv = await startServer(dir, { env: { IDPD_ALGS: 'ES256' } });
    host = new URL(srv.url).host;
  });
  after(() => stopOk(srv));

  const form = () => `grant_type=client_credentials&client_id=${c.client_id}&client_secret=${c.client_secret}`;
  const pipelined = () => `GET /healthz HTTP/1.1\r\nHost: ${host}\r\n\r\n`;

  test('two different Content-Length headers: 400, no token, connection closed', async () => {
    const body = form();
    const r = await exchange(srv.url, `POST /token HTTP/1.1\r\nHost: ${host}\r\n` +
      `Content-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\n` +
      `Content-Length: 5\r\n\r\n${body}`);
    assert.equal(statusOf(r.raw), 400, r.raw);
    assert.doesNotMatch(r.raw, /access_token/);
    assert.match(r.raw, /invalid_request/);
    assert.ok(r.closed, 'the server closes the connection');
  });

  test('Content-Length with Transfer-Encoding: chunked: 400, closed, the pipelined request not served', async () => {
    const body = form();
    const chunked = `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`;
    const r = await exchange(srv.url, `POST /token HTTP/1.1\r\nHost: ${host}\r\n` +
      `Content-Type: application/x-www-form-urlencoded\r\nContent-Length: ${chunked.length}\r\n` +
      `Transfer-Encoding: chunked\r\n\r\n${chunked}${pipelined()}`);
    assert.equal(statusOf(r.raw), 400, r.raw);
    assert.equal(responses(r.raw), 1, `one response only:\n${r.raw}`);
    assert.doesNotMatch(r.raw, /access_token/);
    assert.ok(r.closed, 'the server closes the connection');
  });

  test('HTTP/1.1 without Host: 400 (and two Host headers: 400); HTTP/1.0 without Host still served', async () => {
    let r = await exchange(srv.url, 'GET /healthz HTTP/1.1\r\n\r\n');
    assert.equal(statusOf(r.raw), 400, r.raw);
    assert.ok(r.closed);
    r = await exchange(srv.url, `GET /healthz HTTP/1.1\r\nHost: ${host}\r\nHost: evil.example\r\n\r\n`);
    assert.equal(statusOf(r.raw), 400, r.raw);
    r = await exchange(srv.url, 'GET /healthz HTTP/1.0\r\n\r\n');
    assert.equal(statusOf(r.raw), 200, r.raw);
  });

  test('Transfer-Encoding: gzip, chunked (or chunked, gzip): 400 at once and closed, no 30 s hang', async () => {
    for (const te of ['gzip, chunked', 'chunked, gzip']) {
      const r = await exchange(srv.url, `POST /token HTTP/1.1\r\nHost: ${host}\r\n` +
        `Content-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: ${te}\r\n\r\n` +
        `5\r\nabcde\r\n0\r\n\r\n${pipelined()}`, 5000);
      assert.equal(statusOf(r.raw), 400, `${te}: ${r.raw}`);
      assert.equal(responses(r.raw), 1, r.raw);
      assert.ok(r.closed, `${te}: closed within 5 s`);
    }
  });

  test('well-formed requests still work: one Content-Length, chunked alone, keep-alive pipelining', async () => {
    const body = form();
    let r = await exchange(srv.url, `POST /token HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n` +
      `Content-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    assert.equal(statusOf(r.raw), 200, r.raw);
    r = await exchange(srv.url, `POST /token HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n` +
      `Content-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n` +
      `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`);
    assert.equal(statusOf(r.raw), 200, r.raw);
    r = await exchange(srv.url, `${pipelined()}GET /healthz HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
    assert.equal(responses(r.raw), 2, r.raw);
  });

  test('NUL in a query value or name is refused with 400 invalid_request, never truncated', async () => {
    for (const q of [`client_id=${c.client_id}%00junk`, 'a%00b=1']) {
      const r = await exchange(srv.url, `GET /authorize?${q}&response_type=code HTTP/1.1\r\nHost: ${host}\r\n` +
        'Connection: close\r\n\r\n');
      assert.equal(statusOf(r.raw), 400, r.raw);
      assert.match(r.raw, /invalid_request/);
      assert.match(r.raw, /NUL/);
    }
    const res = await fetch(`${srv.url}/scim/v2/Users?filter=userName%20eq%20%22a%00b%22`);
    assert.equal(res.status, 400);
    const res2 = await fetch(`${srv.url}/healthz?x=%00`);
    assert.equal(res2.status, 400);
  });
  testCleanExit(() => [srv]);
});

describe('slowloris: per-IP connection limit and whole-header deadline', () => {
  let srv;
  const PER_IP = 8;
  before(async () => {
    const dir = initDataDir({ env: { IDPD_ALGS: 'ES256' } });
    srv = await startServer(dir, { env: { IDPD_ALGS: 'ES256', IDPD_THREADS: '2', IDPD_MAX_CONNECTIONS: '24',
      IDPD_MAX_CONNECTIONS_PER_IP: String(PER_IP), IDPD_REQUEST_HEADER_TIMEOUT: '2s' } });
  });
  after(() => stopOk(srv));

  /** A connection from 127.0.0.1 that sends a request line, then one header line every 300 ms. */
  function trickler() {
    const u = new URL(srv.url);
    const t = { closed: false, got: '' };
    t.sock = net.connect({ port: Number(u.port), host: '127.0.0.1' });
    t.sock.on('connect', () => {
      t.sock.write(`GET /healthz HTTP/1.1\r\nHost: ${u.host}\r\n`);
      t.timer = setInterval(() => { if (!t.closed) t.sock.write(`X-Slow-${randomBytes(2).toString('hex')}: 1\r\n`); }, 300);
    });
    t.sock.on('data', (d) => { t.got += d.toString('latin1'); });
    const gone = () => { t.closed = true; clearInterval(t.timer); };
    t.sock.on('close', gone);
    t.sock.on('error', gone);
    return t;
  }

  async function waitFor(cond, ms) {
    const end = Date.now() + ms;
    while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    return cond();
  }

  test('one address cannot take every connection; another client is served; tricklers are cut at the deadline', async () => {
    const ts = Array.from({ length: 30 }, () => trickler()); // more than max_connections in all
    try {
      // Connections beyond the per-IP limit are closed at once by the server.
      assert.ok(await waitFor(() => ts.filter((t) => t.closed).length >= ts.length - PER_IP, 1500),
        `closed: ${ts.filter((t) => t.closed).length} of ${ts.length}`);
      assert.ok(ts.filter((t) => !t.closed).length <= PER_IP);
      // A client from another loopback address is served while the tricklers hold theirs.
      const r = await exchange(srv.url, `GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`, 5000,
        '127.0.0.2');
      assert.equal(statusOf(r.raw), 200, r.raw);
      // Every trickler is closed once request_header_timeout (2 s) passes, though it never goes idle.
      assert.ok(await waitFor(() => ts.every((t) => t.closed), 8000),
        `still open after the deadline: ${ts.filter((t) => !t.closed).length}`);
      assert.ok(ts.every((t) => !/HTTP\/1\.1 200/.test(t.got)), 'no trickler got its request served');
    } finally {
      for (const t of ts) { clearInterval(t.timer); t.sock.destroy(); }
    }
    // The server still answers normally afterwards.
    assert.equal((await fetch(`${srv.url}/healthz`)).status, 200);
  });
  testCleanExit(() => [srv]);
});

describe("libmicrohttpd's warnings are rate-limited", () => {
  let srv;
  before(async () => {
    const dir = initDataDir({ env: { IDPD_ALGS: 'ES256' } });
    srv = await startServer(dir, { env: { IDPD_ALGS: 'ES256' } });
  });
  after(() => stopOk(srv));

  test('60 abandoned connections write at most 10 warning lines of that kind', async () => {
    const u = new URL(srv.url);
    for (let i = 0; i < 60; i++) {
      await new Promise((resolve) => {
        const s = net.connect(Number(u.port), '127.0.0.1', () => {
          s.write(`POST /token HTTP/1.1\r\nHost: ${u.host}\r\nContent-Length: 100\r\n\r\nabc`);
          setTimeout(() => s.destroy(), 5);
        });
        s.on('close', resolve);
        s.on('error', resolve);
      });
    }
    assert.equal((await fetch(`${srv.url}/healthz`)).status, 200);
    await stopOk(srv); // flushes the log
    const warn = srv.logs().filter((l) => /microhttpd: Connection was closed/.test(l));
    assert.ok(warn.length >= 1, 'the first lines of a kind are kept');
    assert.ok(warn.length <= 10, `${warn.length} lines`);
    for (const l of srv.logs().filter((x) => x.trim())) JSON.parse(l); // still one JSON object a line
  });
});

describe('metrics_token: /metrics behind a bearer token', () => {
  let srv;
  const TOKEN = randomBytes(32).toString('base64url');
  before(async () => {
    const dir = initDataDir({ env: { IDPD_ALGS: 'ES256' } });
    srv = await startServer(dir, { env: { IDPD_ALGS: 'ES256', IDPD_METRICS_TOKEN: TOKEN } });
  });
  after(() => stopOk(srv));

  test('401 without a token or with a wrong one, 200 with the right one', async () => {
    const wrongSameLength = TOKEN.slice(0, -1) + (TOKEN.endsWith('A') ? 'B' : 'A');
    for (const auth of [undefined, 'Bearer nope-nope-nope-nope', `Bearer ${wrongSameLength}`, `Basic ${TOKEN}`,
      `Bearer ${TOKEN}x`]) {
      const res = await fetch(`${srv.url}/metrics`, { headers: auth ? { authorization: auth } : {} });
      assert.equal(res.status, 401, String(auth));
      assert.match(res.headers.get('www-authenticate'), /^Bearer realm="idpd-metrics"/);
      assert.doesNotMatch(await res.text(), /idpd_/);
    }
    const ok = await fetch(`${srv.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(ok.status, 200);
    assert.match(await ok.text(), /idpd_policy_version/);
    assert.ok(!srv.logs().some((l) => l.includes(TOKEN)), 'the token is never logged');
  });
  testCleanExit(() => [srv]);
});
