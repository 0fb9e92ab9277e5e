#!/usr/bin/env node
// SCIM bulk client for bench/scim_bulk.sh (issue 13): against one running idpd node, over the
// SCIM HTTP API (fetch, keep-alive):
//   1. creates USERS users (POST /scim/v2/Users, CONCURRENCY requests in flight; the body of
//      bench/scim_bench.mjs: userName, externalId, name, one work email, active): users/s;
//   2. SAMPLES lookups `GET /scim/v2/Users?filter=userName eq "<random existing user>"`, one at a
//      time, each checked to find exactly that user: latency p50/p99 (ms, client side).
// A create answered with an error is counted (by status, with the first body of each status on
// stderr) and not retried: users_per_s counts only the users created; more than 1% failed
// creates, any other failure or a wrong lookup result aborts (exit 1). Lookups pick among the
// users created. Progress on stderr; one JSON line on stdout:
// {"users","created","create_errors":{status:n},"create_s","users_per_s","samples","eq_p50_ms",
//  "eq_p99_ms","eq_max_ms"}.
// Usage: node bench/scim_bulk.mjs URL KEY [USERS] [CONCURRENCY] [SAMPLES] [PREFIX]
//   URL: the node's base URL (http://127.0.0.1:PORT); KEY: a provisioning key with scim:write.
const [url, key, usersArg = '100000', concArg = '8', samplesArg = '2000', prefix = 'u'] = process.argv.slice(2);
const users = Number(usersArg);
const conc = Number(concArg);
const samples = Number(samplesArg);
if (!url || !key || ![users, conc, samples].every((n) => Number.isInteger(n) && n > 0)) {
  console.error('usage: node bench/scim_bulk.mjs URL KEY [USERS] [CONCURRENCY] [SAMPLES] [PREFIX]');
  process.exit(2);
}

const base = `${url}/scim/v2`;
const auth = { authorization: `Bearer ${key}` };
const uname = (i) => `${prefix}${String(i).padStart(7, '0')}`;

class HttpError extends Error {
  constructor(status, msg) { super(msg); this.status = status; }
}

async function req(method, p, body) {
  const headers = { ...auth };
  if (body !== undefined) headers['content-type'] = 'application/scim+json';
  const res = await fetch(base + p, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  if (res.status < 200 || res.status >= 300) throw new HttpError(res.status, `${method} ${p}: ${res.status} ${text.slice(0, 300)}`);
  return text ? JSON.parse(text) : null;
}

function pct(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

async function main() {
  let next = 0;
  let done = 0;
  const created = [];
  const errors = {};
  const t0 = process.hrtime.bigint();
  const worker = async () => {
    for (let i = next++; i < users; i = next++) {
      const n = uname(i);
      try {
        await req('POST', '/Users', {
          schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: n, externalId: `ext-${prefix}-${i}`,
          name: { givenName: `Given${i}`, familyName: `Family${i % 997}` },
          emails: [{ value: `${n}@example.com`, type: 'work', primary: true }], active: true,
        });
        created.push(i);
      } catch (e) {
        if (!(e instanceof HttpError)) throw e;
        if (!errors[e.status]) console.error(`  create ${n}: ${e.message}`);
        errors[e.status] = (errors[e.status] || 0) + 1;
        const failed = Object.values(errors).reduce((a, b) => a + b, 0);
        if (failed > users / 100) throw new Error(`more than 1% of the creates failed: ${JSON.stringify(errors)}`);
      }
      if (++done % 10000 === 0) {
        const s = Number(process.hrtime.bigint() - t0) / 1e9;
        console.error(`  ... ${done} users, ${(done / s).toFixed(0)}/s`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(conc, users) }, worker));
  const createS = Number(process.hrtime.bigint() - t0) / 1e9;

  const lat = [];
  for (let k = 0; k < samples; k++) {
    const i = created[Math.floor(Math.random() * created.length)];
    const filter = encodeURIComponent(`userName eq "${uname(i)}"`);
    const t = process.hrtime.bigint();
    const l = await req('GET', `/Users?filter=${filter}`);
    lat.push(Number(process.hrtime.bigint() - t) / 1e6);
    if (l.totalResults !== 1 || l.Resources?.[0]?.userName !== uname(i)) {
      throw new Error(`userName eq "${uname(i)}": totalResults ${l.totalResults}, expected that one user`);
    }
  }
  lat.sort((a, b) => a - b);
  console.log(JSON.stringify({
    users, created: created.length, create_errors: errors, create_s: Number(createS.toFixed(2)),
    users_per_s: Number((created.length / createS).toFixed(1)), samples,
    eq_p50_ms: Number(pct(lat, 50).toFixed(3)), eq_p99_ms: Number(pct(lat, 99).toFixed(3)),
    eq_max_ms: Number(lat[lat.length - 1].toFixed(3)),
  }));
}

main().catch((e) => { console.error(e.stack || String(e)); process.exit(1); });
