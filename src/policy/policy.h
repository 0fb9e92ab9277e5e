/* policy — the one permission policy of idpd (DESIGN §7, docs/POLICY.md): permissions, roles
 * (sets of permissions that may include other roles), bindings of SCIM groups, users and OAuth
 * clients to roles, scopes (the permissions they require and the claims they release), resources
 * (audiences and the scopes they accept), the namespace of custom claims, and per-environment
 * overlays.
 *
 * Pure logic: no HTTP, no store, no files. policy_load parses and validates a YAML document and
 * compiles it into an immutable `policy`: role closures are bitsets, bindings and scopes are
 * sorted arrays searched by bisection, so policy_evaluate (run on every token request) touches
 * no YAML and makes one allocation.
 *
 * Threading: a loaded policy is immutable and may be read by any number of threads at once
 * (policy_set_version is the one exception and must be called before the policy is shared).
 * Ownership: every pointer a function returns into the policy is borrowed and lives as long as the
 * policy; grants and diagnostics are owned by the caller (policy_grant_clear, policy_diags_free).
 */
#ifndef IDPD_POLICY_POLICY_H
#define IDPD_POLICY_POLICY_H

#include "core/buf.h"
#include "core/err.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Caps on a document (docs/POLICY.md "Limits"). Larger input is refused with a diagnostic. */
#define POLICY_MAX_BYTES (1024u * 1024u) /* whole document -> IDP_ERR_TOO_LARGE */
#define POLICY_MAX_DEPTH 12              /* nesting of mappings and sequences */
#define POLICY_MAX_NODES 100000          /* scalars + mappings + sequences */
#define POLICY_MAX_PERMISSIONS 4096
#define POLICY_MAX_ROLES 1024
#define POLICY_MAX_SCOPES 1024
#define POLICY_MAX_RESOURCES 1024
#define POLICY_MAX_BINDINGS 20000 /* per kind: groups, users, clients */
#define POLICY_MAX_LIST 1024      /* items of one list (a role's permissions, ...) */
#define POLICY_MAX_ENVIRONMENTS 32
#define POLICY_MAX_ISSUERS 32      /* federation.issuers (policy/policy_fed.h) */
#define POLICY_MAX_DIAGS 100       /* diagnostics collected before giving up */
#define POLICY_MAX_REQUEST 4096    /* bytes of a requested scope string (= SCOPE_MAX_LEN) */
#define POLICY_DEFAULT_BUDGET 4096 /* token_size_budget when the document sets none */

typedef struct policy policy; /* immutable compiled policy; safe to share read-only */

/* One validation error: line is 1-based (0 when no line applies, e.g. "unknown environment"). */
typedef struct policy_diag {
    int line;
    char msg[256];
} policy_diag;
typedef struct policy_diags {
    policy_diag *items; /* owned; policy_diags_free */
    size_t n;
} policy_diags;

/* Parses, validates and compiles text[0..len) (docs/POLICY.md). env names the environment
 * overlay to apply, or NULL for the base document. The document is valid only when the base and
 * every environment overlay compile, whichever env is asked for, so `idpd policy check` finds
 * every error once. On success *out is owned (policy_free) and diags stays empty. On failure
 * returns IDP_ERR_CONFIG (IDP_ERR_TOO_LARGE when len > POLICY_MAX_BYTES), *out is NULL, diags
 * holds every error found (at most POLICY_MAX_DIAGS) in document order and err summarises them.
 * diags may be NULL; when not, it must be zeroed or freed before the call (it is reset). */
idp_err policy_load(const char *text, size_t len, const char *env, policy **out,
                    policy_diags *diags, idp_error *err);
void policy_free(policy *p);             /* accepts NULL */
void policy_diags_free(policy_diags *d); /* frees the items, leaves d empty; accepts NULL */
/* Appends one "FILE:LINE: message\n" line per diagnostic ("FILE: message" when line is 0). */
void policy_diags_format(const policy_diags *d, const char *file, idp_buf *out);

/* Identity of the loaded document: SHA-256 of the exact bytes, 64 lowercase hex digits. */
const char *policy_sha256(const policy *p);
/* The environment applied at load, or NULL for the base document. */
const char *policy_environment(const policy *p);
/* The monotonic version the store assigned when the document was activated (0 = none yet).
 * Set it before the policy is shared between threads; explain reports it. */
void policy_set_version(policy *p, int64_t version);
int64_t policy_version(const policy *p);

/* Who a token is issued to. A user (user_name, groups and/or issuer_name set) gets the roles
 * bound to their userName and to each group's displayName; client_id is then ignored, so a
 * client never lends its own roles to a user. With none set, the roles bound to client_id apply
 * (client_credentials). userName and group displayName match ASCII-case-insensitively
 * (RFC 7643 §4.1.1, §8.7.1: caseExact false; the store folds the same way); client_id matches
 * exactly. All pointers borrowed. */
typedef struct policy_subject {
    const char *user_name;
    const char *const *groups; /* SCIM Group displayNames the user is a member of */
    size_t ngroups;
    const char *client_id;
    /* A federated identity (policy/policy_fed.h), or NULL: the subject signed in or presented a
     * token of the issuer named issuer_name, whose subject_claim was upstream_subject and whose
     * claims mapped to issuer_groups (the output of the issuer's `groups` claim rule; kept apart
     * from the local SCIM groups above). The subject then also gets the roles of
     * bindings.issuers.<issuer_name>.groups for each issuer group and of .subjects for
     * upstream_subject (both matched exactly); it is a user, so client_id is ignored. An unknown
     * issuer_name adds no role. */
    const char *issuer_name;
    const char *upstream_subject;
    const char *const *issuer_groups;
    size_t nissuer_groups;
} policy_subject;

/* Why a requested scope was dropped (RFC 6749 §3.3: the server may issue fewer scopes). */
typedef enum policy_drop {
    POLICY_DROP_UNKNOWN = 1,  /* the policy defines no such scope */
    POLICY_DROP_NOT_HELD = 2, /* the subject lacks a permission the scope requires */
    POLICY_DROP_RESOURCE = 3, /* the resource does not accept the scope (or is not declared) */
} policy_drop;

/* The outcome of policy_evaluate. Strings are borrowed from the policy or from the grant's own
 * storage: valid until policy_grant_clear and while the policy lives. */
typedef struct policy_grant {
    const char **scopes; /* granted, in request order, duplicates removed */
    size_t nscopes;
    const char **dropped;            /* requested but not granted, in request order */
    const policy_drop *drop_reasons; /* parallel to dropped */
    size_t ndropped;
    const char **roles; /* effective roles (bound + included), sorted (strcmp) */
    size_t nroles;
    const char **permissions; /* effective permissions, sorted (strcmp) */
    size_t nperms;
    const char **std_claims; /* OIDC standard claims (name, email, ...) the granted scopes
                                release, in OIDC Core §5.1 order */
    size_t nstd;
    const char **groups; /* when release_groups: the subject's groups that bindings.groups names
                            (the names as the policy writes them), sorted (strcmp), unique */
    size_t ngroups;
    bool release_roles;       /* a granted scope releases <ns>roles */
    bool release_permissions; /* a granted scope releases <ns>permissions */
    bool release_groups;      /* a granted scope releases <ns>groups */
    void *mem_;               /* private: the one allocation */
} policy_grant;

/* Evaluates a token request. requested is the space-separated scope parameter (RFC 6749 §3.3;
 * NULL or "" = no scope). Each requested scope is granted when the policy defines it, the subject
 * holds every permission it requires, and — when resource is non-NULL — the resource is declared
 * and accepts it; otherwise it is dropped with a reason. resource NULL: no resource filtering
 * (a token for idpd itself, e.g. userinfo). Malformed scope syntax or more than
 * POLICY_MAX_REQUEST bytes -> IDP_ERR_OAUTH_INVALID_SCOPE. *out must be cleared with
 * policy_grant_clear (also after an error). */
idp_err policy_evaluate(const policy *p, const policy_subject *s, const char *requested,
                        const char *resource, policy_grant *out, idp_error *err);
void policy_grant_clear(policy_grant *g); /* accepts a zeroed or cleared grant */
/* Appends the granted scopes space-separated (the `scope` claim; nothing when none). */
idp_err policy_grant_scope(const policy_grant *g, idp_buf *out, idp_error *err);

/* Appends the namespaced custom claims as JSON object members for a hand-written payload:
 * `,"<ns>roles":[...]` when g->release_roles, then `,"<ns>permissions":[...]` when
 * g->release_permissions, then `,"<ns>groups":[...]` when g->release_groups; nothing when none. Never longer than the document's
 * token_size_budget (checked at load against the largest role set). IDP_ERR_TOO_LARGE when
 * out's cap is hit. */
idp_err policy_claims_json(const policy *p, const policy_grant *g, idp_buf *out, idp_error *err);

/* Why subject s holds or lacks scope for resource (may be NULL): the bindings that match the
 * subject and their roles, each permission the scope requires with the binding -> role ->
 * included role paths that grant it (or the roles that would), whether the resource accepts the
 * scope, the policy version/sha256/environment, and human-readable "reasons". *out is owned
 * (json_decref). Layout in docs/POLICY.md "Explain". */
idp_err policy_explain(const policy *p, const policy_subject *s, const char *scope,
                       const char *resource, json_t **out, idp_error *err);

/* Appends a semantic diff from a to b, one line per change ("+ role editor ...",
 * "- binding group Sales -> viewer", "~ scope orders:read requires: [a] -> [a b]", and
 * "~ access group Sales: +orders.write" for the effective permissions each binding gains or
 * loses). Nothing is appended when the policies are equivalent. Format in docs/POLICY.md. */
idp_err policy_diff(const policy *a, const policy *b, idp_buf *out, idp_error *err);

const char *policy_claim_namespace(const policy *p);
/* Consent text of a scope: its description, else its required permissions' descriptions joined
 * with "; ", else NULL. Borrowed. NULL for an unknown scope. */
const char *policy_scope_description(const policy *p, const char *scope);
bool policy_has_scope(const policy *p, const char *scope);
/* Every scope the policy defines, sorted (for discovery's scopes_supported). Borrowed. */
size_t policy_scope_count(const policy *p);
const char *policy_scope_name(const policy *p, size_t i); /* NULL when i is out of range */

#endif
