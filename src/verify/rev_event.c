#include "verify/rev_event.h"

#include "core/jsonx.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static const struct {
    rev_kind kind;
    const char *uri;
    const char *format; /* sub_id format (RFC 9493 §3; SSF 1.0 "jwt_id") */
    const char *member; /* the sub_id member that names the subject */
} kinds[] = {
    {REV_TOKEN_REVOKED, "https://schemas.openid.net/secevent/caep/event-type/session-revoked",
     "jwt_id", "jti"},
    {REV_USER_DISABLED, "https://schemas.openid.net/secevent/risc/event-type/account-disabled",
     "iss_sub", "sub"},
    {REV_USER_DELETED, "https://schemas.openid.net/secevent/risc/event-type/account-purged",
     "iss_sub", "sub"},
    {REV_USER_CHANGED, "https://schemas.openid.net/secevent/caep/event-type/token-claims-change",
     "iss_sub", "sub"},
};

static int find(rev_kind kind)
{
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (kinds[i].kind == kind) return (int)i;
    return -1;
}

const char *rev_event_type_uri(rev_kind kind)
{
    int i = find(kind);
    return i < 0 ? NULL : kinds[i].uri;
}

rev_kind rev_event_kind_of(const char *uri)
{
    for (size_t i = 0; uri && i < sizeof kinds / sizeof kinds[0]; i++)
        if (!strcmp(kinds[i].uri, uri)) return kinds[i].kind;
    return 0;
}

json_t *rev_event_to_set(const rev_event *ev, const char *issuer, const char *aud, int64_t now)
{
    int i = find(ev->kind);
    if (i < 0 || !ev->subject || !issuer) return NULL;
    char jti[32];
    snprintf(jti, sizeof jti, "rev-%" PRId64, ev->seq);
    json_t *body = json_pack("{s:I, s:I}", "event_timestamp", (json_int_t)ev->at, "until",
                             (json_int_t)ev->until);
    if (body && ev->kind != REV_TOKEN_REVOKED)
        json_object_set_new(body, "token_epoch", json_integer(ev->epoch));
    json_t *sub_id = json_pack("{s:s, s:s, s:s}", "format", kinds[i].format, "iss", issuer,
                               kinds[i].member, ev->subject);
    json_t *events = json_object();
    if (!body || !sub_id || !events || json_object_set_new(events, kinds[i].uri, body)) {
        json_decref(sub_id);
        json_decref(events);
        return NULL;
    }
    json_t *set = json_pack("{s:s, s:s, s:I, s:o, s:o}", "iss", issuer, "jti", jti, "iat",
                            (json_int_t)now, "sub_id", sub_id, "events", events);
    if (set && aud) json_object_set_new(set, "aud", json_string(aud));
    return set;
}

static bool get_int(const json_t *o, const char *k, int64_t *out)
{
    const json_t *v = json_object_get(o, k);
    if (!json_is_integer(v)) return false;
    *out = json_integer_value(v);
    return true;
}

idp_err rev_event_from_set(const json_t *payload, const char *issuer, rev_event *ev,
                           idp_error *err)
{
    memset(ev, 0, sizeof *ev);
    const json_t *events = json_object_get(payload, "events");
    if (!json_is_object(events) || json_object_size(events) != 1)
        return IDP_FAIL(err, IDP_ERR_INVALID, "a SET of this feed has exactly one event");
    const char *uri = json_object_iter_key(json_object_iter((json_t *)events));
    const json_t *body = json_object_iter_value(json_object_iter((json_t *)events));
    int i = find(rev_event_kind_of(uri));
    if (i < 0) return IDP_FAIL(err, IDP_ERR_NOT_FOUND, "event type not known to this receiver");
    if (!json_is_object(body)) return IDP_FAIL(err, IDP_ERR_INVALID, "event is not an object");
    const char *jti = jsonx_str(payload, "jti");
    if (!jti || strncmp(jti, "rev-", 4) || !jti[4] || strspn(jti + 4, "0123456789") != strlen(jti + 4) ||
        strlen(jti + 4) > 18)
        return IDP_FAIL(err, IDP_ERR_INVALID, "SET jti is not rev-<sequence>");
    int64_t seq = 0;
    for (const char *c = jti + 4; *c; c++) seq = seq * 10 + (*c - '0');
    const json_t *sub_id = json_object_get(payload, "sub_id");
    const char *fmt = jsonx_str(sub_id, "format"), *siss = jsonx_str(sub_id, "iss");
    const char *subject = jsonx_str(sub_id, kinds[i].member);
    if (!fmt || strcmp(fmt, kinds[i].format))
        return IDP_FAIL(err, IDP_ERR_INVALID, "sub_id format is not %s", kinds[i].format);
    if (!siss || !issuer || strcmp(siss, issuer))
        return IDP_FAIL(err, IDP_ERR_INVALID, "sub_id iss is not the feed's issuer");
    if (!subject || !*subject)
        return IDP_FAIL(err, IDP_ERR_INVALID, "sub_id has no %s", kinds[i].member);
    int64_t at = 0, until = 0, epoch = 0;
    if (!get_int(body, "event_timestamp", &at) || !get_int(body, "until", &until) || until < at)
        return IDP_FAIL(err, IDP_ERR_INVALID, "event_timestamp and until must be integers, until >= event_timestamp");
    if (kinds[i].kind != REV_TOKEN_REVOKED && (!get_int(body, "token_epoch", &epoch) || epoch < 0))
        return IDP_FAIL(err, IDP_ERR_INVALID, "token_epoch must be a non-negative integer");
    ev->seq = seq;
    ev->kind = kinds[i].kind;
    ev->subject = subject;
    ev->epoch = epoch;
    ev->at = at;
    ev->until = until;
    return IDP_OK;
}
