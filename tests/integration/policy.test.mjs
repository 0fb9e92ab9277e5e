// The versioned permission policy against the live server: `idpd policy check` with file:line
// errors, apply (CLI, admin API, policy_file + SIGHUP) picked up within a second without a
// restart, tokens carrying exactly the scopes and namespaced claims the policy grants (dropped
// scopes, resources accepting scopes), hot activation under load with no failed request,
// history, diff, rollback, explain, the version in introspection, /metrics and the audit log, and
// a removed role reducing what a user's next refresh carries.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeJwt } from 'jose';
import { cli, cliAsync, createClient, initDataDir, introspect, poll, postForm, sleep, startServer, stopOk,
  testCleanExit } from '../lib/idpd.mjs';
import { createPkey, scimClient } from '../lib/scim.mjs';
import { Agent, authorizeUrl, codeFrom, createCodeClient, pkcePair, provisionUser, signIn } from '../lib/oidc.mjs';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const EXAMPLE = readFileSync(path.join(repo, 'docs', 'policy.example.yaml'), 'utf8');
const NS = 'https://idpd.example/claims/';
const ORDERS = 'https://api.example.com/orders';
const CB = 'http://127.0.0.1:9/cb';
const PW = 'Policy-Pw-55e1a9';

/** The example with a client bound to role(s). */
function doc(clientId, roles, extra = '') {
  return EXAMPLE.replace('"svc-billing": [accountant]', `"svc-billing": [accountant]\n    "${clientId}": [${roles}]`) + extra;
}

describe('permission policy', () => {
  let dir;
  let srv;
  let svc;
  let rs; // introspection caller
  let admin;
  let files;
  const write = (name, text) => { const f = path.join(dir, name); writeFileSync(f, text); return f; };
  const tok = (params = {}) => postForm(srv.url, '/token', svc, { grant_type: 'client_credentials', ...params });
  const metrics = async () => (await fetch(`${srv.url}/metrics`)).text();

  before(async () => {
    dir = initDataDir();
    svc = createClient(dir, { name: 'svc', scope: 'orders:read orders:write reports:read', audiences: [ORDERS] });
    rs = createClient(dir, { name: 'rs', introspect: 'any' });
    srv = await startServer(dir);
    admin = createPkey(dir, { name: 'ops', scopes: 'admin' });
    files = {};
  });
  after(() => stopOk(srv));

  test('policy check: every error as FILE:LINE: message, exit 1; a good file exits 0', () => {
    const bad = write('bad.yaml', 'version: 1\nclaim_namespace: "x_"\nroles:\n  a: {permissions: [nope]}\n  b: {includes: [b]}\nscopes:\n  s: {requires: [nope2]}\n');
    const r = cli(['policy', 'check', bad]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, new RegExp(`${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:4: .*unknown permission nope`));
    assert.match(r.stderr, /:5: .*cycle: b -> b/);
    assert.match(r.stderr, /:7: /);
    const ok = cli(['policy', 'check', write('ok.yaml', EXAMPLE)]);
    assert.equal(ok.status, 0, ok.stderr);
    const j = cli(['policy', 'check', bad, '--json']);
    assert.equal(j.status, 1);
    assert.ok(JSON.parse(j.stdout).errors.some((e) => e.line === 4));
  });

  test('without a policy: the client\'s registered scopes, no custom claims, version 0', async () => {
    const r = await tok({ scope: 'orders:read orders:write' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.scope, 'orders:read orders:write');
    assert.equal(decodeJwt(r.json.access_token)[`${NS}roles`], undefined);
    assert.match(await metrics(), /^idpd_policy_version 0$/m);
    const d = await (await fetch(`${srv.url}/.well-known/openid-configuration`)).json();
    assert.deepEqual(d.scopes_supported, ['openid', 'profile', 'email', 'groups', 'offline_access']);
  });

  test('apply: the next token (within a second) carries exactly what the policy grants', async () => {
    const a = cli(['policy', 'apply', write('v1.yaml', doc(svc.client_id, 'viewer')), '--json'], { dataDir: dir });
    assert.equal(a.status, 0, a.stderr);
    assert.equal(JSON.parse(a.stdout).version, 1);
    const t0 = Date.now();
    assert.ok(await poll(async () => /^idpd_policy_version 1$/m.test(await metrics()), 1500), 'active within a second');
    assert.ok(Date.now() - t0 < 1500);
    const r = await tok({ scope: 'orders:read orders:write reports:read' });
    assert.equal(r.status, 200, r.text);
    // orders:write: not held; reports:read: held? viewer has orders.read only -> dropped too
    assert.equal(r.json.scope, 'orders:read', 'RFC 6749 §3.3: dropped scopes are not granted');
    const claims = decodeJwt(r.json.access_token);
    assert.deepEqual(claims[`${NS}roles`], ['viewer']);
    assert.deepEqual(claims[`${NS}permissions`], ['orders.read']);
    assert.equal(claims.roles, undefined, 'custom claims are namespaced');
    const i = await introspect(srv.url, rs, r.json.access_token);
    assert.equal(i.json.active, true);
    assert.equal(i.json.policy_version, 1);
    assert.match(await metrics(), new RegExp(`idpd_policy_info\\{version="1",sha256="[0-9a-f]{64}"`));
    // discovery advertises exactly the scopes the policy defines (plus the protocol scopes)
    const d = await (await fetch(`${srv.url}/.well-known/openid-configuration`)).json();
    assert.ok(d.scopes_supported.includes('orders:read'));
    assert.ok(d.scopes_supported.includes('openid') && d.scopes_supported.includes('offline_access'));
    assert.ok(!d.scopes_supported.includes('groups'), 'the example policy defines no groups scope');
    const m = await metrics();
    const n = Number(/idpd_http_requests_total\{method="POST",route="\/token",code="2xx"\} (\d+)/.exec(m)?.[1]);
    assert.ok(n >= 2, 'token requests are counted');
    assert.match(m, /idpd_http_requests_total\{method="GET",route="\/metrics",code="2xx"\} \d+/);
  });

  test('a resource gets only the scopes it accepts', async () => {
    const r = await tok({ scope: 'orders:read reports:read', resource: ORDERS });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.scope, 'orders:read');
    assert.equal(decodeJwt(r.json.access_token).aud, ORDERS);
  });

  test('hot activation under load: no failed request while swapping; the next token reflects it', async () => {
    let stop = false;
    let failures = 0;
    let count = 0;
    const worker = async () => {
      while (!stop) {
        const r = await tok({ scope: 'orders:read orders:write' });
        count++;
        if (r.status !== 200) failures++;
      }
    };
    const workers = Array.from({ length: 6 }, worker);
    // requests flow before, during and after the swap: the apply runs asynchronously (a
    // synchronous child would stall the workers), and the workers go on until 20 more requests
    // have been answered after the new version is visible (bounded by count, not by time)
    await poll(async () => count >= 10, 10000, 20);
    const a = await cliAsync(['policy', 'apply', write('v2.yaml', doc(svc.client_id, 'editor')), '--comment', 'svc edits'], { dataDir: dir });
    assert.equal(a.status, 0, a.stderr);
    assert.ok(await poll(async () => /^idpd_policy_version 2$/m.test(await metrics()), 5000));
    const atSwap = count;
    await poll(async () => count >= atSwap + 20, 20000, 20);
    stop = true;
    await Promise.all(workers);
    assert.equal(failures, 0, `${failures} of ${count} requests failed during activation`);
    assert.ok(count >= atSwap + 20 && atSwap >= 10, `${count} requests, ${atSwap} before the swap was visible`);
    const r = await tok({ scope: 'orders:read orders:write' });
    assert.equal(r.json.scope, 'orders:read orders:write');
    assert.deepEqual(decodeJwt(r.json.access_token)[`${NS}roles`], ['editor', 'viewer']);
  });

  test('history, diff and rollback (CLI); every change in the audit log', async () => {
    const h = JSON.parse(cli(['policy', 'history', '--json'], { dataDir: dir }).stdout);
    assert.deepEqual(h.map((v) => v.version), [2, 1]);
    assert.equal(h[0].active, true);
    assert.equal(h[0].comment, 'svc edits');
    const d = cli(['policy', 'diff', '1', '2'], { dataDir: dir });
    assert.equal(d.status, 0, d.stderr);
    assert.match(d.stdout, new RegExp(`- binding client ${svc.client_id} -> viewer`));
    assert.match(d.stdout, new RegExp(`\\+ binding client ${svc.client_id} -> editor`));
    const rb = cli(['policy', 'rollback', '1'], { dataDir: dir });
    assert.equal(rb.status, 0, rb.stderr);
    assert.ok(await poll(async () => /^idpd_policy_version 1$/m.test(await metrics()), 1500));
    const r = await tok({ scope: 'orders:read orders:write' });
    assert.equal(r.json.scope, 'orders:read');
    const audit = JSON.parse(cli(['audit', 'tail', '--json'], { dataDir: dir }).stdout);
    const acts = audit.filter((e) => e.target_type === 'Policy').map((e) => `${e.action} ${e.before_version}->${e.after_version}`);
    assert.deepEqual(acts, ['policy.apply 0->1', 'policy.apply 1->2', 'policy.rollback 2->1']);
  });

  test('explain (CLI): which binding, role and permission grant or deny a scope', () => {
    const g = cli(['policy', 'explain', '--client', svc.client_id, '--scope', 'orders:read', '--resource', ORDERS, '--json'], { dataDir: dir });
    assert.equal(g.status, 0, g.stderr);
    const j = JSON.parse(g.stdout);
    assert.equal(j.granted, true);
    assert.equal(j.policy.version, 1);
    const n = JSON.parse(cli(['policy', 'explain', '--client', svc.client_id, '--scope', 'orders:write', '--json'], { dataDir: dir }).stdout);
    assert.equal(n.granted, false);
    assert.ok(n.requires[0].roles_with_permission.includes('editor'));
    const human = cli(['policy', 'explain', '--client', svc.client_id, '--scope', 'orders:write'], { dataDir: dir });
    assert.match(human.stdout, /DENIED/);
  });

  test('explain (CLI) for a federated subject: --issuer --subject --groups through the claim mapping and bindings.issuers', () => {
    const args = ['policy', 'explain', '--issuer', 'partner', '--subject', '00u1abc', '--groups', 'okta-admins,other', '--scope', 'orders:refund'];
    const g = cli([...args, '--json'], { dataDir: dir });
    assert.equal(g.status, 0, g.stderr);
    const j = JSON.parse(g.stdout);
    assert.equal(j.granted, true);
    assert.equal(j.subject.issuer, 'partner');
    assert.equal(j.subject.upstream_subject, '00u1abc');
    assert.deepEqual(j.subject.upstream_groups, ['okta-admins', 'other']);
    assert.deepEqual(j.subject.issuer_groups, ['admins']); // mapped; "other" dropped (drop_unmapped)
    assert.deepEqual(j.bindings.map((b) => `${b.kind} ${b.issuer} ${b.name} ${b.roles.join(',')}`),
      ['issuer_group partner admins admin', 'issuer_subject partner 00u1abc editor']);
    assert.ok(j.roles.includes('admin'));
    // the subject alone: editor, which lacks orders.refund
    const n = JSON.parse(cli(['policy', 'explain', '--issuer', 'partner', '--subject', '00u1abc', '--scope', 'orders:refund', '--json'], { dataDir: dir }).stdout);
    assert.equal(n.granted, false);
    assert.deepEqual(n.subject.issuer_groups, []);
    const human = cli(args, { dataDir: dir });
    assert.equal(human.status, 0, human.stderr);
    assert.match(human.stdout, /GRANTED for issuer partner subject 00u1abc/);
    assert.match(human.stdout, /upstream groups \[okta-admins other\] map to \[admins\]/);
    // an unknown issuer is an input error like an unknown user; --issuer needs --subject
    const u = cli(['policy', 'explain', '--issuer', 'nope', '--subject', 'x', '--scope', 'orders:read'], { dataDir: dir });
    const uu = cli(['policy', 'explain', '--user', 'nobody@example.com', '--scope', 'orders:read'], { dataDir: dir });
    assert.equal(u.status, uu.status);
    assert.notEqual(u.status, 0);
    assert.match(u.stderr, /no issuer nope/);
    assert.equal(cli(['policy', 'explain', '--issuer', 'partner', '--scope', 'orders:read'], { dataDir: dir }).status, 2);
  });

  test('policy check refuses HS256 (and none) for a federation issuer, with the line', () => {
    const text = EXAMPLE.replace('algorithms: [RS256, ES256]', 'algorithms: [RS256, HS256]');
    assert.notEqual(text, EXAMPLE);
    const line = text.split('\n').findIndex((l) => l.includes('HS256')) + 1;
    const f = write('hs256.yaml', text);
    const r = cli(['policy', 'check', f]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, new RegExp(`:${line}: federation issuer partner: algorithm HS256 is refused`));
    const j = JSON.parse(cli(['policy', 'check', f, '--json']).stdout);
    assert.deepEqual(j.errors.map((e) => e.line), [line]);
    const none = cli(['policy', 'check', write('none.yaml', EXAMPLE.replace('algorithms: [RS256, ES256]', 'algorithms: [none]'))]);
    assert.equal(none.status, 1);
    assert.match(none.stderr, /algorithm none is refused/);
  });

  test('admin API: apply, versions, explain, rollback, clients; a non-admin key is refused', async () => {
    const h = { authorization: `Bearer ${admin.key}` };
    const bad = await fetch(`${srv.url}/admin/v1/policy`, { method: 'POST', headers: { ...h, 'content-type': 'application/yaml' }, body: 'version: 2\n' });
    assert.equal(bad.status, 400);
    const bj = await bad.json();
    assert.equal(bj.error, 'invalid_policy');
    assert.ok(bj.errors.length >= 1 && bj.errors[0].line >= 1);
    const ap = await fetch(`${srv.url}/admin/v1/policy?comment=api`, { method: 'POST', headers: { ...h, 'content-type': 'application/yaml' },
      body: doc(svc.client_id, 'support-lead') });
    assert.equal(ap.status, 201, await ap.clone().text());
    assert.deepEqual(await ap.json(), { version: 3, changed: true });
    assert.ok(await poll(async () => (await (await fetch(`${srv.url}/admin/v1/policy`, { headers: h })).json()).version === 3, 1500));
    const vs = await (await fetch(`${srv.url}/admin/v1/policy/versions`, { headers: h })).json();
    assert.equal(vs.versions[0].version, 3);
    assert.match(vs.versions[0].actor, /^pkey:/);
    const ex = await (await fetch(`${srv.url}/admin/v1/policy/explain?client=${svc.client_id}&scope=orders:refund&resource=${encodeURIComponent(ORDERS)}`, { headers: h })).json();
    assert.equal(ex.granted, true);
    const rb = await fetch(`${srv.url}/admin/v1/policy/rollback`, { method: 'POST', headers: { ...h, 'content-type': 'application/json' }, body: '{"version":1}' });
    assert.equal(rb.status, 200);
    const cl = await (await fetch(`${srv.url}/admin/v1/clients`, { headers: h })).json();
    assert.ok(cl.clients.some((c) => c.client_id === svc.client_id));
    assert.ok(!JSON.stringify(cl).includes(svc.client_secret));
    // create (secret shown once), use it, read it back, delete it
    const jh = { ...h, 'content-type': 'application/json' };
    const badc = await fetch(`${srv.url}/admin/v1/clients`, { method: 'POST', headers: jh,
      body: JSON.stringify({ name: 'x', grant_types: ['authorization_code'] }) });
    assert.equal(badc.status, 400);
    assert.match((await badc.json()).error_description, /redirect-uri/);
    const cr = await fetch(`${srv.url}/admin/v1/clients`, { method: 'POST', headers: jh,
      body: JSON.stringify({ name: 'via api', grant_types: ['client_credentials'], scope: 'orders:read', audiences: [ORDERS] }) });
    assert.equal(cr.status, 201);
    const nc = await cr.json();
    assert.equal(nc.client_secret.length, 43);
    assert.ok(await poll(async () => (await postForm(srv.url, '/token', nc, { grant_type: 'client_credentials' })).status === 200, 1500));
    const one = await (await fetch(`${srv.url}/admin/v1/clients/${nc.client_id}`, { headers: h })).json();
    assert.equal(one.name, 'via api');
    assert.equal(one.client_secret, undefined);
    assert.equal((await fetch(`${srv.url}/admin/v1/clients/${nc.client_id}`, { method: 'DELETE', headers: h })).status, 204);
    assert.equal((await fetch(`${srv.url}/admin/v1/clients/${nc.client_id}`, { headers: h })).status, 404);
    const audit = JSON.parse(cli(['audit', 'tail', '--json'], { dataDir: dir }).stdout);
    assert.ok(audit.some((e) => e.action === 'client.create' && e.actor.startsWith('pkey:')));
    assert.ok(audit.some((e) => e.action === 'client.delete' && e.target_id === nc.client_id));
    const scimKey = createPkey(dir, { name: 'scim-only' });
    const no = await fetch(`${srv.url}/admin/v1/policy`, { headers: { authorization: `Bearer ${scimKey.key}` } });
    assert.equal(no.status, 403);
    const none = await fetch(`${srv.url}/admin/v1/policy`);
    assert.equal(none.status, 401);
    assert.match(none.headers.get('www-authenticate'), /^Bearer/);
  });

  test('users: group bindings grant roles; removing the role from the group reduces the next refresh', async () => {
    const web = createCodeClient(dir, { name: 'Orders UI', scope: 'openid profile offline_access orders:read orders:write',
      redirectUris: [CB], audiences: [ORDERS] });
    await sleep(600); // the server sees the new client
    const { user, scim } = await provisionUser(srv, dir, 'odesk@example.com', PW);
    const g = await scim.post('/Groups', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: 'Order Desk',
      members: [{ value: user.id }] });
    assert.equal(g.status, 201, g.text);
    const agent = new Agent(srv.url);
    const { verifier, challenge } = pkcePair();
    const { final, pages } = await signIn(agent, authorizeUrl(srv.issuer, { client_id: web.client_id, redirect_uri: CB,
      response_type: 'code', scope: 'openid offline_access orders:read orders:write', resource: ORDERS,
      code_challenge: challenge, code_challenge_method: 'S256' }), 'odesk@example.com', PW);
    const consent = pages.at(-1).text;
    assert.match(consent, /Read orders/, 'the consent page words a scope with the policy\'s descriptions');
    assert.match(consent, /Create and change orders/);
    const t = await postForm(srv.url, '/token', web, { grant_type: 'authorization_code', code: codeFrom(final).code,
      redirect_uri: CB, code_verifier: verifier });
    assert.equal(t.status, 200, t.text);
    assert.equal(t.json.scope, 'openid offline_access orders:read orders:write');
    const c1 = decodeJwt(t.json.access_token);
    assert.deepEqual(c1[`${NS}roles`], ['editor', 'viewer']);
    // the policy now binds Order Desk to viewer only
    const v = cli(['policy', 'apply', write('v4.yaml', EXAMPLE.replace('"Order Desk": [editor]', '"Order Desk": [viewer]'))], { dataDir: dir });
    assert.equal(v.status, 0, v.stderr);
    assert.ok(await poll(async () => /^idpd_policy_version 4$/m.test(await metrics()), 1500));
    const r = await postForm(srv.url, '/token', web, { grant_type: 'refresh_token', refresh_token: t.json.refresh_token });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.scope, 'openid offline_access orders:read', 'refresh issues reduced scopes');
    assert.deepEqual(decodeJwt(r.json.access_token)[`${NS}roles`], ['viewer']);
    assert.deepEqual(decodeJwt(r.json.id_token)[`${NS}roles`], ['viewer']);
  });

  test('policy_file + SIGHUP: the server applies a changed file at once', async () => {
    const f = write('live.yaml', doc(svc.client_id, 'viewer'));
    const d2 = initDataDir();
    const s2 = await startServer(d2, { env: { IDPD_POLICY_FILE: f } });
    try {
      const m = async () => (await fetch(`${s2.url}/metrics`)).text();
      assert.match(await m(), /^idpd_policy_version 1$/m, 'applied at start');
      writeFileSync(f, doc(svc.client_id, 'editor'));
      process.kill(s2.pid, 'SIGHUP');
      assert.ok(await poll(async () => /^idpd_policy_version 2$/m.test(await m()), 1000), 'applied on SIGHUP');
      writeFileSync(f, 'version: 1\nbroken: [\n');
      process.kill(s2.pid, 'SIGHUP');
      await sleep(500);
      assert.match(await m(), /^idpd_policy_version 2$/m, 'an invalid file leaves the active version');
      assert.ok(s2.logs().some((l) => /policy_file not applied/.test(l)));
    } finally {
      await stopOk(s2);
    }
  });

  testCleanExit(() => [srv]);
});
