/* policy_admin — the operations on the stored policy shared by `idpd policy`, the admin API and
 * the server (SIGHUP / policy_file): validate and apply a document as a new version, roll back
 * to an earlier version, load the active or a given version, and find a user's groups for
 * evaluation and explain (DESIGN §7). Every change is one store transaction with its audit
 * event ("policy.apply", "policy.rollback"; actor "cli", "pkey:<id>" or "server"). */
#ifndef IDPD_OAUTH_POLICY_ADMIN_H
#define IDPD_OAUTH_POLICY_ADMIN_H

#include "core/err.h"
#include "policy/policy.h"
#include "store/store.h"

#include <stdbool.h>
#include <stdint.h>

/* Validates text (every environment compiles; env selects the one checked for the caller) and,
 * when its SHA-256 differs from the active version's, stores it as a new version and activates
 * it. *unchanged when the active version already has these exact bytes (no new version).
 * Invalid: IDP_ERR_CONFIG with diags filled (diags may be NULL). *version = the active version
 * afterwards. */
idp_err policy_admin_apply(store *st, const char *text, size_t len, const char *env,
                           const char *actor, const char *comment, int64_t *version,
                           bool *unchanged, policy_diags *diags, idp_error *err);
/* Activates stored version (it must still load under env); audited. NOT_FOUND. */
idp_err policy_admin_rollback(store *st, int64_t version, const char *env, const char *actor,
                              idp_error *err);
/* Loads version (0 = the active one) compiled for env, with policy_version set. *out NULL (and
 * IDP_OK) when version is 0 and no policy was ever activated. */
idp_err policy_admin_load(store *st, int64_t version, const char *env, policy **out,
                          idp_error *err);
/* The displayNames of the groups of user_id (owned array of owned strings; free with
 * policy_admin_groups_free). */
idp_err policy_admin_groups(store *st, const char *user_id, char ***groups, size_t *n,
                            idp_error *err);
void policy_admin_groups_free(char **groups, size_t n);

#endif
