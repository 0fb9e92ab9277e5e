#include "oauth/policy_admin.h"

#include "core/mem.h"
#include "core/timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void audit(store *st, const char *actor, const char *action, int64_t before, int64_t after,
                  const char *sha)
{
    char detail[128];
    snprintf(detail, sizeof detail, "{\"sha256\":\"%s\"}", sha ? sha : "");
    store_audit ev = {.time_ms = time_now_ms(), .actor = (char *)actor, .action = (char *)action,
                      .target_type = "Policy", .target_id = NULL, .before_version = before,
                      .after_version = after, .detail = detail};
    char vid[24];
    snprintf(vid, sizeof vid, "%lld", (long long)after);
    ev.target_id = vid;
    st->ops->audit_append(st, &ev, NULL);
}

idp_err policy_admin_apply(store *st, const char *text, size_t len, const char *env,
                           const char *actor, const char *comment, int64_t *version,
                           bool *unchanged, policy_diags *diags, idp_error *err)
{
    policy *p = NULL;
    store_policy cur = {0};
    *unchanged = false;
    *version = 0;
    idp_err rc = policy_load(text, len, env, &p, diags, err);
    if (rc != IDP_OK) return rc;
    if ((rc = store_tx_begin(st, err)) != IDP_OK) goto out;
    int64_t active = 0;
    if ((rc = st->ops->policy_active(st, &active, err)) != IDP_OK) goto rollback;
    if (active > 0) {
        if ((rc = st->ops->policy_get(st, active, &cur, err)) != IDP_OK) goto rollback;
        if (strcmp(cur.sha256, policy_sha256(p)) == 0) {
            *unchanged = true;
            *version = active;
            store_tx_rollback(st);
            goto out;
        }
    }
    char *doc = xstrndup(text, len);
    store_policy row = {.sha256 = (char *)policy_sha256(p), .document = doc,
                        .actor = (char *)actor, .comment = (char *)comment};
    rc = st->ops->policy_insert(st, &row, err);
    free(doc);
    if (rc == IDP_OK) rc = st->ops->policy_activate(st, row.version, time_now(), err);
    if (rc != IDP_OK) goto rollback;
    audit(st, actor, "policy.apply", active, row.version, policy_sha256(p));
    if ((rc = store_tx_commit(st, err)) != IDP_OK) goto rollback;
    *version = row.version;
    goto out;
rollback:
    store_tx_rollback(st);
out:
    store_policy_clear(&cur);
    policy_free(p);
    return rc;
}

idp_err policy_admin_load(store *st, int64_t version, const char *env, policy **out,
                          idp_error *err)
{
    store_policy row = {0};
    *out = NULL;
    idp_err rc = IDP_OK;
    if (version == 0) {
        if ((rc = st->ops->policy_active(st, &version, err)) != IDP_OK) return rc;
        if (version == 0) return IDP_OK;
    }
    if ((rc = st->ops->policy_get(st, version, &row, err)) != IDP_OK) {
        if (rc == IDP_ERR_NOT_FOUND) IDP_FAIL(err, rc, "no policy version %lld", (long long)version);
        return rc;
    }
    policy_diags d = {0};
    rc = policy_load(row.document, strlen(row.document), env, out, &d, err);
    if (rc != IDP_OK)
        IDP_FAIL(err, rc, "policy version %lld does not load%s%s: %s", (long long)version,
                 env ? " in environment " : "", env ? env : "",
                 d.n ? d.items[0].msg : "invalid");
    else
        policy_set_version(*out, version);
    policy_diags_free(&d);
    store_policy_clear(&row);
    return rc;
}

idp_err policy_admin_rollback(store *st, int64_t version, const char *env, const char *actor,
                              idp_error *err)
{
    policy *p = NULL;
    idp_err rc = policy_admin_load(st, version, env, &p, err);
    if (rc != IDP_OK) return rc;
    int64_t active = 0;
    if ((rc = store_tx_begin(st, err)) != IDP_OK) goto out;
    if ((rc = st->ops->policy_active(st, &active, err)) == IDP_OK &&
        (rc = st->ops->policy_activate(st, version, time_now(), err)) == IDP_OK) {
        audit(st, actor, "policy.rollback", active, version, policy_sha256(p));
        rc = store_tx_commit(st, err);
    }
    if (rc != IDP_OK) store_tx_rollback(st);
out:
    policy_free(p);
    return rc;
}

idp_err policy_admin_groups(store *st, const char *user_id, char ***groups, size_t *n,
                            idp_error *err)
{
    store_ref *refs = NULL;
    size_t k = 0;
    *groups = NULL;
    *n = 0;
    idp_err rc = st->ops->user_groups(st, user_id, &refs, &k, err);
    if (rc != IDP_OK) return rc;
    if (k) {
        *groups = xcalloc(k, sizeof **groups);
        for (size_t i = 0; i < k; i++) (*groups)[i] = xstrdup(refs[i].display ? refs[i].display : "");
        *n = k;
    }
    store_ref_list_free(refs, k);
    return IDP_OK;
}

void policy_admin_groups_free(char **groups, size_t n)
{
    for (size_t i = 0; i < n; i++) free(groups[i]);
    free(groups);
}
