/* patch_members — the member set of one PATCH/PUT/POST: ids with their net state, an open
 * addressing hash index for O(1) lookups (10,000 member adds in one request stay linear). */
#include "scim/patch_internal.h"

#include "core/mem.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef enum { PM_NONE, PM_ADD, PM_REMOVE } pm_state;

typedef struct pm_entry {
    char *id;
    pm_state state;
} pm_entry;

struct patch_members {
    bool replace_all;
    bool touched;
    pm_entry *v; /* insertion order */
    size_t n, cap;
    uint32_t *slots; /* index + 1 into v; 0 = empty */
    size_t nslots;   /* power of two, kept > 2n */
};

patch_members *patch_members_new(void)
{
    return xcalloc(1, sizeof(patch_members));
}

static void pm_reset(patch_members *pm)
{
    for (size_t i = 0; i < pm->n; i++) free(pm->v[i].id);
    free(pm->v);
    free(pm->slots);
    pm->v = NULL;
    pm->slots = NULL;
    pm->n = pm->cap = pm->nslots = 0;
}

void patch_members_free(patch_members *pm)
{
    if (!pm) return;
    pm_reset(pm);
    free(pm);
}

static uint64_t pm_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static void pm_rehash(patch_members *pm)
{
    size_t ns = pm->nslots ? pm->nslots * 2 : 64;
    free(pm->slots);
    pm->slots = xcalloc(ns, sizeof *pm->slots);
    pm->nslots = ns;
    for (size_t i = 0; i < pm->n; i++) {
        size_t j = (size_t)pm_hash(pm->v[i].id) & (ns - 1);
        while (pm->slots[j]) j = (j + 1) & (ns - 1);
        pm->slots[j] = (uint32_t)(i + 1);
    }
}

/* Entry for id, created in state PM_NONE when absent. */
static pm_entry *pm_lookup(patch_members *pm, const char *id)
{
    if (2 * (pm->n + 1) >= pm->nslots) pm_rehash(pm);
    size_t j = (size_t)pm_hash(id) & (pm->nslots - 1);
    while (pm->slots[j]) {
        pm_entry *e = &pm->v[pm->slots[j] - 1];
        if (strcmp(e->id, id) == 0) return e;
        j = (j + 1) & (pm->nslots - 1);
    }
    if (pm->n == pm->cap) {
        pm->cap = pm->cap ? pm->cap * 2 : 16;
        pm->v = xrealloc(pm->v, pm->cap * sizeof *pm->v);
    }
    pm->v[pm->n] = (pm_entry){xstrdup(id), PM_NONE};
    pm->slots[j] = (uint32_t)(++pm->n);
    return &pm->v[pm->n - 1];
}

static idp_err pm_check_id(const patch_members *pm, const char *id, idp_error *err)
{
    if (!id[0] || strlen(id) > PATCH_MAX_MEMBER_ID)
        return IDP_FAIL(err, IDP_ERR_SCIM_INVALID_VALUE, "member value must be a user id");
    if (pm->n >= PATCH_MAX_VALUES)
        return IDP_FAIL(err, IDP_ERR_SCIM_INVALID_VALUE, "too many member changes in one request");
    return IDP_OK;
}

static idp_err members_add(patch_members *pm, const char *id, idp_error *err)
{
    idp_err rc = pm_check_id(pm, id, err);
    if (rc) return rc;
    pm->touched = true;
    pm_lookup(pm, id)->state = PM_ADD;
    return IDP_OK;
}

idp_err patch_members_remove(patch_members *pm, const char *id, idp_error *err)
{
    idp_err rc = pm_check_id(pm, id, err);
    if (rc) return rc;
    pm->touched = true;
    /* After a replace-all only the ids added since are members: removing one just drops it. */
    pm_lookup(pm, id)->state = pm->replace_all ? PM_NONE : PM_REMOVE;
    return IDP_OK;
}

void patch_members_replace_all(patch_members *pm)
{
    pm_reset(pm);
    pm->replace_all = true;
    pm->touched = true;
}

/* Member id of one member value as sent: {"value": id, ...} (sub-attribute names in any case;
 * $ref and display are the server's to compute and are ignored) or a bare id string (tolerated,
 * as in Microsoft's validator collection). RFC 7643 §4.2: only User members here. */
static idp_err pm_elem_id(const json_t *elem, const char **id, idp_error *err)
{
    if (json_is_string(elem)) {
        *id = json_string_value(elem);
        return IDP_OK;
    }
    if (!json_is_object(elem))
        return IDP_FAIL(err, IDP_ERR_SCIM_INVALID_VALUE, "a member must be an object with a value");
    const json_t *type = patch_value_get_ci(elem, "type", NULL);
    if (type && !json_is_null(type) &&
        (!json_is_string(type) || strcasecmp(json_string_value(type), "User") != 0))
        return IDP_FAIL(err, IDP_ERR_SCIM_INVALID_VALUE, "only User members are supported");
    *id = json_string_value(patch_value_get_ci(elem, "value", NULL));
    if (!*id) return IDP_FAIL(err, IDP_ERR_SCIM_INVALID_VALUE, "member value must be a string id");
    return IDP_OK;
}

static idp_err pm_values(patch_members *pm, const json_t *values, bool add, idp_error *err)
{
    if (!values || json_is_null(values)) return IDP_OK;
    size_t n = json_is_array(values) ? json_array_size(values) : 1;
    if (n > PATCH_MAX_VALUES)
        return IDP_FAIL(err, IDP_ERR_SCIM_INVALID_VALUE, "too many member changes in one request");
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_is_array(values) ? json_array_get(values, i) : values;
        const char *id = NULL;
        if (json_is_null(e)) continue;
        idp_err rc = pm_elem_id(e, &id, err);
        if (!rc) rc = add ? members_add(pm, id, err) : patch_members_remove(pm, id, err);
        if (rc) return rc;
    }
    return IDP_OK;
}

idp_err patch_members_add_values(patch_members *pm, const json_t *values, idp_error *err)
{
    return pm_values(pm, values, true, err);
}

idp_err patch_members_remove_values(patch_members *pm, const json_t *values, idp_error *err)
{
    return pm_values(pm, values, false, err);
}

void patch_members_emit(const patch_members *pm, scim_delta *out)
{
    if (!pm->touched) return;
    if (pm->replace_all) {
        scim_delta_clear(out);
        out->replace_all = true;
    }
    for (size_t i = 0; i < pm->n; i++) {
        if (pm->v[i].state == PM_ADD) scim_delta_add(out, pm->v[i].id);
        else if (pm->v[i].state == PM_REMOVE) scim_delta_remove(out, pm->v[i].id);
    }
}
