// A mock upstream OpenID provider for federation and verifier tests: discovery, a switchable
// JWKS at /keys (rotation, unpublished keys, Cache-Control max-age, failure modes, request
// counts), JWT minting with the current or a named key, and an authorization code flow
// (/authorize, /token with client_secret_basic and PKCE S256). Node >= 20, npm `jose` only.
//
//   const up = await startUpstream({ alg: 'ES256' });
//   up.issuer                     // http://127.0.0.1:PORT (or the issuer option)
//   await up.rotate()             // a new signing key; the old one stays published
//   const jwt = await up.sign({ sub: 'u' }, { typ: 'JWT' })
//   up.failKeys(500) / up.failKeys('hang') / up.failKeys(null)
//   await up.close()              // in an `after` hook
import http from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import { SignJWT, calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';

const b64url = (buf) => Buffer.from(buf).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);

async function makeKey(alg, kid) {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = await exportJWK(publicKey);
  const id = kid ?? (await calculateJwkThumbprint(jwk));
  return { kid: id, alg, privateKey, jwk: { ...jwk, kid: id, alg, use: 'sig' } };
}

function readBody(req, limit = 1 << 20) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let n = 0;
    req.on('data', (c) => {
      n += c.length;
      if (n > limit) reject(new Error('request body too large'));
      else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function sendJson(res, status, obj, headers = {}) {
  const body = JSON.stringify(obj);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(body);
}

/** Parses an RFC 6749 §2.3.1 Basic header into {id, secret} (form-urlencoded parts), or null. */
function basicAuth(h) {
  const m = /^Basic ([A-Za-z0-9+/=]+)$/.exec(h ?? '');
  if (!m) return null;
  const s = Buffer.from(m[1], 'base64').toString('utf8');
  const i = s.indexOf(':');
  if (i < 0) return null;
  try {
    const dec = (x) => decodeURIComponent(x.replace(/\+/g, ' '));
    return { id: dec(s.slice(0, i)), secret: dec(s.slice(i + 1)) };
  } catch {
    return null;
  }
}

/**
 * Starts the mock on 127.0.0.1.
 * @param {object} o
 * @param {'RS256'|'ES256'} [o.alg] the first signing key's alg (default RS256)
 * @param {string|((origin: string) => string)} [o.issuer] default the origin http://127.0.0.1:PORT
 * @param {number} [o.port] 0 (default): any free port
 * @param {string} [o.clientId] the client allowed at /token (default 'idpd')
 * @param {string} [o.clientSecret] its secret (default 'upstream-secret')
 * @param {string[]} [o.redirectUris] when set, /authorize refuses other redirect_uri values
 * @param {boolean} [o.issInRedirect] add iss to the authorization response (RFC 9207)
 */
export async function startUpstream(o = {}) {
  const alg = o.alg ?? 'RS256';
  const state = {
    keys: [], // published, oldest first
    signing: null, // kid of the signing key
    unpublished: await makeKey(alg, 'unpublished-' + b64url(randomBytes(6))),
    maxAge: null, // Cache-Control max-age of /keys, null: no-store
    keysFailure: null, // null | number (status) | 'hang' | 'oversize' | 'garbage' | 'redirect'
    client: { id: o.clientId ?? 'idpd', secret: o.clientSecret ?? 'upstream-secret' },
    approve: true,
    sub: 'upstream-user',
    claims: {}, // extra ID token claims (override the defaults too)
    issInRedirect: !!o.issInRedirect,
    codes: new Map(),
  };
  const requests = [];
  const authorizations = [];
  const tokenRequests = [];
  const hung = new Set();

  const first = await makeKey(alg);
  state.keys.push(first);
  state.signing = first.kid;

  const server = http.createServer((req, res) => {
    handle(req, res).catch((e) => {
      if (!res.headersSent) sendJson(res, 500, { error: 'server_error', error_description: String(e) });
      else res.destroy();
    });
  });
  let up; // the returned object (issuer known after listen)

  async function handle(req, res) {
    const url = new URL(req.url, 'http://127.0.0.1');
    const body = req.method === 'POST' ? await readBody(req) : '';
    const entry = {
      method: req.method,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: { ...req.headers },
      body,
      at: Date.now(),
    };
    requests.push(entry);
    switch (url.pathname) {
      case '/.well-known/openid-configuration':
        return sendJson(res, 200, {
          issuer: up.issuer,
          jwks_uri: up.jwksUri,
          authorization_endpoint: `${up.url}/authorize`,
          token_endpoint: `${up.url}/token`,
          response_types_supported: ['code'],
          subject_types_supported: ['public'],
          grant_types_supported: ['authorization_code'],
          code_challenge_methods_supported: ['S256'],
          token_endpoint_auth_methods_supported: ['client_secret_basic'],
          id_token_signing_alg_values_supported: [...new Set(state.keys.map((k) => k.alg))],
          authorization_response_iss_parameter_supported: state.issInRedirect,
        });
      case '/keys':
        return keys(req, res);
      case '/keys-moved':
        return sendJson(res, 200, { keys: state.keys.map((k) => k.jwk) });
      case '/authorize':
        return authorize(url, res);
      case '/token':
        if (req.method !== 'POST') return sendJson(res, 405, { error: 'invalid_request' });
        return token(req, body, res);
      default:
        return sendJson(res, 404, { error: 'not_found' });
    }
  }

  function keys(req, res) {
    const f = state.keysFailure;
    if (f === 'hang') {
      hung.add(res); // answered never; destroyed by close()
      res.on('close', () => hung.delete(res));
      return;
    }
    if (typeof f === 'number') return sendJson(res, f, { error: 'failure', status: f });
    if (f === 'redirect') {
      res.writeHead(302, { location: `${up.url}/keys-moved`, 'content-length': 0 });
      return res.end();
    }
    if (f === 'garbage') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end('{"keys": [ this is not json');
    }
    if (f === 'oversize') {
      const pad = 'x'.repeat(300 * 1024);
      const doc = JSON.stringify({ keys: state.keys.map((k) => k.jwk), pad });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(doc) });
      return res.end(doc);
    }
    const cc = state.maxAge === null ? 'no-store' : `public, max-age=${state.maxAge}`;
    return sendJson(res, 200, { keys: state.keys.map((k) => k.jwk) }, { 'cache-control': cc });
  }

  function authorize(url, res) {
    const q = Object.fromEntries(url.searchParams);
    authorizations.push(q);
    if (!q.redirect_uri || (o.redirectUris && !o.redirectUris.includes(q.redirect_uri))) {
      return sendJson(res, 400, { error: 'invalid_request', error_description: 'bad redirect_uri' });
    }
    const target = new URL(q.redirect_uri);
    if (!state.approve) {
      target.searchParams.set('error', 'access_denied');
    } else if (q.response_type !== 'code' || q.client_id !== state.client.id) {
      target.searchParams.set('error', q.response_type !== 'code' ? 'unsupported_response_type' : 'unauthorized_client');
    } else {
      const code = b64url(randomBytes(24));
      state.codes.set(code, {
        clientId: q.client_id,
        redirectUri: q.redirect_uri,
        nonce: q.nonce,
        challenge: q.code_challenge,
        method: q.code_challenge_method,
        scope: q.scope,
        sub: state.sub,
        claims: { ...state.claims },
        used: false,
      });
      target.searchParams.set('code', code);
    }
    if (q.state !== undefined) target.searchParams.set('state', q.state);
    if (state.issInRedirect) target.searchParams.set('iss', up.issuer);
    res.writeHead(302, { location: target.href, 'content-length': 0 });
    res.end();
  }

  async function token(req, body, res) {
    const p = Object.fromEntries(new URLSearchParams(body));
    const cred = basicAuth(req.headers.authorization);
    tokenRequests.push({ params: p, client: cred?.id ?? null });
    if (!cred || cred.id !== state.client.id || cred.secret !== state.client.secret) {
      return sendJson(res, 401, { error: 'invalid_client' }, { 'www-authenticate': 'Basic realm="upstream"' });
    }
    if (p.grant_type !== 'authorization_code') return sendJson(res, 400, { error: 'unsupported_grant_type' });
    const c = state.codes.get(p.code ?? '');
    const bad = (d) => sendJson(res, 400, { error: 'invalid_grant', error_description: d });
    if (!c) return bad('unknown code');
    if (c.used) return bad('code already used');
    c.used = true;
    if (c.clientId !== cred.id) return bad('code issued to another client');
    if (c.redirectUri !== p.redirect_uri) return bad('redirect_uri mismatch');
    if (c.challenge !== undefined) {
      if (c.method !== 'S256') return bad('only S256');
      if (!p.code_verifier) return bad('code_verifier missing');
      const calc = b64url(createHash('sha256').update(p.code_verifier, 'ascii').digest());
      if (calc !== c.challenge) return bad('PKCE verification failed');
    } else if (p.code_verifier) {
      return bad('code_verifier without code_challenge');
    }
    const iat = now();
    const claims = {
      iss: up.issuer,
      aud: c.clientId,
      sub: c.sub,
      iat,
      exp: iat + 300,
      ...(c.nonce !== undefined ? { nonce: c.nonce } : {}),
      ...c.claims,
    };
    const idToken = await up.sign(claims, { typ: 'JWT' });
    return sendJson(res, 200, {
      access_token: b64url(randomBytes(24)),
      token_type: 'Bearer',
      expires_in: 3600,
      id_token: idToken,
      ...(c.scope ? { scope: c.scope } : {}),
    });
  }

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = server.address().port;
  const origin = `http://127.0.0.1:${port}`;
  const issuer = typeof o.issuer === 'function' ? o.issuer(origin) : (o.issuer ?? origin);

  const findKey = (kid) => state.keys.find((k) => k.kid === kid);

  up = {
    issuer,
    port,
    url: origin,
    jwksUri: `${origin}/keys`,
    /** Every request received: {method, path, query, headers, body, at}. */
    requests,
    /** The /authorize query parameters, in order. */
    authorizations,
    /** The /token requests: {params, client}. */
    tokenRequests,
    requestCount: (path) => requests.filter((r) => r.path === path).length,
    get keysRequests() {
      return requests.filter((r) => r.path === '/keys').length;
    },
    /** kids published, oldest first; the signing one. */
    kids: () => state.keys.map((k) => k.kid),
    get signingKid() {
      return state.signing;
    },
    get unpublishedKid() {
      return state.unpublished.kid;
    },
    publicJwks: () => ({ keys: state.keys.map((k) => k.jwk) }),
    /** Publishes a new key that does not sign (yet). Returns its kid. */
    async addKey({ alg: a = alg, kid } = {}) {
      const k = await makeKey(a, kid);
      state.keys.push(k);
      return k.kid;
    },
    /** Signs with kid (published) from now on; with no kid, a new key is published and used. */
    async rotate({ alg: a = alg, kid } = {}) {
      if (kid !== undefined && findKey(kid)) {
        state.signing = kid;
        return kid;
      }
      const k = await makeKey(a, kid);
      state.keys.push(k);
      state.signing = k.kid;
      return k.kid;
    },
    /** Unpublishes keys (they can still sign when named, for negative tests). */
    removeKeys(...kids) {
      const gone = state.keys.filter((k) => kids.includes(k.kid));
      state.keys = state.keys.filter((k) => !kids.includes(k.kid));
      state.removed = [...(state.removed ?? []), ...gone];
    },
    /** Cache-Control: max-age on /keys (null: no-store). */
    setMaxAge(s) {
      state.maxAge = s;
    },
    /** /keys failure: null (serve), a status number, 'hang', 'oversize', 'garbage', 'redirect'. */
    failKeys(mode) {
      state.keysFailure = mode;
      if (mode !== 'hang') for (const r of hung) r.destroy();
    },
    setClient(id, secret) {
      state.client = { id, secret };
    },
    /** /authorize behaviour: approve (default) or deny; the sub and extra ID token claims. */
    setAuthorize({ approve, sub, claims, issInRedirect } = {}) {
      if (approve !== undefined) state.approve = approve;
      if (sub !== undefined) state.sub = sub;
      if (claims !== undefined) state.claims = { ...claims };
      if (issInRedirect !== undefined) state.issInRedirect = issInRedirect;
    },
    /**
     * Mints a JWS with exactly these claims. kid: a published (or removed) key's kid; unpublished:
     * sign with a key never published (kid: its own unless given, so a published kid can be
     * forged); alg overrides the header alg (the key's own alg is used to sign); header: extra
     * protected header members (kid/typ/alg in it win).
     */
    async sign(claims, { kid, typ, alg: hAlg, header = {}, unpublished = false } = {}) {
      let key;
      if (unpublished) key = state.unpublished;
      else {
        const want = kid ?? state.signing;
        key = findKey(want) ?? (state.removed ?? []).find((k) => k.kid === want);
        if (!key) throw new Error(`upstream mock: no key ${want}`);
      }
      const protectedHeader = { alg: key.alg, kid: kid ?? key.kid, ...(typ ? { typ } : {}), ...header };
      if (hAlg && hAlg !== key.alg) {
        // A header alg the key does not sign with: build the JWS by hand, signature garbage.
        const enc = (x) => b64url(JSON.stringify(x));
        const sig = hAlg === 'none' ? '' : b64url(randomBytes(64));
        return `${enc({ ...protectedHeader, alg: hAlg })}.${enc(claims)}.${sig}`;
      }
      return new SignJWT(claims).setProtectedHeader(protectedHeader).sign(key.privateKey);
    },
    async close() {
      for (const r of hung) r.destroy();
      server.closeAllConnections?.();
      await new Promise((resolve) => server.close(() => resolve()));
    },
  };
  return up;
}
