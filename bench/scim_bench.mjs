#!/usr/bin/env node
// SCIM provisioning scale benchmark. Standalone: builds nothing. Starts $IDPD_BIN (default
// build/idpd, use a release build) on 127.0.0.1 with a fresh temporary data dir, then over the
// SCIM HTTP API (keep-alive, --concurrency parallel requests):
//   1. creates --users N users (default 100000) and --groups G groups (default 1000): users/s;
//   2. latency of list queries `userName eq` and `emails co` (--samples each, default 100);
//   3. builds a --members M (default 10000) member group with batched PATCH adds (--batch 500),
//      then measures PATCH adding 1 member and PATCH removing 1 member (with the default full
//      response and with ?excludedAttributes=members).
// Prints a table. Usage: node bench/scim_bench.mjs [--users N] [--groups G] [--members M]
//   [--concurrency C] [--samples S] [--batch B] [--keep]
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bin = process.env.IDPD_BIN || path.join(repo, 'build', 'idpd');

function parseArgs(argv) {
  const o = { users: 100000, groups: 1000, members: 10000, concurrency: 16, samples: 100, batch: 500, keep: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--keep') { o.keep = true; continue; }
    const k = a.replace(/^--/, '');
    if (!(k in o) || i + 1 >= argv.length) { console.error(`usage: see the header of ${argv[1] || 'scim_bench.mjs'}`); process.exit(2); }
    const v = Number(argv[++i]);
    if (!Number.isInteger(v) || v < 0) { console.error(`--${k}: not a non-negative integer`); process.exit(2); }
    o[k] = v;
  }
  o.members = Math.max(0, Math.min(o.members, o.users - 20)); // leave users to add/remove
  return o;
}

const ENV = {
  ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('IDPD_'))),
  IDPD_ALGS: 'ES256', IDPD_SCIM_RATE: '100000', IDPD_SCIM_BURST: '1000000', IDPD_LOG_LEVEL: 'warn',
};

function run(args) {
  const r = spawnSync(bin, args, { encoding: 'utf8', env: ENV });
  if (r.status !== 0) throw new Error(`idpd ${args.join(' ')}: exit ${r.status}\n${r.stderr}`);
  return r.stdout;
}

function startServer(dir) {
  return new Promise((resolve, reject) => {
    const p = spawn(bin, ['serve', '--data-dir', dir, '--listen', '127.0.0.1:0'], { env: ENV, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stderr.on('data', (d) => { err = (err + d).slice(-4000); });
    p.stdout.setEncoding('utf8');
    p.stdout.on('data', (d) => {
      out += d;
      const m = /idpd listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve({ proc: p, url: m[1], errTail: () => err });
    });
    p.on('exit', (code) => reject(new Error(`idpd serve exited ${code}\n${err}`)));
  });
}

function client(base, key) {
  return async (method, p, body) => {
    const headers = { authorization: `Bearer ${key}` };
    if (body !== undefined) headers['content-type'] = 'application/scim+json';
    const res = await fetch(base + p, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    if (res.status >= 300) throw new Error(`${method} ${p}: ${res.status} ${text.slice(0, 300)}`);
    return text ? JSON.parse(text) : null;
  };
}

/** Runs fn(i) for i in [0, n) with `conc` in flight. */
async function pool(n, conc, fn) {
  let next = 0;
  const worker = async () => { for (let i = next++; i < n; i = next++) await fn(i); };
  await Promise.all(Array.from({ length: Math.min(conc, n) }, worker));
}

async function timed(fn) {
  const t = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t) / 1e6;
}

function pct(samples, p) {
  const s = [...samples].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
}

const uname = (i) => `u${String(i).padStart(7, '0')}`;

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const dir = mkdtempSync(path.join(os.tmpdir(), 'idpd-scimbench-'));
  let srv;
  const rows = [];
  const row = (what, value, unit, note = '') => { rows.push({ what, value, unit, note }); console.error(`  ${what}: ${value} ${unit} ${note}`); };
  const lat = (what, ms, note = '') => row(what, `p50 ${ms.p50.toFixed(2)}  p95 ${ms.p95.toFixed(2)}  p99 ${ms.p99.toFixed(2)}`, 'ms', note);
  const stats = (samples) => ({ p50: pct(samples, 50), p95: pct(samples, 95), p99: pct(samples, 99) });
  try {
    run(['init', '--data-dir', dir, '--json']);
    const key = JSON.parse(run(['provisioning-key', 'create', '--name', 'bench', '--scopes', 'scim:read,scim:write', '--json', '--data-dir', dir])).key;
    srv = await startServer(dir);
    const req = client(`${srv.url}/scim/v2`, key);
    console.error(`idpd ${bin} at ${srv.url}; ${o.users} users, ${o.groups} groups, concurrency ${o.concurrency}`);

    const ids = new Array(o.users);
    let t0 = Date.now();
    await pool(o.users, o.concurrency, async (i) => {
      const n = uname(i);
      const u = await req('POST', '/Users', {
        schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: n, externalId: `ext-${i}`,
        name: { givenName: `Given${i}`, familyName: `Family${i % 997}` },
        emails: [{ value: `${n}@example.com`, type: 'work', primary: true }], active: true,
      });
      ids[i] = u.id;
      if ((i + 1) % 10000 === 0) console.error(`  ... ${i + 1} users`);
    });
    let secs = (Date.now() - t0) / 1000;
    row('create users', (o.users / secs).toFixed(0), 'users/s', `(${o.users} in ${secs.toFixed(1)} s)`);

    t0 = Date.now();
    const gids = new Array(o.groups);
    await pool(o.groups, o.concurrency, async (i) => {
      gids[i] = (await req('POST', '/Groups', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: `g${String(i).padStart(5, '0')}` })).id;
    });
    secs = (Date.now() - t0) / 1000;
    row('create groups', (o.groups / secs).toFixed(0), 'groups/s', `(${o.groups} in ${secs.toFixed(1)} s)`);

    const rnd = () => Math.floor(Math.random() * o.users);
    const q = async (filter, expect) => {
      const l = await req('GET', `/Users?filter=${encodeURIComponent(filter)}`);
      if (l.totalResults !== expect) throw new Error(`${filter}: totalResults ${l.totalResults}, expected ${expect}`);
    };
    const eq = [];
    for (let k = 0; k < o.samples; k++) { const i = rnd(); eq.push(await timed(() => q(`userName eq "${uname(i)}"`, 1))); }
    lat('list userName eq (1 hit)', stats(eq));
    const co = [];
    for (let k = 0; k < o.samples; k++) { const i = rnd(); co.push(await timed(() => q(`emails co "${uname(i)}@"`, 1))); }
    lat('list emails co (1 hit)', stats(co));

    const big = (await req('POST', '/Groups', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: 'big' })).id;
    const batches = [];
    for (let b = 0; b < o.members; b += o.batch) {
      const value = ids.slice(b, Math.min(b + o.batch, o.members)).map((id) => ({ value: id }));
      batches.push(await timed(() => req('PATCH', `/Groups/${big}?excludedAttributes=members`, {
        schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'add', path: 'members', value }],
      })));
    }
    lat(`PATCH add ${o.batch} members (batches up to ${o.members})`, stats(batches));
    const g = await req('GET', `/Groups?filter=${encodeURIComponent('displayName eq "big"')}&attributes=displayName`);
    if (g.totalResults !== 1) throw new Error('big group not found');

    const extra = ids.slice(o.members, o.members + o.samples);
    for (const [label, qs] of [['full response', ''], ['excludedAttributes=members', '?excludedAttributes=members']]) {
      const add = [];
      const rem = [];
      for (let k = 0; k < Math.min(20, extra.length); k++) {
        const uid = extra[k];
        try {
          add.push(await timed(() => req('PATCH', `/Groups/${big}${qs}`, { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'add', path: 'members', value: [{ value: uid }] }] })));
          rem.push(await timed(() => req('PATCH', `/Groups/${big}${qs}`, { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'remove', path: `members[value eq "${uid}"]` }] })));
        } catch (e) {
          row(`PATCH +-1 member @${o.members}`, 'error', '', `${label}: ${e.message.slice(0, 120)}`);
          await req('PATCH', `/Groups/${big}?excludedAttributes=members`, { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'remove', path: `members[value eq "${uid}"]` }] });
          break;
        }
      }
      if (add.length) {
        lat(`PATCH +1 member @${o.members}`, stats(add), label);
        lat(`PATCH -1 member @${o.members}`, stats(rem), label);
      }
    }
    const gex = [];
    for (let k = 0; k < 20; k++) gex.push(await timed(() => req('GET', `/Groups/${big}?excludedAttributes=members`)));
    lat('GET big group excludedAttributes=members', stats(gex));
    try {
      const gfull = [];
      for (let k = 0; k < 5; k++) gfull.push(await timed(() => req('GET', `/Groups/${big}`)));
      lat(`GET big group (${o.members} members)`, stats(gfull));
    } catch (e) {
      row(`GET big group (${o.members} members)`, 'error', '', e.message.slice(0, 120));
    }
    void gids;
  } finally {
    if (srv && srv.proc.exitCode === null && srv.proc.signalCode === null) {
      srv.proc.kill('SIGTERM');
      await new Promise((r) => srv.proc.once('exit', r));
    }
    if (!o.keep) rmSync(dir, { recursive: true, force: true });
    else console.error(`data dir kept: ${dir}`);
  }
  const w = Math.max(...rows.map((r) => r.what.length));
  console.log(`\nSCIM bench: ${o.users} users, ${o.groups} groups, concurrency ${o.concurrency}, ${os.cpus().length} CPUs (${bin})`);
  for (const r of rows) console.log(`${r.what.padEnd(w)}  ${String(r.value).padStart(12)} ${r.unit} ${r.note}`);
}

main().catch((e) => { console.error(e.stack || String(e)); process.exit(1); });
