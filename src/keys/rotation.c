/* rotation — the key lifecycle state machine; rotation.h is the specification.
 *
 * Each run has two phases. A pure planner turns (key rows, cfg, now) into a list of steps. The
 * plan is first made from an unlocked read so the expensive part — generating and sealing new
 * keys (RSA-3072 takes 100+ ms) — happens before the write lock is taken. Then, inside one
 * exclusive store transaction, the rows are read again, the plan is made again (another process
 * may have acted meanwhile), and executed, taking the pre-generated keys from a pool (generating
 * more only if the situation changed). Any failure rolls the whole step back. */
#include "keys/rotation.h"

#include "core/mem.h"
#include "keys/signer.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

typedef enum rot_act { ACT_CREATE_CURRENT, ACT_CREATE_NEXT, ACT_PROMOTE, ACT_RETIRE, ACT_DELETE } rot_act;

typedef struct rot_step {
    rot_act act;
    jws_alg alg;
    const store_key *row; /* borrowed; NULL for the CREATE steps */
} rot_step;

typedef struct rot_plan {
    rot_step *v;
    size_t n, cap;
} rot_plan;

typedef enum rot_mode { MODE_TICK, MODE_ROTATE, MODE_FORCE } rot_mode;

/* A new key, its private part already sealed under the kek. */
typedef struct rot_sealed {
    jws_alg alg;
    char kid[44];
    unsigned char *enc;
    size_t enc_len;
    char *public_jwk;
} rot_sealed;

typedef struct rot_pool {
    rot_sealed v[2 * JWS__ALG_COUNT]; /* a plan creates at most two keys per alg */
    size_t n;
} rot_pool;

/* ---- configuration -------------------------------------------------------------------------- */

/* cfg->algs ("ES256 EdDSA") -> bitmask of JWS_ALG_BIT. */
static idp_err rot_parse_algs(const cfg *c, unsigned *mask, idp_error *err)
{
    *mask = 0;
    const char *s = c->algs ? c->algs : "";
    while (*s) {
        size_t skip = strspn(s, " \t"), len;
        s += skip;
        len = strcspn(s, " \t");
        if (!len) break;
        jws_alg a = jws_alg_from_name(s, len);
        if (a == JWS_ALG_INVALID)
            return IDP_FAIL(err, IDP_ERR_CONFIG, "algs: unknown algorithm '%.*s'",
                            (int)(len > 16 ? 16 : len), s);
        *mask |= JWS_ALG_BIT(a);
        s += len;
    }
    if (!*mask) return IDP_FAIL(err, IDP_ERR_CONFIG, "algs: no signing algorithm configured");
    if (c->rotation_period <= 0 || c->publish_ahead < 0 || c->max_token_ttl < 0 || c->leeway < 0)
        return IDP_FAIL(err, IDP_ERR_CONFIG, "rotation: periods must not be negative");
    return IDP_OK;
}

int64_t rotation_retire_window(const cfg *c)
{
    return c->max_token_ttl + c->leeway + c->jwks_max_age;
}

idp_err rotation_check(const cfg *c, idp_error *err)
{
    unsigned algs = 0;
    idp_err rc = rot_parse_algs(c, &algs, err);
    if (rc) return rc;
    int64_t nalgs = __builtin_popcount(algs);
    /* Regular rotations retire one key per alg every rotation_period at most; a retired key is
     * deleted at the first tick after its window, so at most window / period + 1 are kept. */
    int64_t window = rotation_retire_window(c) + ROTATION_TICK_S;
    int64_t retired = window / c->rotation_period + 1;
    int64_t most = nalgs * (2 + retired);
    if (most <= ROTATION_MAX_KEYS) return IDP_OK;
    /* per alg: 2 + window / period + 1 <= ROTATION_MAX_KEYS / nalgs */
    int64_t spare = ROTATION_MAX_KEYS / nalgs - 3;
    if (spare < 0) /* impossible with the four algorithms there are */
        return IDP_FAIL(err, IDP_ERR_CONFIG, "algs: too many algorithms for %d keys",
                        ROTATION_MAX_KEYS);
    return IDP_FAIL(err, IDP_ERR_CONFIG,
                    "rotation_period: %" PRId64 " s is too short: with %" PRId64 " algorithms "
                    "and retired keys published for %" PRId64 " s (max_token_ttl + leeway + "
                    "jwks_max_age) up to %" PRId64 " keys would be published, more than %d; use "
                    "at least %" PRId64 " s or a shorter max_token_ttl",
                    c->rotation_period, nalgs, rotation_retire_window(c), most, ROTATION_MAX_KEYS,
                    window / (spare + 1) + 1);
}

/* ---- planning (pure) ------------------------------------------------------------------------ */

static void plan_push(rot_plan *p, rot_act act, jws_alg alg, const store_key *row)
{
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 16;
        p->v = xrealloc(p->v, p->cap * sizeof *p->v);
    }
    p->v[p->n++] = (rot_step){.act = act, .alg = alg, .row = row};
}

static jws_alg row_alg(const store_key *r)
{
    return jws_alg_from_name(r->alg, strlen(r->alg));
}

/* The steps for one configured alg. In MODE_ROTATE/FORCE the current key is replaced now (the
 * operator asked); in MODE_TICK only when its rotation_period is over. */
static idp_err plan_alg(rot_plan *p, const store_key *rows, size_t n, jws_alg alg, const cfg *c,
                        int64_t now, rot_mode mode, idp_error *err)
{
    const store_key *cur = NULL, *nxt = NULL;
    for (size_t i = 0; i < n; i++) {
        const store_key *r = &rows[i];
        if (row_alg(r) != alg) continue;
        if (r->state == KEY_CURRENT) {
            /* Only one key may sign per alg: keep the newest, retire any other. */
            const store_key *old = r;
            if (!cur || r->activated_at > cur->activated_at) {
                old = cur;
                cur = r;
            }
            if (old) plan_push(p, ACT_RETIRE, alg, old);
        } else if (r->state == KEY_NEXT && (!nxt || r->created_at < nxt->created_at)) {
            nxt = r;
        }
    }
    /* DESIGN §6: a key signs only after it has been in the JWKS for publish_ahead. */
    bool ready = nxt && nxt->created_at + c->publish_ahead <= now;
    if (!cur) {
        /* Nothing signs (first start, or the current key was removed): the best available. */
        if (nxt) plan_push(p, ACT_PROMOTE, alg, nxt);
        else plan_push(p, ACT_CREATE_CURRENT, alg, NULL);
        nxt = NULL;
    } else if (mode == MODE_TICK) {
        if (cur->activated_at + c->rotation_period <= now && ready) {
            plan_push(p, ACT_PROMOTE, alg, nxt);
            plan_push(p, ACT_RETIRE, alg, cur);
            nxt = NULL;
        }
    } else if (ready || (nxt && mode == MODE_FORCE)) {
        plan_push(p, ACT_PROMOTE, alg, nxt);
        plan_push(p, ACT_RETIRE, alg, cur);
        nxt = NULL;
    } else if (mode == MODE_FORCE) {
        plan_push(p, ACT_CREATE_CURRENT, alg, NULL);
        plan_push(p, ACT_RETIRE, alg, cur);
    } else if (!nxt) {
        return IDP_FAIL(err, IDP_ERR_CONFLICT, "no next %s key is published yet; use --force",
                        jws_alg_name(alg));
    } else {
        int64_t wait = nxt->created_at + c->publish_ahead - now;
        return IDP_FAIL(err, IDP_ERR_CONFLICT,
                        "the next %s key must be published for %" PRId64 " s before it signs; "
                        "wait %" PRId64 " s or use --force",
                        jws_alg_name(alg), c->publish_ahead, wait);
    }
    if (!nxt) plan_push(p, ACT_CREATE_NEXT, alg, NULL);
    return IDP_OK;
}

/* Whole-store steps: keys of algs no longer configured stop signing (retired, so they stay
 * published until their tokens expire) or are dropped (next keys never signed anything);
 * retired keys are deleted once every token they signed has expired:
 * retired_at + rotation_retire_window <= now. */
static void plan_cleanup(rot_plan *p, const store_key *rows, size_t n, unsigned algs,
                         const cfg *c, int64_t now)
{
    for (size_t i = 0; i < n; i++) {
        const store_key *r = &rows[i];
        jws_alg a = row_alg(r);
        bool configured = a != JWS_ALG_INVALID && (algs & JWS_ALG_BIT(a));
        if (r->state == KEY_RETIRED) {
            if (r->retired_at + rotation_retire_window(c) <= now)
                plan_push(p, ACT_DELETE, a, r);
        } else if (!configured && a != JWS_ALG_INVALID) {
            plan_push(p, r->state == KEY_CURRENT ? ACT_RETIRE : ACT_DELETE, a, r);
        }
    }
}

static bool plan_deletes(const rot_plan *p, const store_key *r)
{
    for (size_t i = 0; i < p->n; i++)
        if (p->v[i].act == ACT_DELETE && p->v[i].row == r) return true;
    return false;
}

/* The bound (rotation.h): when the keys left after the plan would exceed ROTATION_MAX_KEYS,
 * the keys retired longest ago are deleted as well. Only forced rotations (each retires a key
 * at once) or a store over the bound get here: rotation_check keeps regular rotation below. */
static void plan_bound(rot_plan *p, const store_key *rows, size_t n)
{
    size_t keys = n;
    for (size_t i = 0; i < p->n; i++) {
        if (p->v[i].act == ACT_CREATE_CURRENT || p->v[i].act == ACT_CREATE_NEXT) keys++;
        else if (p->v[i].act == ACT_DELETE) keys--;
    }
    while (keys > ROTATION_MAX_KEYS) {
        const store_key *oldest = NULL;
        for (size_t i = 0; i < n; i++) {
            const store_key *r = &rows[i];
            if (r->state != KEY_RETIRED || plan_deletes(p, r)) continue;
            if (!oldest || r->retired_at < oldest->retired_at ||
                (r->retired_at == oldest->retired_at && strcmp(r->kid, oldest->kid) < 0))
                oldest = r;
        }
        if (!oldest) break; /* only current and next keys left: keyset_load still caps */
        plan_push(p, ACT_DELETE, row_alg(oldest), oldest);
        keys--;
    }
}

/* only == JWS_ALG_INVALID: a tick over every alg; otherwise an operator rotation of one alg. */
static idp_err plan_make(rot_plan *p, const store_key *rows, size_t n, unsigned algs,
                         jws_alg only, rot_mode mode, const cfg *c, int64_t now, idp_error *err)
{
    p->n = 0;
    if (only != JWS_ALG_INVALID) {
        idp_err rc = plan_alg(p, rows, n, only, c, now, mode, err);
        if (!rc) plan_bound(p, rows, n);
        return rc;
    }
    for (int a = JWS_ALG_INVALID + 1; a < JWS__ALG_COUNT; a++) {
        if (!(algs & JWS_ALG_BIT(a))) continue;
        idp_err rc = plan_alg(p, rows, n, (jws_alg)a, c, now, MODE_TICK, err);
        if (rc) return rc;
    }
    plan_cleanup(p, rows, n, algs, c, now);
    plan_bound(p, rows, n);
    return IDP_OK;
}

/* ---- new keys ------------------------------------------------------------------------------- */

static void sealed_clear(rot_sealed *s)
{
    free(s->enc);
    free(s->public_jwk);
    memset(s, 0, sizeof *s);
}

/* Generates a key and seals its PKCS#8 form under the kek with aad = kid. */
static idp_err sealed_make(const kek *k, jws_alg alg, int rsa_bits, rot_sealed *out,
                           idp_error *err)
{
    signer_keygen g;
    memset(out, 0, sizeof *out);
    idp_err rc = signer_generate(alg, rsa_bits, &g, err);
    if (rc) return rc;
    rc = kek_seal(k, g.kid, g.der, g.der_len, &out->enc, &out->enc_len, err);
    if (!rc) {
        out->alg = alg;
        memcpy(out->kid, g.kid, sizeof out->kid);
        out->public_jwk = g.public_jwk;
        g.public_jwk = NULL;
    }
    signer_keygen_clear(&g);
    return rc;
}

static void pool_free(rot_pool *pool)
{
    for (size_t i = 0; i < pool->n; i++) sealed_clear(&pool->v[i]);
    pool->n = 0;
}

/* Fills the pool with one key per CREATE step of the plan. */
static idp_err pool_fill(rot_pool *pool, const rot_plan *p, const kek *k, const cfg *c,
                         idp_error *err)
{
    for (size_t i = 0; i < p->n; i++) {
        if (p->v[i].act != ACT_CREATE_CURRENT && p->v[i].act != ACT_CREATE_NEXT) continue;
        if (pool->n == sizeof pool->v / sizeof *pool->v) break;
        idp_err rc = sealed_make(k, p->v[i].alg, c->rsa_bits, &pool->v[pool->n], err);
        if (rc) return rc;
        pool->n++;
    }
    return IDP_OK;
}

/* Takes a pooled key for alg into *out (ownership moves), or generates one now. */
static idp_err pool_take(rot_pool *pool, jws_alg alg, const kek *k, const cfg *c, rot_sealed *out,
                         idp_error *err)
{
    for (size_t i = 0; i < pool->n; i++) {
        if (pool->v[i].alg != alg) continue;
        *out = pool->v[i];
        pool->v[i] = pool->v[--pool->n];
        memset(&pool->v[pool->n], 0, sizeof pool->v[pool->n]);
        return IDP_OK;
    }
    return sealed_make(k, alg, c->rsa_bits, out, err);
}

/* ---- execution (inside the transaction) ----------------------------------------------------- */

static idp_err exec_create(store *st, const kek *k, const cfg *c, rot_pool *pool, jws_alg alg,
                           bool current, int64_t now, idp_error *err)
{
    rot_sealed s;
    idp_err rc = pool_take(pool, alg, k, c, &s, err);
    if (rc) return rc;
    store_key row = {
        .kid = s.kid,
        .alg = (char *)jws_alg_name(alg),
        .state = current ? KEY_CURRENT : KEY_NEXT,
        .created_at = now,
        .activated_at = current ? now : 0,
        .enc_private = s.enc,
        .enc_private_len = s.enc_len,
        .public_jwk = s.public_jwk,
    };
    rc = store_key_insert(st, &row, err);
    sealed_clear(&s);
    return rc;
}

static idp_err plan_exec(store *st, const kek *k, const cfg *c, const rot_plan *p,
                         rot_pool *pool, int64_t now, idp_error *err)
{
    idp_err rc = IDP_OK;
    for (size_t i = 0; i < p->n && !rc; i++) {
        const rot_step *s = &p->v[i];
        switch (s->act) {
        case ACT_CREATE_CURRENT:
        case ACT_CREATE_NEXT:
            rc = exec_create(st, k, c, pool, s->alg, s->act == ACT_CREATE_CURRENT, now, err);
            break;
        case ACT_PROMOTE:
            rc = store_key_update_state(st, s->row->kid, KEY_CURRENT, now, 0, err);
            break;
        case ACT_RETIRE:
            rc = store_key_update_state(st, s->row->kid, KEY_RETIRED, s->row->activated_at, now,
                                        err);
            break;
        case ACT_DELETE:
            rc = store_key_delete(st, s->row->kid, err);
            break;
        }
    }
    return rc;
}

/* One locked pass: read, plan, execute, commit. */
static idp_err rot_locked(store *st, const kek *k, const cfg *c, unsigned algs, jws_alg only,
                          rot_mode mode, int64_t now, rot_pool *pool, bool *changed,
                          idp_error *err)
{
    store_key *rows = NULL;
    size_t n = 0;
    rot_plan plan = {0};
    idp_err rc = store_tx_begin(st, err);
    if (rc) return rc;
    rc = store_key_list(st, &rows, &n, err);
    if (!rc) rc = plan_make(&plan, rows, n, algs, only, mode, c, now, err);
    if (!rc) rc = plan_exec(st, k, c, &plan, pool, now, err);
    if (!rc && plan.n) rc = store_tx_commit(st, err);
    if (rc || !plan.n) store_tx_rollback(st);
    if (!rc) *changed = plan.n > 0;
    free(plan.v);
    store_key_list_free(rows, n);
    return rc;
}

static idp_err rot_run(store *st, const kek *k, const cfg *c, jws_alg only, rot_mode mode,
                       int64_t now, bool *changed, idp_error *err)
{
    store_key *rows = NULL;
    size_t n = 0;
    rot_plan plan = {0};
    rot_pool pool = {0};
    unsigned algs = 0;
    *changed = false;
    idp_err rc = rot_parse_algs(c, &algs, err);
    if (rc) return rc;
    if (only != JWS_ALG_INVALID && !(algs & JWS_ALG_BIT(only)))
        return IDP_FAIL(err, IDP_ERR_INVALID, "%s is not among the configured algs",
                        jws_alg_name(only) ? jws_alg_name(only) : "this algorithm");
    /* Unlocked look first: usually nothing is due, and new keys are made before locking. */
    rc = store_key_list(st, &rows, &n, err);
    if (!rc) rc = plan_make(&plan, rows, n, algs, only, mode, c, now, err);
    if (!rc && plan.n) rc = pool_fill(&pool, &plan, k, c, err);
    if (!rc && plan.n) rc = rot_locked(st, k, c, algs, only, mode, now, &pool, changed, err);
    pool_free(&pool);
    free(plan.v);
    store_key_list_free(rows, n);
    return rc;
}

idp_err rotation_tick(store *st, const kek *k, const cfg *c, int64_t now, bool *changed,
                      idp_error *err)
{
    bool dummy = false;
    return rot_run(st, k, c, JWS_ALG_INVALID, MODE_TICK, now, changed ? changed : &dummy, err);
}

idp_err rotation_rotate(store *st, const kek *k, const cfg *c, jws_alg alg, bool force,
                        int64_t now, idp_error *err)
{
    bool changed = false;
    if (alg <= JWS_ALG_INVALID || alg >= JWS__ALG_COUNT)
        return IDP_FAIL(err, IDP_ERR_INVALID, "unknown algorithm");
    return rot_run(st, k, c, alg, force ? MODE_FORCE : MODE_ROTATE, now, &changed, err);
}
