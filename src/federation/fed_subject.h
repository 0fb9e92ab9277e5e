/* fed_subject — who a verified upstream token stands for here (issue 12): the issuer's claim
 * mapping (policy_fed_map_claims), then the local user by the issuer's `provision` rule:
 *   jit        the user linked to (iss, subject), created and linked on first sight (a normal
 *              SCIM user, userName "<name>:<subject>");
 *   link_only  only a subject already linked (by JIT earlier, or now by `link_by: externalId`:
 *              the local user whose SCIM externalId equals the subject, which is then linked);
 *   none       no local user: the token's sub is "<name>:<subject>" and only the mapped claims
 *              and the issuer's bindings apply.
 * A local user must be active: deactivating it over SCIM ends federated access on the very next
 * request. Accounts are never linked by email. */
#ifndef IDPD_FEDERATION_FED_SUBJECT_H
#define IDPD_FEDERATION_FED_SUBJECT_H

#include "core/err.h"
#include "federation/fed_verify.h"
#include "policy/policy.h"
#include "store/store.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define FED_SUB_MAX (64 + 1 + FED_SUBJECT_MAX) /* "<name>:<subject>" */

typedef struct fed_subject {
    char sub[FED_SUB_MAX + 1]; /* the issued token's sub: the local user id or "<name>:<subject>" */
    bool local;                /* a local user stands behind it (user is filled) */
    bool created;              /* JIT created that user just now */
    store_user user;           /* owned when local */
    char **groups;             /* the local user's SCIM group displayNames, owned */
    size_t ngroups;
    json_t *mapped;            /* the mapped claims (policy_fed_map_claims), owned */
    const char **issuer_groups; /* the mapped `groups` claim's strings, borrowed from mapped */
    size_t nissuer_groups;
} fed_subject;

/* Resolves v's subject. create false: a dry run (`idpd federation test`): nothing is written, a
 * subject JIT would create is reported with local false and created true. Failures: *why
 * FED_R_NOT_LINKED (link_only without a link) or FED_R_INACTIVE_USER with
 * IDP_ERR_OAUTH_INVALID_GRANT; FED_R_STORE with the store's code (IDP_ERR_STORE,
 * IDP_ERR_UNAVAILABLE: the caller answers 5xx, never a token). */
idp_err fed_subject_resolve(store *st, const fed_verified *v, bool create, fed_subject *out,
                            fed_reason *why, idp_error *err);
/* The policy subject for policy_evaluate (pointers borrowed from s). */
policy_subject fed_subject_policy(const fed_subject *s, const fed_verified *v);
void fed_subject_clear(fed_subject *s); /* safe on a zeroed or cleared struct */

#endif
