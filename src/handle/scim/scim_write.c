/* scim_write — what every SCIM write shares: the list of changed attributes and the audit event
 * (DESIGN §9; never a password value), Argon2id password hashing (RFC 9106; OWASP parameters),
 * and tolerant booleans. */
#include "handle/scim/scim_internal.h"

#include "core/jsonx.h"
#include "core/mem.h"
#include "core/rand.h"
#include "core/timeutil.h"

#include <argon2.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>


static int cmp_str(const void *x, const void *y)
{
    return strcmp(json_string_value(*(json_t *const *)x), json_string_value(*(json_t *const *)y));
}

static void sort_names(json_t *arr)
{
    size_t n = json_array_size(arr);
    if (n < 2) return;
    json_t **v = xcalloc(n, sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = json_incref(json_array_get(arr, i));
    qsort(v, n, sizeof *v, cmp_str);
    json_array_clear(arr);
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, v[i]);
    free(v);
}

json_t *scim_write_changed(const json_t *before, const json_t *after, bool password_set)
{
    json_t *names = json_array();
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)after, k, v)
    {
        const json_t *old = before ? json_object_get(before, k) : NULL;
        if (strcmp(k, "password") != 0 && (!old || !json_equal(old, v)))
            json_array_append_new(names, json_string(k));
    }
    json_object_foreach((json_t *)before, k, v)
    {
        if (strcmp(k, "password") != 0 && !(after && json_object_get(after, k)))
            json_array_append_new(names, json_string(k));
    }
    if (password_set) json_array_append_new(names, json_string("password"));
    sort_names(names);
    return names;
}

idp_err scim_write_audit(store *st, const char *actor, const char *action, const char *target_type,
                   const char *target_id, int64_t before_version, int64_t after_version,
                   json_t *changed, idp_error *err)
{
    json_t *d = json_object();
    if (changed) json_object_set_new(d, "changed", changed);
    char *detail = jsonx_dump(d);
    json_decref(d);
    store_audit ev = {.time_ms = time_now_ms(),
                      .actor = (char *)actor,
                      .action = (char *)action,
                      .target_type = (char *)target_type,
                      .target_id = (char *)target_id,
                      .before_version = before_version,
                      .after_version = after_version,
                      .detail = detail};
    idp_err rc = st->ops->audit_append(st, &ev, err);
    free(detail);
    return rc;
}

idp_err scim_write_password_take(json_t *doc, const password_params *pp, char **hash, idp_error *err)
{
    *hash = NULL;
    json_t *pw = json_object_get(doc, "password");
    if (!pw) return IDP_OK;
    json_incref(pw);
    json_object_del(doc, "password");
    idp_err rc = IDP_OK;
    char *enc = NULL;
    size_t n = json_is_string(pw) ? json_string_length(pw) : 0;
    if (!json_is_string(pw) || n == 0 || n > SCIM_WRITE_PASSWORD_MAX_LEN) {
        rc = IDP_FAIL(err, IDP_ERR_SCIM_INVALID_VALUE, "password must be a string of 1 to %d bytes",
                      SCIM_WRITE_PASSWORD_MAX_LEN);
        goto out;
    }
    if ((rc = password_hash(pp, json_string_value(pw), n, &enc, err)) != IDP_OK) goto out;
    *hash = enc;
    enc = NULL;
out:
    if (json_is_string(pw)) mem_wipe((char *)json_string_value(pw), json_string_length(pw));
    json_decref(pw);
    free(enc);
    return rc;
}

static void wipe_str(json_t *v)
{
    if (json_is_string(v)) mem_wipe((char *)json_string_value(v), json_string_length(v));
}

void scim_write_password_wipe(json_t *v)
{
    const char *k;
    json_t *x;
    size_t i;
    if (json_is_array(v)) {
        json_array_foreach(v, i, x) scim_write_password_wipe(x);
        return;
    }
    const char *path = jsonx_str(v, "path"); /* a PatchOp operation on "password" */
    if (path && strcasecmp(path, "password") == 0) wipe_str(json_object_get(v, "value"));
    json_object_foreach(v, k, x)
    {
        if (strcasecmp(k, "password") == 0)
            wipe_str(x);
        else if (json_is_object(x) || json_is_array(x))
            scim_write_password_wipe(x);
    }
}

bool scim_write_doc_bool(const json_t *doc, const char *name, bool dflt)
{
    const json_t *v = json_object_get(doc, name);
    if (json_is_boolean(v)) return json_is_true(v);
    if (json_is_string(v)) {
        if (strcasecmp(json_string_value(v), "true") == 0) return true;
        if (strcasecmp(json_string_value(v), "false") == 0) return false;
    }
    return dflt;
}
