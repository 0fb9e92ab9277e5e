// Helpers of the federation integration tests: a policy trusting a mock upstream
// (tests/lib/upstream.mjs) and reading one sample of a /metrics body.

/** A policy with one federation issuer (name, default 'up') trusting up over loopback http. */
export function fedPolicy(up, { name = 'up', jwksUri, jwks = 'refresh: 2s, min_refresh: 1s, max_refresh: 60s, kid_miss_cooldown: 1s, stale_if_error: 1h, fetch_timeout: 2s', extra = '' } = {}) {
  return `version: 1
claim_namespace: https://idpd.example/claims/
permissions: {p.read: Read}
roles: {viewer: {permissions: [p.read]}}
federation:
  issuers:
    - name: ${name}
      issuer: ${up.issuer}
${jwksUri ? `      jwks_uri: ${jwksUri}\n` : ''}      allow_http_loopback: true
      algorithms: [ES256, RS256]
      audiences: [https://idpd.example]
${extra}      jwks: {${jwks}}
`;
}

/** The value of one sample line of a /metrics body, or undefined. */
export function sample(text, name, labels) {
  const want = `${name}{${Object.entries(labels).map(([k, v]) => `${k}="${v}"`).join(',')}} `;
  const line = text.split('\n').find((l) => l.startsWith(want));
  return line === undefined ? undefined : Number(line.slice(want.length));
}
