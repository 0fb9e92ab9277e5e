// Helpers for the integration and interop tests: run the idpd CLI, start/stop servers on
// 127.0.0.1 with their own temporary data directory, speak to the HTTP endpoints.
// Every test file owns its data dirs and servers; nothing here is shared between files.
import { execFile, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The binary under test: $IDPD_BIN (make test: the ASan+UBSan build), else build/idpd. */
export const bin = process.env.IDPD_BIN || path.join(repo, 'build', 'idpd');

/** Sanitizer defaults when the caller did not set any (a leak or UB fails the process). */
const sanitizerEnv = {
  ASAN_OPTIONS: process.env.ASAN_OPTIONS || 'detect_leaks=1:abort_on_error=1',
  UBSAN_OPTIONS: process.env.UBSAN_OPTIONS || 'print_stacktrace=1:halt_on_error=1',
};

/**
 * The store the tests run on. Default: SQLite (DATA_DIR/idpd.db). IDPD_TEST_STORE=pg (with
 * IDPD_TEST_PG_ADMIN_URI naming a running cluster, e.g. one of scripts/pg.sh): initDataDir
 * creates a fresh PostgreSQL database per data dir, and every idpd process this module starts
 * for that data dir (cli, cliAsync, startServer: found by --data-dir or IDPD_DATA_DIR) gets
 * IDPD_STORE=that database's URI. The data dir still holds the master key; removeDir (and the
 * end of the test process) drops the database.
 */
export const storeKind = process.env.IDPD_TEST_STORE === 'pg' ? 'pg' : 'sqlite';
const pgAdminUri = process.env.IDPD_TEST_PG_ADMIN_URI || '';
if (storeKind === 'pg' && !pgAdminUri) {
  throw new Error('IDPD_TEST_STORE=pg needs IDPD_TEST_PG_ADMIN_URI (scripts/pg.sh start DIR writes it to DIR/uri)');
}
/** data dir (resolved) -> {uri, db} of its PostgreSQL database */
const pgStores = new Map();
let pgSeq = 0;

function psqlBin() {
  const base = '/usr/lib/postgresql';
  const vs = existsSync(base) ? readdirSync(base).sort((a, b) => Number(b) - Number(a)) : [];
  for (const v of vs) {
    const p = path.join(base, v, 'bin', 'psql');
    if (existsSync(p)) return p;
  }
  return 'psql';
}

function psql(sql) {
  const r = spawnSync(psqlBin(), ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', pgAdminUri, '-c', sql],
    { encoding: 'utf8', timeout: 60000 });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`psql ${sql}: exit ${r.status}: ${r.stderr}`);
}

/** A fresh database on the admin URI's cluster; returns its URI. */
function pgCreate(dir) {
  const db = `idpd_t_${process.pid}_${++pgSeq}`;
  psql(`CREATE DATABASE ${db}`);
  const u = new URL(pgAdminUri);
  u.pathname = '/' + db;
  const uri = u.toString();
  pgStores.set(path.resolve(dir), { uri, db });
  return uri;
}

function pgDrop(dir) {
  const key = path.resolve(dir);
  const st = pgStores.get(key);
  if (!st) return;
  pgStores.delete(key);
  try {
    psql(`DROP DATABASE IF EXISTS ${st.db} WITH (FORCE)`);
  } catch (e) {
    process.stderr.write(`cannot drop test database ${st.db}: ${e.message}\n`);
  }
}

/** The PostgreSQL URI of a data dir initDataDir put there, or undefined (SQLite). */
export function storeUri(dir) {
  return dir ? pgStores.get(path.resolve(dir))?.uri : undefined;
}

/**
 * The one marker for a data dir that must be SQLite even under IDPD_TEST_STORE=pg (never a
 * skip: the test runs, on SQLite): initDataDir({ ...sqliteOnly('why'), ... }). Used where a
 * test reads or writes DATA_DIR/idpd.db itself.
 */
export function sqliteOnly(reason) {
  if (!reason) throw new Error('sqliteOnly: say why');
  return { sqliteOnly: reason };
}

/**
 * Runs one SQL statement on a data dir's store, whichever it is (sqlite3 on DATA_DIR/idpd.db,
 * psql on its PostgreSQL database) and returns its output trimmed (one row per line, columns
 * separated by |). For statements both dialects read alike (counts, plain UPDATE/DELETE); a
 * test whose SQL is SQLite's own (hex(), X'..' blobs) uses sqliteOnly instead.
 */
export function storeSql(dir, sql) {
  const uri = storeUri(dir);
  const r = uri
    ? spawnSync(psqlBin(), ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-d', uri, '-c', sql],
      { encoding: 'utf8', timeout: 20000 })
    : spawnSync('sqlite3', ['-cmd', '.timeout 5000', path.join(dir, 'idpd.db'), sql],
      { encoding: 'utf8', timeout: 20000 });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${uri ? 'psql' : 'sqlite3'} ${sql}: exit ${r.status}: ${r.stderr}`);
  return r.stdout.trim();
}

/** The data dir an idpd command line works on (--data-dir X, else IDPD_DATA_DIR). */
function dataDirOf(args, env) {
  const i = args.lastIndexOf('--data-dir');
  if (i >= 0 && i + 1 < args.length) return args[i + 1];
  return env?.IDPD_DATA_DIR || undefined;
}

/** Environment for a child: ours, minus IDPD_* overrides that could leak in, plus extra. */
function childEnv(extra = {}, args = []) {
  const env = { ...process.env, ...sanitizerEnv };
  for (const k of Object.keys(env)) if (k.startsWith('IDPD_') && k !== 'IDPD_BIN') delete env[k];
  const uri = storeUri(dataDirOf(args, extra));
  if (uri && !('IDPD_STORE' in extra)) env.IDPD_STORE = uri;
  return { ...env, ...extra };
}

const tmpDirs = new Set();
/** A fresh temporary directory, removed at process exit (or earlier by removeDir). */
export function tempDir(prefix = 'idpd-itest-') {
  const d = mkdtempSync(path.join(os.tmpdir(), prefix));
  tmpDirs.add(d);
  return d;
}
export function removeDir(d) {
  tmpDirs.delete(d);
  pgDrop(d);
  rmSync(d, { recursive: true, force: true });
}
/**
 * Every server a test file starts is killed by PID when the file's process ends, however it
 * ends: normally, after a failed hook (node then never runs the matching `after`), or on the
 * SIGTERM/SIGINT of the runner's per-file timeout. A leftover server would otherwise keep the
 * test process alive and the suite would hang.
 */
const liveProcs = new Set();
function killAll() {
  for (const p of liveProcs) {
    try { process.kill(p.pid, 'SIGKILL'); } catch { /* already gone */ }
  }
  liveProcs.clear();
}
process.on('exit', () => {
  killAll();
  for (const d of [...pgStores.keys()]) pgDrop(d);
  for (const d of tmpDirs) rmSync(d, { recursive: true, force: true });
});
for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP']) {
  process.on(sig, () => {
    process.stderr.write(`test process got ${sig}: stopping ${liveProcs.size} idpd server(s)\n`);
    process.exit(1); // runs the exit handler above
  });
}
/** Tracks a child process so that it is killed by PID when the test process ends. */
export function trackProcess(proc) {
  liveProcs.add(proc);
  proc.on('exit', () => liveProcs.delete(proc));
  return proc;
}

/**
 * Runs `idpd ARGS...` synchronously. dataDir (optional) is appended as --data-dir.
 * Returns {status, signal, stdout, stderr, json} where json is the parsed stdout or undefined.
 */
export function cli(args, { dataDir, env, input, timeout = 60000 } = {}) {
  const full = dataDir ? [...args, '--data-dir', dataDir] : [...args];
  const r = spawnSync(bin, full, { encoding: 'utf8', env: childEnv(env, full), input, timeout });
  if (r.error) throw r.error;
  let json;
  try {
    json = JSON.parse(r.stdout);
  } catch {
    json = undefined;
  }
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr, json };
}

/** Asynchronous cli() (the event loop keeps running: use it while requests are in flight). */
export function cliAsync(args, { dataDir, env, timeout = 60000 } = {}) {
  const full = dataDir ? [...args, '--data-dir', dataDir] : [...args];
  return new Promise((resolve, reject) => {
    execFile(bin, full, { encoding: 'utf8', env: childEnv(env, full), timeout, maxBuffer: 1 << 24 },
      (error, stdout, stderr) => {
        if (error && typeof error.code !== 'number' && !error.signal) {
          reject(error);
          return;
        }
        let json;
        try { json = JSON.parse(stdout); } catch { json = undefined; }
        resolve({ status: error ? error.code ?? null : 0, signal: error?.signal ?? null, stdout, stderr, json });
      });
  });
}

/** Like cli() but throws (with stderr) unless the exit status is 0. */
export function cliOk(args, opts) {
  const r = cli(args, opts);
  if (r.status !== 0) {
    throw new Error(`idpd ${args.join(' ')} exited ${r.status} (${r.signal}): ${r.stderr}`);
  }
  return r;
}

/**
 * Creates a temporary data dir and runs `idpd init` in it. opts.issuer -> --issuer,
 * opts.env -> extra environment (e.g. {IDPD_ALGS: 'ES256'}); ...sqliteOnly(reason): SQLite even
 * under IDPD_TEST_STORE=pg (otherwise a fresh PostgreSQL database then). Returns the directory.
 */
export function initDataDir({ issuer, env, sqliteOnly: sqliteReason } = {}) {
  const dir = tempDir();
  if (storeKind === 'pg' && !sqliteReason) pgCreate(dir);
  const args = ['init', '--json'];
  if (issuer) args.push('--issuer', issuer);
  cliOk(args, { dataDir: dir, env });
  return dir;
}

/**
 * `idpd client create ... --json`; returns the parsed JSON (client_id, client_secret, ...).
 * opts: name, scope (default "api:read api:write"), audiences (array), tokenAlg, ttl, authMethod
 * (client_secret_basic, the default, or client_secret_post: the only method the server accepts),
 * introspect (none, audience or any: whose tokens it may introspect besides its own).
 */
export function createClient(dataDir, opts = {}) {
  const args = ['client', 'create', '--name', opts.name || 'itest',
    '--grant-types', 'client_credentials', '--scope', opts.scope ?? 'api:read api:write'];
  for (const a of opts.audiences || []) args.push('--audience', a);
  if (opts.tokenAlg) args.push('--token-alg', opts.tokenAlg);
  if (opts.ttl) args.push('--token-ttl', String(opts.ttl));
  if (opts.authMethod) args.push('--auth-method', opts.authMethod);
  if (opts.introspect) args.push('--introspect', opts.introspect);
  args.push('--json');
  const r = cliOk(args, { dataDir, env: opts.env });
  if (!r.json || typeof r.json.client_id !== 'string' || typeof r.json.client_secret !== 'string') {
    throw new Error(`client create --json printed no client_id/client_secret: ${r.stdout}`);
  }
  return r.json;
}

/** A free TCP port on 127.0.0.1 (closed again before returning; a small race is accepted). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function spawnServer(dataDir, args, env, timeoutMs) {
  return new Promise((resolve, reject) => {
    const full = ['serve', '--data-dir', dataDir, ...args];
    const proc = trackProcess(spawn(bin, full, {
      env: childEnv(env, full), stdio: ['ignore', 'pipe', 'pipe'],
    }));
    const stderrLines = [];
    const stdoutLines = [];
    let errBuf = '';
    let outBuf = '';
    let done = false;
    const exited = new Promise((res) => proc.on('exit', (code, signal) => res({ code, signal })));
    const fail = (msg) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      reject(new Error(`${msg}\nstderr:\n${stderrLines.join('\n')}${errBuf}`));
    };
    const timer = setTimeout(() => fail(`idpd serve did not report listening within ${timeoutMs} ms`), timeoutMs);
    proc.stderr.setEncoding('utf8');
    proc.stderr.on('data', (chunk) => {
      errBuf += chunk;
      const parts = errBuf.split('\n');
      errBuf = parts.pop();
      stderrLines.push(...parts);
    });
    proc.stdout.setEncoding('utf8');
    proc.stdout.on('data', (chunk) => {
      outBuf += chunk;
      const parts = outBuf.split('\n');
      outBuf = parts.pop();
      for (const line of parts) {
        stdoutLines.push(line);
        const m = /^idpd listening on (http:\/\/\S+)$/.exec(line);
        if (m && !done) {
          done = true;
          clearTimeout(timer);
          resolve({ url: m[1], proc, stderrLines, stdoutLines, exited, errTail: () => errBuf });
        }
      }
    });
    proc.on('error', (e) => fail(`cannot start ${bin}: ${e.message}`));
    exited.then(({ code, signal }) => fail(`idpd serve exited early (code ${code}, signal ${signal})`));
  });
}

/**
 * Starts `idpd serve` on 127.0.0.1. By default the issuer is the server's own URL (a free port
 * is chosen first and passed as --listen and --issuer), because discovery clients require
 * issuer == the URL they fetched. opts.ephemeral: use `--listen 127.0.0.1:0` and keep the
 * data dir's issuer; opts.issuer: this --issuer instead of the server's URL. Resolves {url, issuer, proc, pid, logs(), stdout(), stop()} where stop()
 * sends SIGTERM and resolves with the exit code (SIGKILL after 15 s: resolves null).
 */
export async function startServer(dataDir, { env, args = [], ephemeral = false, issuer, timeoutMs = 20000 } = {}) {
  let lastErr;
  for (let attempt = 0; attempt < 3; attempt++) {
    let listenArgs;
    if (ephemeral) {
      listenArgs = ['--listen', '127.0.0.1:0'];
    } else {
      const port = await freePort();
      listenArgs = ['--listen', `127.0.0.1:${port}`, '--issuer', issuer || `http://127.0.0.1:${port}`];
    }
    let s;
    try {
      s = await spawnServer(dataDir, [...listenArgs, ...args], env, timeoutMs);
    } catch (e) {
      lastErr = e;
      if (ephemeral || !/in use|EADDRINUSE|bind/i.test(e.message)) throw e;
      continue;
    }
    let stopped;
    const stop = () => {
      if (!stopped) {
        stopped = (async () => {
          if (s.proc.exitCode === null && s.proc.signalCode === null) process.kill(s.proc.pid, 'SIGTERM');
          const kill = setTimeout(() => {
            try { process.kill(s.proc.pid, 'SIGKILL'); } catch { /* gone */ }
          }, 15000);
          const { code } = await s.exited;
          clearTimeout(kill);
          return code;
        })();
      }
      return stopped;
    };
    return {
      url: s.url,
      issuer: ephemeral ? undefined : issuer || s.url,
      proc: s.proc,
      pid: s.proc.pid,
      logs: () => [...s.stderrLines, ...(s.errTail() ? [s.errTail()] : [])],
      stdout: () => [...s.stdoutLines],
      stop,
    };
  }
  throw lastErr;
}

/** Stops a server and throws (with its log tail) unless it exited 0: sanitizer reports fail. */
export async function stopOk(server) {
  if (!server) return;
  const code = await server.stop();
  if (code !== 0) {
    throw new Error(`idpd serve exited ${code} after SIGTERM\n${server.logs().slice(-60).join('\n')}`);
  }
}

/**
 * Registers, as the last test of the enclosing describe, a test that stops the server(s) and
 * asserts exit code 0. (A failing `after` hook is not counted in node's "fail" total, so a leak
 * or sanitizer report at shutdown must surface through a test.) getServers: () => [servers].
 */
export function testCleanExit(getServers) {
  test('idpd serve exits 0 on SIGTERM (no leak or sanitizer report)', async () => {
    for (const s of getServers()) await stopOk(s);
  });
}

/** RFC 6749 §2.3.1: client_id and secret are form-urlencoded before HTTP Basic encoding. */
export function formEncode(s) {
  return new URLSearchParams({ x: s }).toString().slice(2);
}
export function basic(id, secret) {
  return 'Basic ' + Buffer.from(`${formEncode(id)}:${formEncode(secret)}`, 'utf8').toString('base64');
}

/** Parses a response body: {status, headers, text, json}. */
export async function readResponse(res) {
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

/**
 * POSTs a form to url+endpoint. creds: {client_id, client_secret} authenticated per creds.method
 * ('basic' default, 'post', or 'none'); params: object (array values repeat) or URLSearchParams.
 */
export async function postForm(url, endpoint, creds, params = {}, extraHeaders = {}) {
  const body = params instanceof URLSearchParams ? new URLSearchParams(params) : new URLSearchParams();
  if (!(params instanceof URLSearchParams)) {
    for (const [k, v] of Object.entries(params)) {
      for (const one of Array.isArray(v) ? v : [v]) body.append(k, one);
    }
  }
  const headers = { 'content-type': 'application/x-www-form-urlencoded', ...extraHeaders };
  const method = creds?.method || 'basic';
  if (creds && method === 'basic') headers.authorization = basic(creds.client_id, creds.client_secret);
  if (creds && method === 'post') {
    body.append('client_id', creds.client_id);
    body.append('client_secret', creds.client_secret);
  }
  const res = await fetch(url + endpoint, { method: 'POST', headers, body: body.toString() });
  return readResponse(res);
}

/** POST /token with grant_type=client_credentials (unless params says otherwise). */
export function token(url, creds, params = {}) {
  return postForm(url, '/token', creds, { grant_type: 'client_credentials', ...params });
}

/** Like token() but asserts success and returns the access token string. */
export async function accessToken(url, creds, params = {}) {
  const r = await token(url, creds, params);
  if (r.status !== 200 || !r.json || typeof r.json.access_token !== 'string') {
    throw new Error(`token request failed: ${r.status} ${r.text}`);
  }
  return r.json.access_token;
}

export function introspect(url, creds, tok, params = {}) {
  return postForm(url, '/introspect', creds, { token: tok, ...params });
}
export function revoke(url, creds, tok, params = {}) {
  return postForm(url, '/revoke', creds, { token: tok, ...params });
}

export async function getJson(url) {
  return readResponse(await fetch(url));
}

/** Polls fn() every 100 ms until it returns a truthy value or timeoutMs passes; returns it. */
export async function poll(fn, timeoutMs = 2000, intervalMs = 100) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v || Date.now() >= end) return v;
    await sleep(intervalMs);
  }
}
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Sends raw bytes to host:port (one request, connection closed by us after it) and parses the
 * HTTP/1.1 response: {status, headers (lower-case names), body (string), json}. Used for inputs
 * fetch refuses to send (NUL bytes, invalid encodings, huge headers).
 */
export function rawRequest(baseUrl, bytes, timeoutMs = 10000) {
  const u = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const sock = net.connect(Number(u.port), u.hostname);
    const chunks = [];
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error('raw request timed out'));
    }, timeoutMs);
    sock.on('connect', () => sock.end(bytes));
    sock.on('data', (c) => chunks.push(c));
    sock.on('error', () => { /* reset after a response is fine; parsed on close */ });
    sock.on('close', () => {
      clearTimeout(timer);
      const all = Buffer.concat(chunks);
      const sep = all.indexOf('\r\n\r\n');
      if (sep < 0) {
        resolve({ status: 0, headers: {}, body: all.toString('latin1'), json: undefined });
        return;
      }
      const head = all.subarray(0, sep).toString('latin1').split('\r\n');
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head[0])?.[1] || 0);
      const headers = {};
      for (const h of head.slice(1)) {
        const i = h.indexOf(':');
        if (i > 0) headers[h.slice(0, i).trim().toLowerCase()] = h.slice(i + 1).trim();
      }
      let body = all.subarray(sep + 4);
      if (/chunked/i.test(headers['transfer-encoding'] || '')) body = dechunk(body);
      else if (headers['content-length']) body = body.subarray(0, Number(headers['content-length']));
      const text = body.toString('utf8');
      let json;
      try { json = JSON.parse(text); } catch { json = undefined; }
      resolve({ status, headers, body: text, json });
    });
  });
}

function dechunk(buf) {
  const out = [];
  let i = 0;
  while (i < buf.length) {
    const eol = buf.indexOf('\r\n', i);
    if (eol < 0) break;
    const n = parseInt(buf.subarray(i, eol).toString('latin1'), 16);
    if (!n) break;
    out.push(buf.subarray(eol + 2, eol + 2 + n));
    i = eol + 2 + n + 2;
  }
  return Buffer.concat(out);
}

/** Builds a raw HTTP/1.1 POST (Buffer) with the given body bytes and headers. */
export function rawPost(baseUrl, pathName, body, headers = {}) {
  const u = new URL(baseUrl);
  const b = Buffer.isBuffer(body) ? body : Buffer.from(body, 'latin1');
  const lines = [`POST ${pathName} HTTP/1.1`, `Host: ${u.host}`, 'Connection: close',
    `Content-Length: ${b.length}`];
  const h = { 'Content-Type': 'application/x-www-form-urlencoded', ...headers };
  for (const [k, v] of Object.entries(h)) lines.push(`${k}: ${v}`);
  return Buffer.concat([Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1'), b]);
}
