// Revocation propagation between two idpd nodes on one PostgreSQL database (issue 13), run by
// bench/pg.sh. Each trial: POST /token on node A (client_credentials), POST /introspect on node
// B (must be active:true), POST /revoke on node A, then POST /introspect on node B every 2 ms
// until active:false. The time is from the revoke's response (the revocation is committed) to
// the first active:false on B. Prints one line: "propagation trials N p50 X p99 Y max Z" (ms).
// Usage: node bench/propagation.mjs URL_A URL_B CLIENT_ID CLIENT_SECRET [TRIALS]
// (node >= 20: global fetch). The client needs --introspect any (or its own tokens suffice).
import { setTimeout as sleep } from 'node:timers/promises';

const [urlA, urlB, id, secret, trialsArg] = process.argv.slice(2);
if (!urlA || !urlB || !id || !secret) {
  console.error('usage: node bench/propagation.mjs URL_A URL_B CLIENT_ID CLIENT_SECRET [TRIALS]');
  process.exit(2);
}
const trials = Number(trialsArg || 200);
const enc = (s) => encodeURIComponent(s).replace(/%20/g, '+');
const auth = 'Basic ' + Buffer.from(`${enc(id)}:${enc(secret)}`).toString('base64');
const LIMIT_MS = 5000; // one trial gives up after this (reported as a failure)

async function post(url, path, params) {
  const r = await fetch(url + path, {
    method: 'POST',
    headers: { authorization: auth, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(params).toString(),
  });
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: r.status, json, text };
}

const times = [];
for (let i = 0; i < trials; i++) {
  const t = await post(urlA, '/token', { grant_type: 'client_credentials' });
  if (t.status !== 200 || !t.json?.access_token) throw new Error(`token on A: ${t.status} ${t.text}`);
  const tok = t.json.access_token;
  const pre = await post(urlB, '/introspect', { token: tok });
  if (pre.status !== 200 || pre.json?.active !== true) throw new Error(`introspect on B before revoke: ${pre.status} ${pre.text}`);
  const rv = await post(urlA, '/revoke', { token: tok });
  if (rv.status !== 200) throw new Error(`revoke on A: ${rv.status} ${rv.text}`);
  const t0 = performance.now();
  for (;;) {
    const r = await post(urlB, '/introspect', { token: tok });
    if (r.status !== 200) throw new Error(`introspect on B: ${r.status} ${r.text}`);
    if (r.json?.active === false) break;
    if (performance.now() - t0 > LIMIT_MS) throw new Error(`trial ${i}: still active on B after ${LIMIT_MS} ms`);
    await sleep(2);
  }
  times.push(performance.now() - t0);
}
times.sort((a, b) => a - b);
const q = (p) => times[Math.min(times.length - 1, Math.ceil(p * times.length) - 1)];
console.log(`propagation trials ${times.length} p50 ${q(0.5).toFixed(1)} p99 ${q(0.99).toFixed(1)} max ${times[times.length - 1].toFixed(1)}`);
