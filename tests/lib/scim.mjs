// Helpers for the SCIM 2.0 integration tests (RFC 7643 / RFC 7644): provisioning keys via the
// CLI, a small SCIM client over fetch, and assertions for the SCIM error and list shapes.
// Every test file owns its server and data dir (see tests/lib/idpd.mjs); nothing is shared.
import assert from 'node:assert/strict';
import { cli, cliAsync, cliOk, initDataDir, startServer } from './idpd.mjs';

export const URN = {
  USER: 'urn:ietf:params:scim:schemas:core:2.0:User',
  GROUP: 'urn:ietf:params:scim:schemas:core:2.0:Group',
  ENTERPRISE: 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User',
  LIST: 'urn:ietf:params:scim:api:messages:2.0:ListResponse',
  PATCH: 'urn:ietf:params:scim:api:messages:2.0:PatchOp',
  ERROR: 'urn:ietf:params:scim:api:messages:2.0:Error',
  SPC: 'urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig',
  SCHEMA: 'urn:ietf:params:scim:schemas:core:2.0:Schema',
  RESOURCE_TYPE: 'urn:ietf:params:scim:schemas:core:2.0:ResourceType',
};

/** The SCIM auth failure body and header: identical whatever was wrong (contract "Auth"). */
export const AUTH_FAILED_BODY = { schemas: [URN.ERROR], status: '401', detail: 'authentication required' };
export const WWW_AUTHENTICATE = 'Bearer realm="idpd-scim"';

/** ES256 only: skips RSA key generation (slow under ASan). */
export const ALGS = { IDPD_ALGS: 'ES256' };

/**
 * `idpd provisioning-key create --name N --scopes S [--expires E] --json`; returns the parsed
 * JSON {id, key, scopes, expires_at} after checking the key format (idpd_pk_<22>.<43>).
 */
export function createPkey(dataDir, { name = 'itest', scopes = 'scim:read,scim:write', expires, env } = {}) {
  const args = ['provisioning-key', 'create', '--name', name, '--scopes', scopes];
  if (expires) args.push('--expires', expires);
  args.push('--json');
  const r = cliOk(args, { dataDir, env });
  assert.ok(r.json, `provisioning-key create --json printed no JSON: ${r.stdout}`);
  assert.match(r.json.key, /^idpd_pk_[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}$/);
  assert.equal(r.json.key.slice(8, 30), r.json.id);
  return r.json;
}

/** Runs a provisioning-key / audit subcommand without blocking the event loop. */
export function pkeyAsync(args, dataDir, env) {
  return cliAsync(['provisioning-key', ...args], { dataDir, env });
}

/** `idpd audit tail -n N --json` -> array of events (oldest first). */
export function auditTail(dataDir, n = 1000, env) {
  const r = cli(['audit', 'tail', '-n', String(n), '--json'], { dataDir, env });
  assert.equal(r.status, 0, `audit tail exited ${r.status}: ${r.stderr}`);
  assert.ok(Array.isArray(r.json), `audit tail --json printed no array: ${r.stdout.slice(0, 300)}`);
  return { events: r.json, stdout: r.stdout, stderr: r.stderr };
}

/**
 * A SCIM client for base `${serverUrl}/scim/v2` authenticating with key (null: no header).
 * req(method, path, {body, raw, headers, contentType}) -> {status, headers, text, json}; body is
 * JSON-encoded, raw is sent as is.
 */
export function scimClient(serverUrl, key) {
  const base = `${serverUrl}/scim/v2`;
  async function req(method, path, { body, raw, headers = {}, contentType = 'application/scim+json' } = {}) {
    const h = { accept: 'application/scim+json', ...headers };
    if (key) h.authorization = `Bearer ${key}`;
    let payload;
    if (raw !== undefined) payload = raw;
    else if (body !== undefined) payload = JSON.stringify(body);
    if (payload !== undefined && contentType) h['content-type'] = contentType;
    const res = await fetch(base + path, { method, headers: h, body: payload });
    const text = await res.text();
    let json;
    try { json = JSON.parse(text); } catch { json = undefined; }
    return { status: res.status, headers: res.headers, text, json };
  }
  return {
    base,
    key,
    req,
    get: (p, o) => req('GET', p, o),
    post: (p, body, o = {}) => req('POST', p, { ...o, body }),
    put: (p, body, o = {}) => req('PUT', p, { ...o, body }),
    patch: (p, ops, o = {}) => req('PATCH', p, { ...o, body: { schemas: [URN.PATCH], Operations: ops } }),
    del: (p, o) => req('DELETE', p, o),
    /** GET /Users?filter=... (and other query params): returns the response. */
    list: (resource, params = {}) => {
      const q = new URLSearchParams(params).toString();
      return req('GET', `/${resource}${q ? '?' + q : ''}`);
    },
  };
}

/** Asserts a response is the SCIM error for status (and scimType, when given). */
export function assertScimError(r, status, scimType) {
  assert.equal(r.status, status, `expected ${status}, got ${r.status}: ${r.text}`);
  assert.match(r.headers.get('content-type') || '', /^application\/scim\+json/i, 'SCIM error content type');
  assert.ok(r.json, `error body is not JSON: ${r.text}`);
  assert.deepEqual(r.json.schemas, [URN.ERROR]);
  assert.equal(r.json.status, String(status), 'status is a string (RFC 7644 §3.12)');
  assert.equal(typeof r.json.detail, 'string');
  if (scimType !== undefined) assert.equal(r.json.scimType, scimType, r.text);
}

/** Asserts a successful single-resource response: status, content type, ETag = meta.version. */
export function assertResource(r, status, resourceType) {
  assert.equal(r.status, status, `expected ${status}, got ${r.status}: ${r.text}`);
  assert.match(r.headers.get('content-type') || '', /^application\/scim\+json/i);
  assert.ok(r.json && typeof r.json.id === 'string' && r.json.id.length > 0, r.text);
  assert.equal(r.json.meta?.resourceType, resourceType);
  assert.match(r.json.meta.version, /^W\/".+"$/);
  assert.equal(r.headers.get('etag'), r.json.meta.version, 'ETag header = meta.version');
  return r.json;
}

/** Asserts a ListResponse and returns it. */
export function assertList(r) {
  assert.equal(r.status, 200, r.text);
  assert.match(r.headers.get('content-type') || '', /^application\/scim\+json/i);
  assert.deepEqual(r.json.schemas, [URN.LIST]);
  assert.equal(typeof r.json.totalResults, 'number');
  assert.equal(typeof r.json.startIndex, 'number');
  assert.equal(typeof r.json.itemsPerPage, 'number');
  assert.ok(Array.isArray(r.json.Resources) || r.json.totalResults === 0, 'Resources array');
  const resources = r.json.Resources || [];
  assert.equal(r.json.itemsPerPage, resources.length);
  return { ...r.json, Resources: resources };
}

/** A minimal RFC 7643 §4.1 user. */
export function userBody(userName, extra = {}) {
  return {
    schemas: [URN.USER],
    userName,
    name: { givenName: 'Given', familyName: 'Family' },
    emails: [{ value: `${userName.toLowerCase()}@example.com`, type: 'work', primary: true }],
    active: true,
    ...extra,
  };
}

/** The rate limit is lifted for functional tests (a fast sequential client exceeds 50/s). */
export const NO_RATE_LIMIT = { IDPD_SCIM_RATE: '100000', IDPD_SCIM_BURST: '1000000' };

/**
 * Creates a data dir (ES256), a provisioning key with scopes, and starts the server with
 * NO_RATE_LIMIT overridden by env. Returns {dir, srv, pkey, c (SCIM client with that key)}.
 */
export async function startScim({ env = {}, scopes = 'scim:read,scim:write' } = {}) {
  const dir = initDataDir({ env: ALGS });
  const pkey = createPkey(dir, { scopes });
  const srv = await startServer(dir, { env: { ...ALGS, ...NO_RATE_LIMIT, ...env } });
  return { dir, srv, pkey, c: scimClient(srv.url, pkey.key) };
}
