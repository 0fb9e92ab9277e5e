// Helpers for the end-user sign-in tests: a cookie-keeping user agent that drives idpd's real
// HTML pages with fetch (no JavaScript needed: the pages work without it), a SCIM-provisioned
// user with a password, and code/refresh clients created through the CLI.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { cliOk } from './idpd.mjs';
import { createPkey, scimClient, userBody } from './scim.mjs';

/** RFC 7636 S256 pair. */
export function pkcePair() {
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  return { verifier, challenge };
}

/**
 * `idpd client create` for the code flow; returns the --json output (client_secret unless
 * public/private_key_jwt). opts: name, redirectUris, postLogoutUris, public, scope, grantTypes,
 * authMethod, jwksFile, backchannel, tokenAlg, audiences.
 */
export function createCodeClient(dataDir, opts = {}) {
  const args = ['client', 'create', '--name', opts.name || 'Web App',
    '--grant-types', opts.grantTypes || 'authorization_code,refresh_token',
    '--scope', opts.scope ?? 'openid profile email groups offline_access api:read'];
  for (const u of opts.redirectUris || ['http://127.0.0.1:9/cb']) args.push('--redirect-uri', u);
  for (const u of opts.postLogoutUris || []) args.push('--post-logout-redirect-uri', u);
  for (const a of opts.audiences || []) args.push('--audience', a);
  if (opts.public) args.push('--public');
  if (opts.authMethod) args.push('--auth-method', opts.authMethod);
  if (opts.jwksFile) args.push('--jwks', opts.jwksFile);
  if (opts.backchannel) args.push('--backchannel-logout-uri', opts.backchannel);
  if (opts.tokenAlg) args.push('--token-alg', opts.tokenAlg);
  args.push('--json');
  return cliOk(args, { dataDir }).json;
}

/** Creates a SCIM user with a password through the live server; returns the SCIM resource. */
export async function provisionUser(srv, dataDir, userName, password, extra = {}) {
  const pk = createPkey(dataDir, { name: `pk-${userName}` });
  const c = scimClient(srv.url, pk.key);
  const emails = userName.includes('@') ? { emails: [{ value: userName, type: 'work', primary: true }] } : {};
  const r = await c.post('/Users', userBody(userName, { password, ...emails, ...extra }));
  assert.equal(r.status, 201, r.text);
  return { user: r.json, scim: c };
}

/** The first <form> of an HTML page: its action and every input's name -> value. */
export function parseForm(html) {
  const form = /<form\b[^>]*action="([^"]*)"[^>]*>([\s\S]*?)<\/form>/i.exec(html);
  assert.ok(form, `no form in page: ${html.slice(0, 400)}`);
  const fields = {};
  for (const m of form[2].matchAll(/<input\b[^>]*>/gi)) {
    const name = /name="([^"]*)"/i.exec(m[0]);
    const value = /value="([^"]*)"/i.exec(m[0]);
    if (name) fields[decode(name[1])] = value ? decode(value[1]) : '';
  }
  return { action: decode(form[1]), fields };
}

function decode(s) {
  return s.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&#x27;/g, "'").replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

/** A user agent with a cookie jar (name -> value, one origin) that does not follow redirects. */
export class Agent {
  constructor(base) { this.base = base; this.jar = new Map(); }

  cookieHeader() { return [...this.jar].map(([k, v]) => `${k}=${v}`).join('; '); }

  keep(res) {
    for (const sc of res.headers.getSetCookie()) {
      const [pair, ...attrs] = sc.split(';');
      const i = pair.indexOf('=');
      const name = pair.slice(0, i).trim();
      const value = pair.slice(i + 1).trim();
      if (attrs.some((a) => /^\s*max-age=0\s*$/i.test(a)) || value === '') this.jar.delete(name);
      else this.jar.set(name, value);
    }
  }

  async request(url, { method = 'GET', form, headers = {} } = {}) {
    const u = new URL(url, this.base);
    const h = { ...headers };
    if (this.jar.size) h.cookie = this.cookieHeader();
    let body;
    if (form) {
      body = new URLSearchParams(form).toString();
      h['content-type'] = 'application/x-www-form-urlencoded';
    }
    const res = await fetch(u, { method, headers: h, body, redirect: 'manual' });
    this.keep(res);
    const text = await res.text();
    return { status: res.status, headers: res.headers, text, location: res.headers.get('location') };
  }

  get(url, o) { return this.request(url, o); }

  post(url, form, o = {}) { return this.request(url, { ...o, method: 'POST', form }); }

  /** Submits the page's form with the given field overrides. */
  async submit(page, values) {
    const { action, fields } = parseForm(page.text);
    return this.post(action, { ...fields, ...values });
  }
}

/**
 * Runs the browser part of the code flow: GET authUrl, sign in with username/password when the
 * login page shows, allow (or deny) consent when asked. Returns the final redirect response (a
 * 303 whose location is the client's redirect_uri) and the pages seen.
 */
export async function signIn(agent, authUrl, username, password, { consent = 'allow' } = {}) {
  const pages = [];
  let r = await agent.get(authUrl);
  for (let step = 0; step < 4; step++) {
    if (r.status === 303 || r.status === 302) return { final: r, pages };
    assert.ok(r.status === 200, `unexpected ${r.status}: ${r.text.slice(0, 300)}`);
    pages.push(r);
    const { action } = parseForm(r.text);
    if (action.endsWith('/login')) r = await agent.submit(r, { username, password });
    else if (action.endsWith('/consent')) r = await agent.submit(r, { decision: consent });
    else throw new Error(`unexpected form ${action}`);
  }
  throw new Error('sign-in did not finish');
}

/** The code and state of a redirect to the client. */
export function codeFrom(res) {
  assert.ok(res.location, `no Location (status ${res.status}): ${res.text?.slice(0, 200)}`);
  const u = new URL(res.location);
  return { url: u, code: u.searchParams.get('code'), state: u.searchParams.get('state'),
    error: u.searchParams.get('error'), iss: u.searchParams.get('iss') };
}

/** Builds an /authorize URL. */
export function authorizeUrl(issuer, params) {
  const u = new URL(`${issuer}/authorize`);
  for (const [k, v] of Object.entries(params)) if (v !== undefined) u.searchParams.set(k, v);
  return u.toString();
}
