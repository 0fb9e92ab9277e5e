// Operations: graceful shutdown, request logs (one JSON line per request, no secrets), and
// hostile input that must produce a 4xx with a JSON error body while the server stays up.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  accessToken, basic, createClient, getJson, initDataDir, introspect, rawPost, rawRequest,
  revoke, startServer, stopOk, token, testCleanExit,
} from '../lib/idpd.mjs';

const ALGS = { IDPD_ALGS: 'ES256' };

describe('graceful shutdown', () => {
  let dir;
  before(() => {
    dir = initDataDir({ env: ALGS });
  });

  for (const sig of ['SIGTERM', 'SIGINT']) {
    test(`${sig} -> exit 0 and the port is closed`, async () => {
      const srv = await startServer(dir, { env: ALGS });
      const c = createClient(dir);
      // a little traffic first so shutdown has something to clean up
      await token(srv.url, c).catch(() => {});
      assert.equal((await getJson(`${srv.url}/healthz`)).status, 200);
      const exited = new Promise((res) => srv.proc.on('exit', (code, signal) => res({ code, signal })));
      process.kill(srv.pid, sig);
      const { code, signal } = await exited;
      assert.equal(signal, null, `terminated by ${signal}\n${srv.logs().slice(-30).join('\n')}`);
      assert.equal(code, 0, srv.logs().slice(-30).join('\n'));
      await assert.rejects(fetch(`${srv.url}/healthz`));
    });
  }
});

describe('request log', () => {
  let srv;
  let c;
  let cp; // registered for client_secret_post
  let secretTok;
  const requests = [];
  before(async () => {
    const dir = initDataDir({ env: ALGS });
    c = createClient(dir);
    cp = createClient(dir, { name: 'post', authMethod: 'client_secret_post' });
    srv = await startServer(dir, { env: ALGS });
    // a known set of requests: [method, path, status]
    secretTok = await accessToken(srv.url, c); requests.push(['POST', '/token', 200]);
    await token(srv.url, { ...cp, method: 'post' }); requests.push(['POST', '/token', 200]);
    await token(srv.url, { ...c, client_secret: 'wrong-secret-value' }); requests.push(['POST', '/token', 401]);
    await introspect(srv.url, c, secretTok); requests.push(['POST', '/introspect', 200]);
    await revoke(srv.url, c, secretTok); requests.push(['POST', '/revoke', 200]);
    await fetch(`${srv.url}/jwks.json?access_token=${secretTok}`); requests.push(['GET', '/jwks.json', 200]);
    await fetch(`${srv.url}/nope?client_secret=${c.client_secret}`); requests.push(['GET', '/nope', 404]);
    await fetch(`${srv.url}/healthz`); requests.push(['GET', '/healthz', 200]);
    await fetch(`${srv.url}/token`); requests.push(['GET', '/token', 405]);
    await stopOk(srv); // flushes the log
  });
  after(() => stopOk(srv));

  test('every stderr line is JSON; one line per request with method, path, status, duration_us', () => {
    const lines = srv.logs().filter((l) => l.trim() !== '');
    const parsed = lines.map((l) => {
      try {
        return JSON.parse(l);
      } catch {
        assert.fail(`not a JSON log line: ${l}`);
      }
      return undefined;
    });
    const reqLines = parsed.filter((j) => 'status' in j && 'path' in j);
    assert.equal(reqLines.length, requests.length, JSON.stringify(reqLines, null, 1));
    // one line per request (the order across connections is not part of the contract)
    const key = (m, p, st) => `${m} ${p} ${st}`;
    const got = reqLines.map((j) => key(j.method, j.path, Number(j.status))).sort();
    assert.deepEqual(got, requests.map((r) => key(...r)).sort());
    for (const j of reqLines) {
      assert.equal(typeof j.duration_us, 'number', JSON.stringify(j));
      assert.ok(j.duration_us >= 0);
    }
    const ok = reqLines.filter((j) => j.path === '/token' && Number(j.status) === 200);
    assert.equal(ok.length, 2);
    assert.deepEqual(ok.map((j) => j.client_id).sort(), [c.client_id, cp.client_id].sort(),
      'client_id logged when known');
  });

  test('the log contains no secret, token, Authorization header or query string', () => {
    const log = srv.logs().join('\n');
    const [h, p, s] = secretTok.split('.');
    for (const [what, needle] of [['client secret', c.client_secret], ['post client secret', cp.client_secret],
      ['access token', secretTok],
      ['token payload', p], ['token signature', s], ['wrong secret', 'wrong-secret-value'],
      ['Authorization value', basic(c.client_id, c.client_secret).slice(6)], ['query', 'access_token=']]) {
      assert.ok(!log.includes(needle), `${what} found in the log`);
    }
    assert.ok(h.length > 0);
  });

  testCleanExit(() => [srv]);
});

describe('hostile input', () => {
  let srv;
  let c;
  let auth;
  before(async () => {
    const dir = initDataDir({ env: ALGS });
    c = createClient(dir);
    srv = await startServer(dir, { env: ALGS });
    auth = { Authorization: basic(c.client_id, c.client_secret) };
  });
  after(() => stopOk(srv));

  const up = async () => {
    const r = await getJson(`${srv.url}/healthz`);
    assert.equal(r.status, 200, 'server still up');
  };
  const send = (body, headers = auth, p = '/token') => rawRequest(srv.url, rawPost(srv.url, p, body, headers));
  const assert400 = (r, what, errors = ['invalid_request']) => {
    assert.equal(r.status, 400, `${what}: ${r.status} ${r.body}`);
    assert.ok(r.json && errors.includes(r.json.error), `${what}: ${r.body}`);
  };

  test('malformed percent-encoding -> 400 invalid_request', async () => {
    for (const body of ['grant_type=client_credentials&scope=%zz', 'grant_type=client_credentials&scope=%',
      'grant_type=client_credentials&scope=api%4', 'grant_type=client%2', '%=x&grant_type=client_credentials']) {
      assert400(await send(body), body);
    }
    await up();
  });

  test('NUL bytes (raw and %00) -> 400', async () => {
    assert400(await send(Buffer.from('grant_type=client_credentials\0&scope=api:read', 'latin1')), 'raw NUL',
      ['invalid_request', 'unsupported_grant_type', 'invalid_scope']);
    assert400(await send('grant_type=client_credentials&scope=api%00read'), '%00 in scope',
      ['invalid_request', 'invalid_scope']);
    assert400(await send('grant_type=client_credentials%00'), '%00 in grant_type',
      ['invalid_request', 'unsupported_grant_type']);
    // a token containing NUL is either rejected by the form parser or simply not active (RFC 7662)
    const r = await send('token=a%00b', auth, '/introspect');
    if (r.status === 200) assert.deepEqual(r.json, { active: false });
    else assert400(r, '%00 in token');
    await up();
  });

  test('non-UTF-8 -> 400', async () => {
    assert400(await send('grant_type=client_credentials&scope=%ff%fe'), '%ff%fe in scope',
      ['invalid_request', 'invalid_scope']);
    assert400(await send(Buffer.from([...Buffer.from('grant_type=client_credentials&scope=api'), 0xc3, 0x28])),
      'raw invalid UTF-8', ['invalid_request', 'invalid_scope']);
    await up();
  });

  test('1000 parameters -> a JSON answer (400, or 200 when unknown parameters are ignored)', async () => {
    const parts = ['grant_type=client_credentials'];
    for (let i = 0; i < 1000; i++) parts.push(`p${i}=${i}`);
    const r = await send(parts.join('&'));
    assert.ok(r.json, r.body.slice(0, 200));
    if (r.status === 200) assert.equal(typeof r.json.access_token, 'string');
    else assert400(r, '1000 params');
    const rep = ['grant_type=client_credentials'];
    for (let i = 0; i < 1000; i++) rep.push('scope=api:read');
    assert400(await send(rep.join('&')), '1000 repeated scope');
    await up();
  });

  test('very long Authorization header -> 4xx with a JSON body', async () => {
    const longId = 'a'.repeat(6000);
    const r = await send('grant_type=client_credentials', { Authorization: basic(longId, 'x') });
    assert.ok(r.status === 400 || r.status === 401, `${r.status} ${r.body.slice(0, 100)}`);
    assert.ok(['invalid_client', 'invalid_request'].includes(r.json?.error), r.body.slice(0, 200));
    const r2 = await send('grant_type=client_credentials', { Authorization: 'Basic ' + 'A'.repeat(7000) });
    assert.ok(r2.status === 400 || r2.status === 401, `${r2.status}`);
    assert.equal(typeof r2.json?.error, 'string');
    // beyond what the server buffers for headers: any 4xx, or the connection closed; never a crash
    const r3 = await send('grant_type=client_credentials', { Authorization: 'Basic ' + 'A'.repeat(200 * 1024) })
      .catch(() => ({ status: 0 }));
    assert.ok(r3.status === 0 || (r3.status >= 400 && r3.status < 500), `${r3.status}`);
    await up();
  });

  test('other auth schemes and broken Basic -> 401/400 JSON', async () => {
    for (const a of ['Bearer abc', 'Basic', 'Basic ====', 'Basic ' + Buffer.from('\0:\0').toString('base64'),
      'Basic ' + Buffer.from([0xff, 0x3a, 0xfe]).toString('base64'), 'Digest x=y']) {
      const r = await send('grant_type=client_credentials', { Authorization: a });
      assert.ok(r.status === 400 || r.status === 401, `${a}: ${r.status}`);
      assert.ok(['invalid_client', 'invalid_request'].includes(r.json?.error), `${a}: ${r.body}`);
    }
    await up();
  });

  test('wrong Content-Type variants -> 400 invalid_request', async () => {
    for (const ct of ['text/plain', 'multipart/form-data; boundary=x', 'application/x-www-form-urlencodedX']) {
      assert400(await send('grant_type=client_credentials', { ...auth, 'Content-Type': ct }), ct);
    }
    await up();
  });

  test('Content-Type with a charset parameter is accepted', async () => {
    const r = await send('grant_type=client_credentials',
      { ...auth, 'Content-Type': 'application/x-www-form-urlencoded; charset=UTF-8' });
    assert.equal(r.status, 200, r.body);
  });

  test('media type names are case-insensitive (RFC 9110 §8.3.1)', async () => {
    const r = await send('grant_type=client_credentials',
      { ...auth, 'Content-Type': 'Application/X-WWW-Form-Urlencoded' });
    assert.equal(r.status, 200, r.body);
  });

  test('garbage on the wire and truncated requests do not take the server down', async () => {
    for (const raw of ['GARBAGE\r\n\r\n', 'POST /token HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n',
      'POST /token HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
      'GET /\0 HTTP/1.1\r\nHost: x\r\n\r\n', 'POST /token HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc']) {
      await rawRequest(srv.url, Buffer.from(raw, 'latin1'), 3000).catch(() => {});
    }
    await up();
    const tok = await accessToken(srv.url, c);
    assert.equal(typeof tok, 'string');
  });

  testCleanExit(() => [srv]);
});
