/* policy_routes — the `routes:` section of the policy (docs/POLICY.md "Routes", issue 14): which
 * requests a reverse proxy may let through to the applications behind it, decided by idpd's
 * GET /forward-auth (docs/FORWARD_AUTH.md).
 *
 * A rule: `host` (optional; exact, ASCII-case-insensitive, no port), `path` (a prefix, matched
 * segment by segment: "/api" matches "/api", "/api/" and "/api/x", not "/apix"; "/" matches
 * everything), `methods` (optional list; default every method; GET implies HEAD, as RFC 9110
 * §9.3.2 makes HEAD a GET without the body), and what a token needs: `scopes` (every one),
 * `permissions` (every one; from the token's <ns>permissions claim, see policy_route_has_perm),
 * `audience` (one of the token's aud values). `public: true` instead: no token needed (and then
 * none of scopes/permissions/audience). A rule that is not public needs at least one of them.
 *
 * Matching (policy_route_match): among the rules whose host (when set), path prefix and methods
 * match, the most specific wins: a rule with a host over one without, then the longer path
 * prefix, then a rule that names methods over one that does not; two rules that tie on all three
 * for some request are a duplicate (an error at load). No matching rule: the request is denied.
 *
 * Request paths are normalised before matching (policy_route_path): the query and fragment are
 * cut, percent-encoded unreserved characters decoded (RFC 3986 §6.2.2.2); paths an application
 * could read differently from us are refused rather than guessed at (a dot segment, also encoded;
 * an encoded '/', '\' or NUL; a backslash; "//"; control characters; more than
 * POLICY_ROUTE_MAX_PATH bytes), so a proxy denies them.
 *
 * Pure; every pointer is borrowed from the policy and lives as long as it. */
#ifndef IDPD_POLICY_POLICY_ROUTES_H
#define IDPD_POLICY_POLICY_ROUTES_H

#include "core/buf.h"
#include "core/err.h"
#include "policy/policy.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define POLICY_MAX_ROUTES 256       /* rules in routes: */
#define POLICY_ROUTE_MAX_ITEMS 32   /* scopes, permissions or methods of one rule */
#define POLICY_ROUTE_MAX_HOST 253   /* RFC 1035 §2.3.4 */
#define POLICY_ROUTE_MAX_PATH 2048  /* a rule's path, and a request path after normalisation */
#define POLICY_ROUTE_MAX_AUD 2048

/* Methods as bits (RFC 9110 §9.3 and PATCH, RFC 5789). Any other method matches only rules
 * without `methods`. */
enum {
    ROUTE_M_GET = 1u << 0,
    ROUTE_M_HEAD = 1u << 1,
    ROUTE_M_POST = 1u << 2,
    ROUTE_M_PUT = 1u << 3,
    ROUTE_M_PATCH = 1u << 4,
    ROUTE_M_DELETE = 1u << 5,
    ROUTE_M_OPTIONS = 1u << 6,
    ROUTE_M_CONNECT = 1u << 7,
    ROUTE_M_TRACE = 1u << 8,
    ROUTE_M_OTHER = 1u << 9, /* a method not listed above (request side only) */
    ROUTE_M_ALL = (1u << 10) - 1,
};

typedef struct policy_route {
    const char *host;  /* lowercased; NULL = any host */
    const char *path;  /* starts with '/'; no trailing '/' unless it is "/" */
    size_t pathlen;
    unsigned methods;  /* ROUTE_M_* bits; ROUTE_M_ALL when the rule names none */
    bool any_method;   /* the rule names no methods */
    bool is_public;
    const char *audience; /* NULL: not checked */
    const char *const *scopes;
    size_t nscopes;
    const char *const *permissions;
    size_t nperms;
    int line;
    size_t index; /* 0-based position in routes: */
} policy_route;

/* The rules in document order. policy_route_at: NULL when i is out of range. */
size_t policy_route_count(const policy *p);
const policy_route *policy_route_at(const policy *p, size_t i);

/* The ROUTE_M_* bit of a method name (exact, case-sensitive: RFC 9110 §9.1); ROUTE_M_OTHER for a
 * token we do not list; 0 when m[0..len) is not a method token (empty, too long, not tchar). */
unsigned policy_route_method(const char *m, size_t len);

/* Normalises a request target uri[0..len) (origin-form "/p?q", or absolute-form
 * "http(s)://authority/p?q", whose authority is skipped) into out (NUL-terminated, at most
 * POLICY_ROUTE_MAX_PATH bytes + 1). NULL on success, else a short static reason (never echoing
 * the input) for a path that must be refused (see the file comment). */
const char *policy_route_path(const char *uri, size_t len, char out[POLICY_ROUTE_MAX_PATH + 1]);

/* Normalises a Host value h[0..len) ("name", "name:port", "[v6]:port") into out: lowercased,
 * port dropped. False when it is empty, longer than POLICY_ROUTE_MAX_HOST or holds characters a
 * host cannot (then out is ""). */
bool policy_route_host(const char *h, size_t len, char out[POLICY_ROUTE_MAX_HOST + 1]);

/* The most specific rule for (method bit, normalised host or NULL, normalised path); NULL when
 * none matches (deny). */
const policy_route *policy_route_match(const policy *p, unsigned method, const char *host,
                                       const char *path);

/* Whether a token holds permission perm: it is in the token's <ns>permissions claim (perms, may
 * be NULL) or, when the token has no such claim, granted under this policy by a role in its
 * <ns>roles claim (roles, may be NULL). */
bool policy_route_has_perm(const policy *p, const json_t *perms, const json_t *roles,
                           const char *perm);

/* What a verified access token's claims lack for rule r: NULL when they meet it (always for a
 * public rule), else a short static reason. Scopes: each of the rule's in the space-separated
 * `scope` claim (RFC 9068 §2.2.3); permissions: policy_route_has_perm on the claims
 * <ns>permissions and <ns>roles (ns = the policy's claim_namespace); audience: equal to `aud` or
 * one of its values (RFC 7519 §4.1.3). *what (may be NULL) is set to 's', 'p' or 'a' for the kind
 * that is lacking. */
const char *policy_route_check(const policy *p, const policy_route *r, const json_t *claims,
                               char *what);

/* The rule's scopes, space-separated, into out (for the RFC 6750 §3 `scope` attribute); "" when
 * it names none. */
void policy_route_scopes(const policy_route *r, idp_buf *out);

/* `idpd policy explain --route METHOD URL`: the rule that matches (its line, host, path,
 * methods, what it requires) or why none does; with claims (may be NULL: no token given) also
 * whether they meet it ("lacks"). *out owned (json_decref). IDP_ERR_INVALID for a method or URL
 * that cannot be parsed (err->msg says which). */
idp_err policy_route_explain(const policy *p, const char *method, const char *url,
                             const json_t *claims, json_t **out, idp_error *err);

/* The route lines of the policy diff (docs/POLICY.md "Diff"): "+ route LINE ...", "- route ...",
 * "~ route ... requires: ... -> ..."; rules are matched by (host, path, methods). */
void policy_routes_diff(const policy *a, const policy *b, idp_buf *out);

#endif
