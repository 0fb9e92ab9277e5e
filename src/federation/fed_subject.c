/* fed_subject — mapping, then the local user by `provision` (see fed_subject.h). */
#include "federation/fed_subject.h"

#include "core/jsonx.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "policy/policy_fed.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FED_GROUPS_MAX 256 /* = FED_MAP_MAX_ITEMS: the mapping keeps no more */

/* The SCIM User document JIT creates from the mapped claims (RFC 7643 §4.1): emails from
 * `email`, displayName and name.formatted from `name`. The rest of the mapping goes into the
 * tokens, not into the user. */
static char *jit_doc(const json_t *mapped)
{
    json_t *d = json_object();
    const char *email = jsonx_str(mapped, "email");
    const char *name = jsonx_str(mapped, "name");
    if (email)
        json_object_set_new(d, "emails", json_pack("[{s:s, s:b}]", "value", email, "primary", 1));
    if (name) {
        json_object_set_new(d, "displayName", json_string(name));
        json_object_set_new(d, "name", json_pack("{s:s}", "formatted", name));
    }
    char *s = jsonx_dump(d);
    json_decref(d);
    return s;
}

/* The mapped `groups` claim as borrowed strings (a string counts as a one-item list). */
static void issuer_groups(fed_subject *s)
{
    json_t *g = json_object_get(s->mapped, "groups");
    size_t n = json_is_array(g) ? json_array_size(g) : json_is_string(g) ? 1 : 0;
    if (n > FED_GROUPS_MAX) n = FED_GROUPS_MAX;
    if (!n) return;
    s->issuer_groups = xcalloc(n, sizeof *s->issuer_groups);
    if (json_is_string(g)) {
        s->issuer_groups[s->nissuer_groups++] = json_string_value(g);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const char *v = json_string_value(json_array_get(g, i));
        if (v) s->issuer_groups[s->nissuer_groups++] = v;
    }
}

/* Loads the local user and its groups; an inactive user is refused. */
static idp_err load_local(store *st, const char *user_id, fed_subject *s, fed_reason *why,
                          idp_error *err)
{
    idp_err rc = st->ops->user_get(st, user_id, &s->user, err);
    if (rc == IDP_ERR_NOT_FOUND) {
        /* deleted between the link lookup and now: as good as never linked */
        *why = FED_R_NOT_LINKED;
        return IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_GRANT, "the linked local user no longer exists");
    }
    if (rc != IDP_OK) {
        *why = FED_R_STORE;
        return rc;
    }
    s->local = true;
    if (!s->user.active) {
        *why = FED_R_INACTIVE_USER;
        return IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_GRANT, "the local user is not active");
    }
    store_ref *refs = NULL;
    size_t n = 0;
    if ((rc = st->ops->user_groups(st, user_id, &refs, &n, err)) != IDP_OK) {
        *why = FED_R_STORE;
        return rc;
    }
    s->groups = n ? xcalloc(n, sizeof *s->groups) : NULL;
    for (size_t i = 0; i < n; i++) s->groups[s->ngroups++] = xstrdup(refs[i].display ? refs[i].display : "");
    store_ref_list_free(refs, n);
    snprintf(s->sub, sizeof s->sub, "%s", s->user.id);
    return IDP_OK;
}

/* link_only: the linked user, else (link_by externalId) the user whose externalId is the
 * subject, linked now. */
static idp_err link_only(store *st, const fed_verified *v, bool create, char **user_id,
                         fed_reason *why, idp_error *err)
{
    const fed_issuer *is = v->is;
    idp_err rc = st->ops->fed_link_get(st, is->issuer, v->subject, user_id, err);
    if (rc != IDP_ERR_NOT_FOUND) {
        if (rc != IDP_OK) *why = FED_R_STORE;
        return rc;
    }
    if (!is->link_by_external_id) {
        *why = FED_R_NOT_LINKED;
        return IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_GRANT, "the upstream subject is not linked to a local user");
    }
    store_user u = {0};
    rc = st->ops->user_get_by_external_id(st, v->subject, &u, err);
    if (rc == IDP_ERR_NOT_FOUND || rc == IDP_ERR_CONFLICT) {
        *why = FED_R_NOT_LINKED;
        return IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_GRANT,
                        rc == IDP_ERR_CONFLICT ? "more than one local user has this externalId"
                                               : "no local user has this externalId");
    }
    if (rc != IDP_OK) {
        *why = FED_R_STORE;
        return rc;
    }
    if (create && (rc = st->ops->fed_link_add(st, is->issuer, v->subject, u.id, time_now(), err)) != IDP_OK) {
        store_user_clear(&u);
        *why = FED_R_STORE;
        return rc;
    }
    *user_id = xstrdup(u.id);
    store_user_clear(&u);
    return IDP_OK;
}

/* JIT in one transaction with its audit event ("user.provision", actor "federation:<name>"):
 * a user is never created without its record in the hash chain (DESIGN §9). */
static idp_err jit(store *st, const fed_issuer *is, const char *subject, const char *name,
                   const char *doc, char **user_id, bool *created, idp_error *err)
{
    idp_err rc = st->ops->tx_begin(st, err);
    if (rc != IDP_OK) return rc;
    rc = st->ops->fed_provision(st, is->issuer, subject, name, doc, time_now(), user_id, created, err);
    if (rc == IDP_OK && *created) {
        char actor[80], detail[128];
        snprintf(actor, sizeof actor, "federation:%s", is->name);
        snprintf(detail, sizeof detail, "{\"issuer\":\"%s\"}", is->name); /* [a-z0-9-]: no escaping */
        store_audit ev = {.time_ms = time_now_ms(), .actor = actor, .action = "user.provision",
                          .target_type = "User", .target_id = *user_id, .after_version = 1,
                          .detail = detail};
        rc = st->ops->audit_append(st, &ev, err);
    }
    if (rc == IDP_OK) rc = st->ops->tx_commit(st, err);
    if (rc != IDP_OK) {
        st->ops->tx_rollback(st);
        free(*user_id);
        *user_id = NULL;
        *created = false;
    }
    return rc;
}

idp_err fed_subject_resolve(store *st, const fed_verified *v, bool create, fed_subject *out,
                            fed_reason *why, idp_error *err)
{
    memset(out, 0, sizeof *out);
    *why = FED_ACCEPTED;
    const fed_issuer *is = v->is;
    idp_err rc = policy_fed_map_claims(is, v->claims, &out->mapped, err);
    if (rc != IDP_OK) {
        *why = FED_R_POLICY;
        return rc;
    }
    issuer_groups(out);
    char *user_id = NULL;
    switch (is->provision) {
    case FED_PROVISION_NONE:
        snprintf(out->sub, sizeof out->sub, "%s:%s", is->name, v->subject);
        return IDP_OK;
    case FED_PROVISION_LINK_ONLY:
        rc = link_only(st, v, create, &user_id, why, err);
        break;
    case FED_PROVISION_JIT: {
        if (!create) {
            rc = st->ops->fed_link_get(st, is->issuer, v->subject, &user_id, err);
            if (rc == IDP_ERR_NOT_FOUND) {
                out->created = true; /* a dry run: JIT would create it */
                snprintf(out->sub, sizeof out->sub, "%s:%s", is->name, v->subject);
                return IDP_OK;
            }
            if (rc != IDP_OK) *why = FED_R_STORE;
            break;
        }
        char name[FED_SUB_MAX + 1];
        snprintf(name, sizeof name, "%s:%s", is->name, v->subject);
        char *doc = jit_doc(out->mapped);
        rc = jit(st, is, v->subject, name, doc, &user_id, &out->created, err);
        free(doc);
        if (rc == IDP_ERR_CONFLICT) {
            /* the userName is taken by a local account: never linked by name or email */
            *why = FED_R_NOT_LINKED;
            rc = IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_GRANT,
                          "a local user already has this upstream subject's userName");
        } else if (rc != IDP_OK) {
            *why = FED_R_STORE;
        }
        break;
    }
    default:
        *why = FED_R_POLICY;
        rc = IDP_FAIL(err, IDP_ERR_INTERNAL, "unknown provision rule");
    }
    if (rc == IDP_OK) rc = load_local(st, user_id, out, why, err);
    free(user_id);
    return rc;
}

policy_subject fed_subject_policy(const fed_subject *s, const fed_verified *v)
{
    return (policy_subject){.user_name = s->local ? s->user.user_name : NULL,
                            .groups = (const char *const *)s->groups,
                            .ngroups = s->ngroups,
                            .issuer_name = v->is->name,
                            .upstream_subject = v->subject,
                            .issuer_groups = s->issuer_groups,
                            .nissuer_groups = s->nissuer_groups};
}

void fed_subject_clear(fed_subject *s)
{
    if (s->local) store_user_clear(&s->user);
    for (size_t i = 0; i < s->ngroups; i++) free(s->groups[i]);
    free(s->groups);
    free(s->issuer_groups);
    json_decref(s->mapped);
    memset(s, 0, sizeof *s);
}
