/* audit_checkpoint — see audit_checkpoint.h. */
#include "oauth/audit_checkpoint.h"

#include "core/b64url.h"
#include "core/jsonx.h"
#include "core/mem.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Events deleted per transaction, so that pruning a large backlog never holds the write lock
 * for long (sign-in fails closed when it cannot write). */
#define AUDIT_PRUNE_CHUNK 20000

static void put_i64(unsigned char *b, int64_t v)
{
    uint64_t u = (uint64_t)v;
    for (int i = 7; i >= 0; i--, u >>= 8)
        b[i] = (unsigned char)(u & 0xff);
}

static idp_err ckpt_mac(const kek *k, int64_t seq, int64_t time_ms, int64_t through,
                        const unsigned char head[32], unsigned char mac[32], idp_error *err)
{
    unsigned char key[32], msg[sizeof AUDIT_CHECKPOINT_LABEL + 24 + 32];
    unsigned int len = 0;
    idp_err rc = kek_derive(k, AUDIT_CHECKPOINT_LABEL, key, err);
    if (rc) return rc;
    size_t n = sizeof AUDIT_CHECKPOINT_LABEL; /* the label and its NUL separator */
    memcpy(msg, AUDIT_CHECKPOINT_LABEL, n);
    put_i64(msg + n, seq);
    put_i64(msg + n + 8, time_ms);
    put_i64(msg + n + 16, through);
    memcpy(msg + n + 24, head, 32);
    if (!HMAC(EVP_sha256(), key, sizeof key, msg, sizeof msg, mac, &len) || len != 32)
        rc = IDP_FAIL(err, IDP_ERR_CRYPTO, "audit checkpoint: HMAC failed");
    mem_wipe(key, sizeof key);
    return rc;
}

static void hex32(const unsigned char h[32], char out[65])
{
    static const char hx[] = "0123456789abcdef";
    for (size_t i = 0; i < 32; i++) {
        out[2 * i] = hx[h[i] >> 4];
        out[2 * i + 1] = hx[h[i] & 15];
    }
    out[64] = '\0';
}

static bool unhex32(const char *s, unsigned char out[32])
{
    if (!s || strlen(s) != 64) return false;
    for (size_t i = 0; i < 64; i++) {
        char c = s[i];
        int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (v < 0) return false;
        if (i % 2 == 0)
            out[i / 2] = (unsigned char)(v << 4);
        else
            out[i / 2] |= (unsigned char)v;
    }
    return true;
}

/* The one event with this seq (NOT_FOUND when absent). */
static idp_err event_at(store *st, int64_t seq, store_audit *out, idp_error *err)
{
    store_audit *rows = NULL;
    size_t n = 0;
    idp_err rc = st->ops->audit_list(st, seq - 1, 1, &rows, &n, err);
    if (rc) return rc;
    if (n != 1 || rows[0].seq != seq) {
        store_audit_list_free(rows, n);
        return IDP_FAIL(err, IDP_ERR_NOT_FOUND, "audit: no event %lld", (long long)seq);
    }
    *out = rows[0];
    free(rows);
    return IDP_OK;
}

/* first and last seq (0, 0 when the log is empty). */
static idp_err bounds(store *st, int64_t *first, int64_t *last, idp_error *err)
{
    store_audit *rows = NULL;
    size_t n = 0;
    *first = *last = 0;
    idp_err rc = st->ops->audit_last(st, 1, &rows, &n, err);
    if (rc || n == 0) goto out;
    *last = rows[0].seq;
    store_audit_list_free(rows, n);
    rows = NULL;
    if ((rc = st->ops->audit_list(st, 0, 1, &rows, &n, err)) == IDP_OK && n == 1)
        *first = rows[0].seq;
out:
    store_audit_list_free(rows, n);
    return rc;
}

/* Appends the checkpoint for (through, head) as event last + 1. */
static idp_err append_checkpoint(store *st, const kek *k, int64_t now_ms, int64_t last,
                                 int64_t through, const unsigned char head[32], idp_error *err)
{
    unsigned char mac[32];
    char hx[65], m[44], detail[256];
    idp_err rc = ckpt_mac(k, last + 1, now_ms, through, head, mac, err);
    if (rc) return rc;
    hex32(head, hx);
    b64url_encode_to(m, mac, sizeof mac);
    snprintf(
        detail, sizeof detail,
        "{\"pruned_through\":%lld,\"pruned_events\":%lld,\"pruned_head\":\"%s\",\"mac\":\"%s\"}",
        (long long)through, (long long)through, hx, m);
    store_audit ev = {
        .time_ms = now_ms, .actor = "idpd", .action = AUDIT_CHECKPOINT_ACTION, .detail = detail};
    if ((rc = st->ops->audit_append(st, &ev, err))) return rc;
    if (ev.seq != last + 1) /* impossible under the write transaction */
        return IDP_FAIL(err, IDP_ERR_INTERNAL, "audit checkpoint: unexpected seq");
    return IDP_OK;
}

/* One transaction: a checkpoint for through = min(target, first + AUDIT_PRUNE_CHUNK - 1),
 * then the events up to it are deleted. *more when events up to target are left. */
static idp_err prune_chunk(store *st, const kek *k, int64_t now_ms, int64_t target,
                           audit_prune_result *res, bool *more, idp_error *err)
{
    store_audit at = {0};
    int64_t first = 0, last = 0, p = target, n = 0;
    *more = false;
    idp_err rc = store_tx_begin(st, err);
    if (rc) return rc;
    if ((rc = bounds(st, &first, &last, err)) || last == 0) goto out;
    if (p >= last) p = last - 1; /* the head stays: the checkpoint links to it */
    if (p < first) goto out;     /* nothing (more) to prune */
    if (p - first >= AUDIT_PRUNE_CHUNK) {
        p = first + AUDIT_PRUNE_CHUNK - 1;
        *more = true;
    }
    if ((rc = event_at(st, p, &at, err))) goto out;
    if ((rc = append_checkpoint(st, k, now_ms, last, p, at.hash, err))) goto out;
    if ((rc = st->ops->audit_delete_through(st, p, &n, err))) goto out;
out:
    store_audit_clear(&at);
    if (rc == IDP_OK)
        rc = store_tx_commit(st, err);
    else
        store_tx_rollback(st);
    if (rc == IDP_OK && n > 0) {
        res->pruned += n;
        res->through = p;
        res->checkpoint_seq = last + 1;
    }
    if (rc) *more = false;
    return rc;
}

idp_err audit_checkpoint_prune(store *st, const kek *k, int64_t now_ms, int64_t retention_s,
                               int64_t max_events, audit_prune_result *res, idp_error *err)
{
    int64_t first = 0, last = 0, target = 0;
    memset(res, 0, sizeof *res);
    idp_err rc = bounds(st, &first, &last, err);
    if (rc || last == 0) return rc;
    if ((rc = st->ops->audit_seq_before(st, now_ms - retention_s * 1000, &target, err))) return rc;
    if (max_events > 0 && last - max_events > target) target = last - max_events;
    for (bool more = true; more && rc == IDP_OK;)
        rc = prune_chunk(st, k, now_ms, target, res, &more, err);
    return rc;
}

idp_err audit_checkpoint_check(const kek *k, const store_audit *ev, int64_t *through,
                               unsigned char head[32], idp_error *err)
{
    json_t *d = NULL;
    unsigned char mac[32], want[32];
    int64_t p = 0, cnt = 0;
    idp_err rc = IDP_OK;
    const char *m = NULL;
    if (!ev->detail || !ev->action || strcmp(ev->action, AUDIT_CHECKPOINT_ACTION) != 0 ||
        jsonx_parse(ev->detail, strlen(ev->detail), 4096, 2, true, &d, NULL) != IDP_OK ||
        !jsonx_int(d, "pruned_through", &p) || !jsonx_int(d, "pruned_events", &cnt) || p < 1 ||
        cnt != p || p >= ev->seq || !unhex32(jsonx_str(d, "pruned_head"), head) ||
        !(m = jsonx_str(d, "mac")) || strlen(m) != 43) {
        rc = IDP_FAIL(err, IDP_ERR_INVALID, "checkpoint event is malformed");
        goto out;
    }
    unsigned char *raw = NULL;
    size_t rl = 0;
    if (b64url_decode(m, strlen(m), &raw, &rl) != IDP_OK || rl != 32) {
        free(raw);
        rc = IDP_FAIL(err, IDP_ERR_INVALID, "checkpoint MAC is malformed");
        goto out;
    }
    memcpy(mac, raw, 32);
    free(raw);
    if ((rc = ckpt_mac(k, ev->seq, ev->time_ms, p, head, want, err))) goto out;
    if (CRYPTO_memcmp(mac, want, 32) != 0) {
        rc = IDP_FAIL(err, IDP_ERR_INVALID, "checkpoint MAC does not verify (forged or altered)");
        goto out;
    }
    *through = p;
out:
    json_decref(d);
    return rc;
}
