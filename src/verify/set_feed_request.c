/* set_feed_request — the poll request of idpd's revocation feed (set_feed.h, RFC 8936 §2.4):
 * written by the receiver (set_feed_request) and read, strictly, by the transmitter
 * (set_feed_parse_request, POST /ssf/poll).
 *
 * Reading rules (the request is untrusted input):
 *  - the body is at most SET_FEED_MAX_REQUEST bytes, one JSON object, strict (jsonx: valid UTF-8,
 *    no duplicate member names, no NUL, depth capped);
 *  - maxEvents: a JSON integer 1..SET_FEED_MAX_EVENTS (RFC 8936 §2.4 allows 0 for an
 *    acknowledgement-only poll; acknowledgements mean nothing here, so 0 is refused);
 *  - returnImmediately: a boolean (idpd always answers at once);
 *  - ack: an array of strings, setErrs: an object (RFC 8936 §2.4): checked for their
 *    type, then ignored (the cursor is the position, see set_feed.h "why a cursor");
 *  - since: a cursor of ours, the decimal seq of the last event read: "0" or digits without a
 *    leading zero, at most INT64_MAX;
 *  - any other member is ignored (RFC 8936 §2.4 defines the request members; ignoring the
 *    others keeps receivers that add SSF members working).
 * Every refusal is IDP_ERR_INVALID (IDP_ERR_JSON for malformed JSON, IDP_ERR_TOO_LARGE for the
 * size) with a reason safe to send back: it never quotes the input. */
#include "verify/set_feed.h"

#include "core/jsonx.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *set_feed_request(const char *cursor, int max_events)
{
    if (max_events < 1) max_events = 1;
    if (max_events > SET_FEED_MAX_EVENTS) max_events = SET_FEED_MAX_EVENTS;
    json_t *doc = json_object();
    if (!doc) return NULL;
    int bad = json_object_set_new(doc, "maxEvents", json_integer(max_events));
    bad |= json_object_set_new(doc, "returnImmediately", json_true());
    if (cursor && cursor[0]) bad |= json_object_set_new(doc, "since", json_string(cursor));
    char *s = bad ? NULL : jsonx_dump(doc);
    json_decref(doc);
    return s;
}

/* Our cursor: "0", or 1..19 digits without a leading zero, within int64. */
static bool cursor_parse(const char *s, int64_t *out)
{
    size_t n = strlen(s);
    if (n == 0 || n > 19 || strspn(s, "0123456789") != n || (s[0] == '0' && n > 1)) return false;
    errno = 0;
    char *end = NULL;
    long long v = strtoll(s, &end, 10);
    if (errno || *end) return false;
    *out = (int64_t)v;
    return true;
}

static idp_err check_members(const json_t *doc, int *max_events, int64_t *since_seq, idp_error *err)
{
    const json_t *v = json_object_get(doc, "maxEvents");
    if (v) {
        if (!json_is_integer(v))
            return IDP_FAIL(err, IDP_ERR_INVALID, "maxEvents must be an integer");
        json_int_t m = json_integer_value(v);
        if (m < 1 || m > SET_FEED_MAX_EVENTS)
            return IDP_FAIL(err, IDP_ERR_INVALID, "maxEvents must be between 1 and %d",
                            SET_FEED_MAX_EVENTS);
        *max_events = (int)m;
    }
    v = json_object_get(doc, "returnImmediately");
    if (v && !json_is_boolean(v))
        return IDP_FAIL(err, IDP_ERR_INVALID, "returnImmediately must be a boolean");
    v = json_object_get(doc, "ack");
    if (v) {
        if (!json_is_array(v)) return IDP_FAIL(err, IDP_ERR_INVALID, "ack must be an array");
        size_t i;
        const json_t *x;
        json_array_foreach(v, i, x) if (!json_is_string(x)) return IDP_FAIL(
            err, IDP_ERR_INVALID, "ack must be an array of strings");
    }
    v = json_object_get(doc, "setErrs");
    if (v && !json_is_object(v)) return IDP_FAIL(err, IDP_ERR_INVALID, "setErrs must be an object");
    v = json_object_get(doc, "since");
    if (v) {
        if (!json_is_string(v) || !cursor_parse(json_string_value(v), since_seq))
            return IDP_FAIL(err, IDP_ERR_INVALID,
                            "since must be the cursor of a previous poll response");
    }
    return IDP_OK;
}

idp_err set_feed_parse_request(const char *body, size_t len, int *max_events, int64_t *since_seq,
                               idp_error *err)
{
    *max_events = SET_FEED_DEFAULT_EVENTS;
    *since_seq = -1;
    if (!body || len == 0) return IDP_FAIL(err, IDP_ERR_INVALID, "a JSON object body is required");
    if (len > SET_FEED_MAX_REQUEST)
        return IDP_FAIL(err, IDP_ERR_TOO_LARGE, "poll request larger than %u bytes",
                        SET_FEED_MAX_REQUEST);
    json_t *doc = NULL;
    idp_error je = {0};
    idp_err rc = jsonx_parse(body, len, SET_FEED_MAX_REQUEST, 0, true, &doc, &je);
    if (rc != IDP_OK)
        /* jsonx's message names the problem (duplicate member, bad UTF-8, not an object) without
         * quoting the input */
        return IDP_FAIL(err, rc == IDP_ERR_TOO_LARGE ? rc : IDP_ERR_JSON, "%s", je.msg);
    int m = *max_events;
    int64_t s = -1;
    rc = check_members(doc, &m, &s, err);
    json_decref(doc);
    if (rc != IDP_OK) return rc;
    *max_events = m;
    *since_seq = s;
    return IDP_OK;
}
