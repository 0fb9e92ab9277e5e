/* Private to src/policy: the YAML tree the loader works on (core/ytree.h), the compiled policy
 * (policy_compile.c), diagnostics helpers and bitsets shared by evaluate, explain and diff. */
#ifndef IDPD_POLICY_INTERNAL_H
#define IDPD_POLICY_INTERNAL_H

#include "core/ytree.h"
#include "policy/policy_fed.h"
#include "policy/policy.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- diagnostics ---------------------------------------------------------------------- */

void diag_add(policy_diags *d, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- bitsets -------------------------------------------------------------------------- */

typedef uint64_t pword;
#define PW_BITS 64
#define PW_WORDS(n) (((n) + PW_BITS - 1) / PW_BITS)
#define ROLE_WORDS_MAX PW_WORDS(POLICY_MAX_ROLES)
#define PERM_WORDS_MAX PW_WORDS(POLICY_MAX_PERMISSIONS)
_Static_assert(POLICY_MAX_ROLES <= POLICY_MAX_PERMISSIONS &&
                   POLICY_MAX_SCOPES <= POLICY_MAX_PERMISSIONS,
               "a PERM_WORDS_MAX bitset can index roles and scopes too");

static inline void bit_set(pword *w, size_t i)
{
    w[i / PW_BITS] |= (pword)1 << (i % PW_BITS);
}
static inline bool bit_get(const pword *w, size_t i)
{
    return (w[i / PW_BITS] >> (i % PW_BITS)) & 1u;
}
static inline void bits_or(pword *dst, const pword *src, size_t words)
{
    for (size_t i = 0; i < words; i++)
        dst[i] |= src[i];
}
size_t bits_count(const pword *w, size_t words);

/* ---- compiled policy ------------------------------------------------------------------ */

typedef struct pol_perm {
    char *name;
    char *desc; /* NULL when none */
    int line;
} pol_perm;

typedef struct pol_role {
    char *name;
    char *desc;
    int line;
    uint32_t *perms; /* direct permissions, indices ascending (= names sorted) */
    size_t nperms;
    uint32_t *incl; /* directly included roles, indices ascending */
    size_t nincl;
    pword *rclos; /* this role and every role it includes, transitively */
    pword *pclos; /* every permission of rclos */
} pol_role;

enum { PB_GROUP, PB_USER, PB_CLIENT, PB_KINDS };

typedef struct pol_bind {
    char *name; /* as written */
    char *key;  /* lookup key: ASCII-lowercased for groups and users, name for clients */
    int line;
    uint32_t *roles; /* bound roles, indices ascending (their closures: roles[i].rclos) */
    size_t nroles;
} pol_bind;

typedef struct pol_scope {
    char *name;
    char *desc;    /* scope's own description, NULL when none */
    char *consent; /* desc, else the required permissions' descriptions joined; may be NULL */
    int line;
    uint32_t *req; /* required permissions, indices ascending */
    size_t nreq;
    pword *rbits; /* the same as a bitset over permissions */
    uint32_t std; /* bit i: std_claim_names[i] released */
    bool rel_roles, rel_perms, rel_groups;
} pol_scope;

typedef struct pol_res {
    char *name;
    int line;
    uint32_t *scopes; /* accepted scopes, indices ascending */
    size_t nscopes;
    pword *sbits;
} pol_res;

/* One federation issuer: the public view and what owns its memory, plus its bindings
 * (bindings.issuers.<name>: groups and subjects, each sorted by name, matched exactly). */
enum { FB_GROUP, FB_SUBJECT, FB_KINDS };

typedef struct pol_fed {
    fed_issuer pub; /* first member: bisect by pub.name */
    void **own;     /* every allocation pub points into */
    size_t nown, capown;
    json_t *require;
    pol_bind *binds[FB_KINDS];
    size_t nbinds[FB_KINDS];
} pol_fed;

struct policy {
    char *ns; /* claim namespace */
    size_t nslen;
    int64_t budget;
    size_t largest; /* bytes of the custom claims of the largest role set */
    pol_perm *perms;
    size_t nperms;
    pol_role *roles;
    size_t nroles;
    pol_bind *binds[PB_KINDS];
    size_t nbinds[PB_KINDS];
    pol_scope *scopes;
    size_t nscopes;
    pol_res *res;
    size_t nres;
    pol_fed *feds; /* sorted by name */
    size_t nfeds;
    struct pol_routes *routes; /* routes: (policy_routes.c); NULL when absent */
    size_t rwords, pwords, swords;
    char *env;
    char sha256[65];
    int64_t version;
};

/* Compiles the document tree root (environments ignored) into a new policy; every error goes
 * to d. Returns NULL when d gained an error. */
policy *policy_compile(const ynode *root, policy_diags *d);

/* federation: (policy_fed.c) into p->feds; every error goes to d. */
void policy_fed_compile(policy *p, const ynode *fed, policy_diags *d);
void policy_fed_free(pol_fed *f);
const pol_fed *policy_fed_find(const policy *p, const char *name);
const pol_bind *policy_fed_find_bind(const pol_fed *f, int kind, const char *name);
extern const char *const policy_fed_bind_kind[FB_KINDS]; /* "group", "subject" */

/* routes: (policy_routes.c) into p->routes, after scopes and permissions; errors go to d. */
typedef struct pol_routes pol_routes;
void policy_routes_compile(policy *p, const ynode *m, policy_diags *d);
void policy_routes_free(pol_routes *r); /* accepts NULL */

/* Shared helpers of the compilers (policy_compile.c). */
bool policy_want(policy_diags *d, const ynode *n, ytype t, const char *what);
void policy_check_keys(policy_diags *d, const ynode *m, const char *what, const char *allowed);
const char *policy_text_invalid(const char *s, size_t max, bool allow_empty);
const char *policy_client_invalid(const char *s);
long policy_bisect(const void *base, size_t n, size_t size, size_t koff, const char *key);

extern const char *const policy_std_claims[]; /* OIDC Core §5.1 standard claims, minus sub */
extern const size_t policy_nstd_claims;
extern const char *const policy_bind_kind[PB_KINDS]; /* "group", "user", "client" */

/* ASCII-lowercased copy (owned). */
char *policy_fold(const char *s);
/* Lookups by bisection; NULL when absent. key is folded for groups and users by the callee. */
const pol_scope *policy_find_scope(const policy *p, const char *name);
const pol_res *policy_find_res(const policy *p, const char *name);
const pol_bind *policy_find_bind(const policy *p, int kind, const char *name);
long policy_find_perm(const policy *p, const char *name); /* index or -1 */
long policy_find_role(const policy *p, const char *name); /* index or -1 */
/* The custom claims JSON for the roles/permissions given as sorted name lists. */
int policy_claims_write(const policy *p, const char *const *roles, size_t nroles,
                        const char *const *perms, size_t nperms, const char *const *groups,
                        size_t ngroups, bool rel_roles, bool rel_perms, bool rel_groups,
                        idp_buf *out);

#endif
