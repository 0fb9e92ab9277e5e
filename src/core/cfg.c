/* cfg — the one declarative table of idpd's options (STYLE.md habit 10) and everything derived
 * from it: defaults, the YAML loader, IDPD_<NAME> environment overrides, flags (cfg_set),
 * validation and cfg_print. docs/CONFIG.md documents the same table; test_cfg compares the two.
 *
 * Contract for every loader: on failure the cfg is left unchanged (changes are applied to a
 * copy that replaces the original only when everything parsed). Error messages never echo a
 * value, only the option and the reason: "FILE:LINE: option: reason" for files,
 * "IDPD_NAME: option: reason" for the environment, "option: reason" for flags. */
#include "core/cfg.h"

#include "core/mem.h"
#include "core/netaddr.h"
#include "core/timeutil.h"
#include "core/ytree.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CFG_MAX_FILE (1024u * 1024u) /* a config file larger than this is refused */
#define CFG_MAX_VALUE 4096           /* longest accepted value (paths, URLs) */

typedef enum opt_type {
    T_STR,   /* char *, free text checked by opt.check */
    T_ENUM,  /* char *, one of opt.choices */
    T_INT,   /* int, plain decimal in [min, max] */
    T_I64,   /* int64_t, plain decimal in [min, max] */
    T_DUR,   /* int64_t seconds: "90", "90s", "15m", "12h", "30d", "2w" (time_parse_duration) */
    T_BYTES, /* int64_t bytes: "65536", "64K", "64KiB", "1M", "1MiB" (binary multiples) */
    T_SECRET,/* char *, like T_STR, but cfg_print never shows it and it is wiped when freed */
} opt_type;

/* Extra check of a string option: NULL when valid, else the reason (static string). */
typedef const char *(*opt_check_fn)(const char *v);

typedef struct opt {
    const char *name;
    opt_type type;
    size_t off;          /* offset of the field in struct cfg */
    const char *def;     /* default in the option's own syntax; NULL = unset */
    int64_t min, max;    /* numeric types */
    const char *choices; /* T_ENUM: space-separated */
    opt_check_fn check;  /* T_STR: NULL = any non-empty text */
    const char *doc;     /* one line; docs/CONFIG.md says the same */
} opt;

static const char *check_issuer(const char *v);
static const char *check_listen(const char *v);
static const char *check_algs(const char *v);
static const char *check_trusted_proxies(const char *v);
static const char *check_secret(const char *v);
static const char *check_store(const char *v);

#define ALG_NAMES "ES256 RS256 PS256 EdDSA"
#define DAY (86400LL)

static const opt opts[] = {
    {"data_dir", T_STR, offsetof(cfg, data_dir), NULL, 0, 0, NULL, NULL,
     "directory holding idpd.db and master.key (required)"},
    {"store", T_STR, offsetof(cfg, store), NULL, 0, 0, NULL, check_store,
     "where the store is: unset = SQLite DATA_DIR/idpd.db; a SQLite path or postgresql:// URI"},
    {"store_pool", T_INT, offsetof(cfg, store_pool), "4", 1, 256, NULL, NULL,
     "PostgreSQL connections each process opens at most (one per concurrent op)"},
    {"issuer", T_STR, offsetof(cfg, issuer), "http://127.0.0.1:8080", 0, 0, NULL, check_issuer,
     "issuer identifier: absolute http(s) URL, no trailing slash, query or fragment"},
    {"listen", T_STR, offsetof(cfg, listen), "127.0.0.1:8080", 0, 0, NULL, check_listen,
     "HOST:PORT the HTTP server binds; port 0 picks a free port"},
    {"threads", T_INT, offsetof(cfg, threads), "0", 0, 256, NULL, NULL,
     "HTTP worker threads; 0 = one per core"},
    {"max_body", T_BYTES, offsetof(cfg, max_body), "64KiB", 1024, 16LL * 1024 * 1024, NULL, NULL,
     "largest accepted request body"},
    {"max_connections", T_INT, offsetof(cfg, max_connections), "4096", 1, 65536, NULL, NULL,
     "concurrent HTTP connections, all clients together"},
    {"max_connections_per_ip", T_INT, offsetof(cfg, max_connections_per_ip), "64", 0, 65536, NULL,
     NULL, "concurrent HTTP connections from one IP address; 0 = no per-address limit"},
    {"request_header_timeout", T_DUR, offsetof(cfg, request_header_timeout), "10s", 1, 300, NULL,
     NULL, "time a client has to send the request line and headers, however slowly they trickle"},
    {"token_ttl", T_DUR, offsetof(cfg, token_ttl), "5m", 1, 30 * DAY, NULL, NULL,
     "default access-token lifetime"},
    {"max_token_ttl", T_DUR, offsetof(cfg, max_token_ttl), "1h", 1, 30 * DAY, NULL, NULL,
     "longest access-token lifetime a client may be given"},
    {"default_alg", T_ENUM, offsetof(cfg, default_alg), "ES256", 0, 0, ALG_NAMES, NULL,
     "signing algorithm of clients that do not choose one"},
    {"algs", T_STR, offsetof(cfg, algs), ALG_NAMES, 0, 0, NULL, check_algs,
     "space-separated algorithms keys are kept (and rotated) for"},
    {"rotation_period", T_DUR, offsetof(cfg, rotation_period), "30d", 60, 3650 * DAY, NULL, NULL,
     "how long a key signs before the next one takes over"},
    {"publish_ahead", T_DUR, offsetof(cfg, publish_ahead), "1d", 1, 365 * DAY, NULL, NULL,
     "minimum time a key is in the JWKS before it signs"},
    {"jwks_max_age", T_DUR, offsetof(cfg, jwks_max_age), "5m", 0, 7 * DAY, NULL, NULL,
     "Cache-Control max-age of the JWKS; at most publish_ahead"},
    {"leeway", T_DUR, offsetof(cfg, leeway), "30s", 0, 3600, NULL, NULL,
     "clock skew allowed when checking exp, nbf and iat"},
    {"rsa_bits", T_INT, offsetof(cfg, rsa_bits), "3072", 2048, 8192, NULL, NULL,
     "RSA modulus size of new RS256/PS256 keys"},
    {"master_key_file", T_STR, offsetof(cfg, master_key_file), NULL, 0, 0, NULL, NULL,
     "master key file; default DATA_DIR/master.key (env IDPD_MASTER_KEY overrides it)"},
    {"metrics_token", T_SECRET, offsetof(cfg, metrics_token), NULL, 0, 0, NULL, check_secret,
     "bearer token GET /metrics requires; unset = /metrics open to anyone who can reach it"},
    {"log_level", T_ENUM, offsetof(cfg, log_level), "info", 0, 0, "debug info warn error", NULL,
     "lowest level of log lines written to stderr"},
    {"poll_interval_ms", T_I64, offsetof(cfg, poll_interval_ms), "250", 10, 60000, NULL, NULL,
     "how often (ms) the server looks for changes made by other processes"},
    {"scim_rate", T_INT, offsetof(cfg, scim_rate), "50", 1, 100000, NULL, NULL,
     "SCIM requests per second allowed per provisioning key (token bucket refill rate)"},
    {"scim_burst", T_INT, offsetof(cfg, scim_burst), "100", 1, 1000000, NULL, NULL,
     "SCIM requests a provisioning key may make at once (token bucket size)"},
    {"session_idle", T_DUR, offsetof(cfg, session_idle), "1h", 60, 30 * DAY, NULL, NULL,
     "a browser session ends after this long without use"},
    {"session_max", T_DUR, offsetof(cfg, session_max), "12h", 60, 90 * DAY, NULL, NULL,
     "a browser session ends this long after sign-in, used or not"},
    {"refresh_ttl", T_DUR, offsetof(cfg, refresh_ttl), "30d", 60, 365 * DAY, NULL, NULL,
     "lifetime of a refresh token family from sign-in"},
    {"refresh_grace", T_DUR, offsetof(cfg, refresh_grace), "10s", 0, 60, NULL, NULL,
     "a rotated refresh token still yields the same successor for this long"},
    {"login_free_failures", T_INT, offsetof(cfg, login_free_failures), "5", 1, 1000, NULL, NULL,
     "failed sign-ins per account and client address before exponential back-off starts"},
    {"login_address_free_failures", T_INT, offsetof(cfg, login_address_free_failures), "100", 0,
     100000, NULL, NULL,
     "failed sign-ins from one client address, any account, before back-off; 0 = no limit"},
    {"login_throttle_max_keys", T_INT, offsetof(cfg, login_throttle_max_keys), "100000", 16,
     10000000, NULL, NULL, "sign-in failure counters kept at most; beyond it sign-in fails closed"},
    {"verify_cache_size", T_INT, offsetof(cfg, verify_cache_size), "10000", 0, 1000000, NULL,
     NULL, "verified access tokens of ours kept to skip their signature check; 0 = no cache"},
    {"trusted_proxies", T_STR, offsetof(cfg, trusted_proxies), NULL, 0, 0, NULL,
     check_trusted_proxies,
     "addresses and CIDR prefixes of reverse proxies whose X-Forwarded-For is believed"},
    {"audit_retention", T_DUR, offsetof(cfg, audit_retention), "90d", 1, 3650 * DAY, NULL, NULL,
     "audit events older than this are pruned behind a signed checkpoint"},
    {"audit_max_events", T_I64, offsetof(cfg, audit_max_events), "10000000", 100,
     1000000000000LL, NULL, NULL, "audit events kept at most; older ones are pruned first"},
    {"argon2_t", T_INT, offsetof(cfg, argon2_t), "2", 1, 10, NULL, NULL,
     "Argon2id iterations for user passwords (RFC 9106); sign-in rehashes on change"},
    {"argon2_m_kib", T_INT, offsetof(cfg, argon2_m_kib), "19456", 8192, 1048576, NULL, NULL,
     "Argon2id memory in KiB for user passwords"},
    {"argon2_p", T_INT, offsetof(cfg, argon2_p), "1", 1, 16, NULL, NULL,
     "Argon2id lanes for user passwords"},
    {"policy_env", T_STR, offsetof(cfg, policy_env), NULL, 0, 0, NULL, NULL,
     "environment overlay of the policy to apply (docs/POLICY.md); none by default"},
    {"policy_file", T_STR, offsetof(cfg, policy_file), NULL, 0, 0, NULL, NULL,
     "policy document the server applies at start and on SIGHUP when it changed"},
};

#define NOPTS (sizeof opts / sizeof *opts)

/* A parsed value: s for string types (owned), n for numbers. */
typedef struct optval {
    char *s;
    int64_t n;
} optval;

/* ---- field access --------------------------------------------------------------------- */

static char **field_str(cfg *c, const opt *o)
{
    return (char **)(void *)((char *)c + o->off);
}

static int64_t field_num(const cfg *c, const opt *o)
{
    const char *p = (const char *)c + o->off;
    if (o->type == T_INT) return *(const int *)(const void *)p;
    return *(const int64_t *)(const void *)p;
}

static const char *field_cstr(const cfg *c, const opt *o)
{
    return *(char *const *)(const void *)((const char *)c + o->off);
}

static bool opt_is_str(const opt *o)
{
    return o->type == T_STR || o->type == T_ENUM || o->type == T_SECRET;
}

/* Moves v into the field (the old string is freed). */
static void opt_store(cfg *c, const opt *o, optval *v)
{
    if (opt_is_str(o)) {
        char **f = field_str(c, o);
        free(*f);
        *f = v->s;
        v->s = NULL;
    } else if (o->type == T_INT) {
        *(int *)(void *)((char *)c + o->off) = (int)v->n;
    } else {
        *(int64_t *)(void *)((char *)c + o->off) = v->n;
    }
}

static const opt *opt_find(const char *name)
{
    for (size_t i = 0; i < NOPTS; i++)
        if (!strcmp(opts[i].name, name)) return &opts[i];
    return NULL;
}

/* ---- value parsers -------------------------------------------------------------------- */

/* Whole-word membership in a space-separated list. */
static bool word_in(const char *list, const char *w, size_t n)
{
    const char *p = list;
    while (*p) {
        size_t l = strcspn(p, " ");
        if (l == n && !strncmp(p, w, n)) return true;
        p += l;
        while (*p == ' ')
            p++;
    }
    return false;
}

/* Plain decimal digits only (no sign, no spaces), at most 18 digits so it fits int64. */
static bool parse_digits(const char *s, size_t n, int64_t *out)
{
    if (n == 0 || n > 18) return false;
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

static bool parse_bytes(const char *s, int64_t *out)
{
    size_t n = strspn(s, "0123456789");
    int64_t v = 0, mul = 1;
    if (!parse_digits(s, n, &v)) return false;
    const char *u = s + n;
    if (!*u || !strcmp(u, "B"))
        mul = 1;
    else if (!strcmp(u, "K") || !strcmp(u, "k") || !strcmp(u, "KiB"))
        mul = 1024;
    else if (!strcmp(u, "M") || !strcmp(u, "m") || !strcmp(u, "MiB"))
        mul = 1024 * 1024;
    else
        return false;
    if (v > INT64_MAX / mul) return false;
    *out = v * mul;
    return true;
}

static bool parse_dur(const char *s, int64_t *out)
{
    /* time_parse_duration wants > 0; options whose minimum is 0 also take "0"/"0s". */
    if (!strcmp(s, "0") || !strcmp(s, "0s")) {
        *out = 0;
        return true;
    }
    return time_parse_duration(s, out) == IDP_OK;
}

static void fmt_range(const opt *o, char *why, size_t n)
{
    if (o->type == T_DUR)
        snprintf(why, n, "must be between %llds and %llds", (long long)o->min, (long long)o->max);
    else
        snprintf(why, n, "must be between %lld and %lld", (long long)o->min, (long long)o->max);
}

/* Checks the number v against the option's range; false with the reason in why. */
static bool num_in_range(const opt *o, int64_t v, char *why, size_t n)
{
    if (v >= o->min && v <= o->max) return true;
    fmt_range(o, why, n);
    return false;
}

/* Checks a string value of a string option. */
static bool str_valid(const opt *o, const char *v, char *why, size_t n)
{
    const char *r = NULL;
    if (o->type == T_ENUM && !word_in(o->choices, v, strlen(v))) {
        snprintf(why, n, "must be one of: %s", o->choices);
        return false;
    }
    if (o->check && (r = o->check(v)) != NULL) {
        snprintf(why, n, "%s", r);
        return false;
    }
    return true;
}

/* Parses text v for option o into *out (out->s owned on success). Reason in why on failure. */
static bool opt_parse(const opt *o, const char *v, optval *out, char *why, size_t n)
{
    out->s = NULL;
    out->n = 0;
    size_t len = strlen(v);
    if (len == 0) {
        snprintf(why, n, "empty value");
        return false;
    }
    if (len > CFG_MAX_VALUE) {
        snprintf(why, n, "value longer than %d bytes", CFG_MAX_VALUE);
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f) {
            snprintf(why, n, "control character in value");
            return false;
        }
    }
    switch (o->type) {
    case T_STR:
    case T_ENUM:
    case T_SECRET:
        if (!str_valid(o, v, why, n)) return false;
        out->s = xstrdup(v);
        return true;
    case T_INT:
    case T_I64:
        if (!parse_digits(v, len, &out->n)) {
            snprintf(why, n, "not a non-negative decimal integer");
            return false;
        }
        return num_in_range(o, out->n, why, n);
    case T_DUR:
        if (!parse_dur(v, &out->n)) {
            snprintf(why, n, "not a duration (e.g. 90s, 15m, 12h, 30d, 2w)");
            return false;
        }
        return num_in_range(o, out->n, why, n);
    case T_BYTES:
        if (!parse_bytes(v, &out->n)) {
            snprintf(why, n, "not a size (e.g. 65536, 64KiB, 1MiB)");
            return false;
        }
        return num_in_range(o, out->n, why, n);
    }
    snprintf(why, n, "internal: unknown option type");
    return false;
}

/* ---- string validators ---------------------------------------------------------------- */

/* OIDC Discovery §3 / RFC 8414 §2: the issuer is a URL with a scheme and host and no query or
 * fragment; we also refuse a trailing slash so ISS + "/token" is unambiguous, and userinfo. */
static const char *check_issuer(const char *v)
{
    const char *host = NULL;
    if (!strncmp(v, "https://", 8))
        host = v + 8;
    else if (!strncmp(v, "http://", 7))
        host = v + 7;
    else
        return "must be an absolute http:// or https:// URL";
    size_t hl = strcspn(host, "/?#");
    if (hl == 0) return "URL has no host";
    if (memchr(host, '@', hl)) return "URL must not contain userinfo";
    if (strpbrk(v, "?")) return "URL must not have a query";
    if (strpbrk(v, "#")) return "URL must not have a fragment";
    if (strpbrk(v, " \t\"<>\\^`{|}")) return "URL contains a character that must be escaped";
    if (v[strlen(v) - 1] == '/') return "URL must not end with '/'";
    return NULL;
}

/* HOST:PORT where HOST is a name, an IPv4 address or [IPv6]; PORT 0..65535. */
static const char *check_listen(const char *v)
{
    const char *colon = strrchr(v, ':');
    if (!colon) return "must be HOST:PORT";
    size_t hl = (size_t)(colon - v);
    if (hl == 0) return "must be HOST:PORT (host missing)";
    if (v[0] == '[') {
        if (hl < 3 || v[hl - 1] != ']') return "IPv6 host must be written [ADDR]";
    } else if (memchr(v, ':', hl) || memchr(v, '[', hl) || memchr(v, ']', hl)) {
        return "IPv6 host must be written [ADDR]";
    }
    if (memchr(v, '/', hl) || memchr(v, ' ', hl)) return "bad character in host";
    int64_t port = 0;
    const char *p = colon + 1;
    if (!parse_digits(p, strlen(p), &port) || port > 65535) return "port must be 0..65535";
    return NULL;
}

static const char *check_trusted_proxies(const char *v)
{
    netaddr_set set;
    if (netaddr_set_parse(v, &set, NULL) != IDP_OK)
        return "not a list of IP addresses and CIDR prefixes (at most 64)";
    return NULL;
}

/* store: a SQLite path, "sqlite:PATH" or a PostgreSQL URI. A URI must not carry a password
 * (it would be printed with the configuration): libpq reads it from PGPASSWORD or ~/.pgpass. */
static const char *check_store(const char *v)
{
    const char *rest = NULL;
    if (!strncmp(v, "postgresql://", 13)) rest = v + 13;
    else if (!strncmp(v, "postgres://", 11)) rest = v + 11;
    else if (!strncmp(v, "postgres:", 9) || !strncmp(v, "postgresql:", 11))
        return "a PostgreSQL store is a URI postgresql://USER@HOST:PORT/DB";
    if (!rest) return NULL;
    size_t auth = strcspn(rest, "@/?");
    if (rest[auth] == '@' && memchr(rest, ':', auth))
        return "no password in the URI: use PGPASSWORD or a ~/.pgpass file";
    if (strstr(rest, "password=")) return "no password in the URI: use PGPASSWORD or ~/.pgpass";
    return NULL;
}

/* A bearer secret (metrics_token): RFC 6750 §2.1 b64token characters, long enough not to be
 * guessed (16 characters; `openssl rand -base64 32` gives 44). */
static const char *check_secret(const char *v)
{
    size_t n = strlen(v);
    if (n < 16) return "shorter than 16 characters";
    size_t i = strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/");
    i += strspn(v + i, "=");
    if (i != n) return "only letters, digits and -._~+/ (then = padding) are allowed";
    return NULL;
}

static const char *check_algs(const char *v)
{
    const char *p = v;
    const char *seen[8];
    size_t nseen = 0, lens[8];
    while (*p == ' ')
        p++;
    if (!*p) return "must name at least one algorithm";
    while (*p) {
        size_t l = strcspn(p, " ");
        if (!word_in(ALG_NAMES, p, l)) return "unknown algorithm (use " ALG_NAMES ")";
        for (size_t i = 0; i < nseen; i++)
            if (lens[i] == l && !strncmp(seen[i], p, l)) return "algorithm listed twice";
        if (nseen == 8) return "too many algorithms";
        seen[nseen] = p;
        lens[nseen++] = l;
        p += l;
        while (*p == ' ')
            p++;
    }
    return NULL;
}

/* ---- lifecycle ------------------------------------------------------------------------ */

cfg *cfg_new_defaults(void)
{
    cfg *c = xcalloc(1, sizeof *c);
    for (size_t i = 0; i < NOPTS; i++) {
        if (!opts[i].def) continue;
        optval v;
        char why[160];
        if (!opt_parse(&opts[i], opts[i].def, &v, why, sizeof why)) abort(); /* table bug */
        opt_store(c, &opts[i], &v);
    }
    return c;
}

void cfg_free(cfg *c)
{
    if (!c) return;
    for (size_t i = 0; i < NOPTS; i++) {
        if (opts[i].type == T_SECRET)
            mem_free_secret(*field_str(c, &opts[i]));
        else if (opt_is_str(&opts[i]))
            free(*field_str(c, &opts[i]));
    }
    free(c);
}

static cfg *cfg_copy(const cfg *src)
{
    cfg *c = xmalloc(sizeof *c);
    memcpy(c, src, sizeof *c);
    for (size_t i = 0; i < NOPTS; i++) {
        if (!opt_is_str(&opts[i])) continue;
        char **f = field_str(c, &opts[i]);
        if (*f) *f = xstrdup(*f);
    }
    return c;
}

/* Replaces *dst's contents by *src's, freeing both the old contents and the src shell. */
static void cfg_commit(cfg *dst, cfg *src)
{
    for (size_t i = 0; i < NOPTS; i++)
        if (opt_is_str(&opts[i])) free(*field_str(dst, &opts[i]));
    memcpy(dst, src, sizeof *dst);
    free(src);
}

/* ---- flags and environment ------------------------------------------------------------ */

idp_err cfg_set(cfg *c, const char *name, const char *value, idp_error *err)
{
    const opt *o = opt_find(name);
    if (!o) return IDP_FAIL(err, IDP_ERR_CONFIG, "%.64s: unknown option", name);
    optval v;
    char why[160];
    if (!value || !opt_parse(o, value, &v, why, sizeof why))
        return IDP_FAIL(err, IDP_ERR_CONFIG, "%s: %s", o->name, value ? why : "missing value");
    opt_store(c, o, &v);
    return IDP_OK;
}

/* "token_ttl" -> "IDPD_TOKEN_TTL" into out[64]. */
static void env_name(const opt *o, char out[64])
{
    size_t n = (size_t)snprintf(out, 64, "IDPD_%s", o->name);
    for (size_t i = 5; i < n && i < 63; i++)
        if (out[i] >= 'a' && out[i] <= 'z') out[i] = (char)(out[i] - 'a' + 'A');
}

idp_err cfg_load_env(cfg *c, idp_error *err)
{
    cfg *tmp = cfg_copy(c);
    idp_err rc = IDP_OK;
    for (size_t i = 0; i < NOPTS; i++) {
        char name[64];
        env_name(&opts[i], name);
        const char *val = getenv(name);
        if (!val || !*val) continue; /* an empty variable counts as unset */
        optval v;
        char why[160];
        if (!opt_parse(&opts[i], val, &v, why, sizeof why)) {
            rc = IDP_FAIL(err, IDP_ERR_CONFIG, "%s: %s: %s", name, opts[i].name, why);
            goto out;
        }
        opt_store(tmp, &opts[i], &v);
    }
    cfg_commit(c, tmp);
    tmp = NULL;
out:
    cfg_free(tmp);
    return rc;
}

/* ---- YAML ----------------------------------------------------------------------------- */

/* The file is read with ytree in YTREE_VERBATIM mode and walked in document order, so the first
 * problem in the file is the one reported, whether the YAML reader or an option found it. */

#define CFG_MAX_DEPTH 8     /* values are at depth 2; anything deeper is "must be a scalar" */
#define CFG_MAX_NODES 10000 /* a valid file has at most 2 * NOPTS + 1 */
_Static_assert(CFG_MAX_NODES > 4 * NOPTS + 8,
               "the walk meets an unknown or duplicate option before the node cap");

typedef struct yload {
    const char *file; /* for messages */
    cfg *tmp;
    int seen[NOPTS]; /* line where each option was set; 0 = not yet */
    idp_error *err;
    int hard_line; /* the reader's hard error, reported when the walk finds nothing before it */
    char hard[256];
} yload;

/* ytree_diag_fn: in YTREE_VERBATIM mode only hard errors arrive, and at most one. */
static void y_diag(void *ctx, int line, const char *msg)
{
    yload *y = ctx;
    y->hard_line = line;
    snprintf(y->hard, sizeof y->hard, "%s", msg);
}

/* Option names are [a-z0-9_]; anything else is not echoed into the message. */
static const char *printable_key(const char *k)
{
    if (!*k || strlen(k) > 64 || k[strspn(k, "abcdefghijklmnopqrstuvwxyz0123456789_")])
        return "(invalid name)";
    return k;
}

/* One "key: value" pair (val NULL: the reader stopped before it; only the key is checked). */
static idp_err y_pair(yload *y, const ypair *pr)
{
    const char *key = pr->key;
    int line = pr->line;
    idp_err rc = IDP_OK;
    if (!key) {
        return IDP_FAIL(y->err, IDP_ERR_CONFIG, "%s:%d: option names must be plain scalars",
                        y->file, line);
    }
    const opt *o = opt_find(key);
    if (!o)
        return IDP_FAIL(y->err, IDP_ERR_CONFIG, "%s:%d: %s: unknown option", y->file, line,
                        printable_key(key));
    size_t idx = (size_t)(o - opts);
    if (y->seen[idx])
        return IDP_FAIL(y->err, IDP_ERR_CONFIG,
                        "%s:%d: %s: duplicate option (first set on line %d)", y->file, line,
                        o->name, y->seen[idx]);
    y->seen[idx] = line;
    const ynode *v = pr->val;
    if (!v) return IDP_OK;
    line = v->line;
    if (v->flags & YTREE_ALIAS) {
        rc = IDP_FAIL(y->err, IDP_ERR_CONFIG, "%s:%d: %s: aliases are not allowed", y->file, line,
                      o->name);
    } else if (v->t != Y_STR && v->t != Y_NULL) {
        rc = IDP_FAIL(y->err, IDP_ERR_CONFIG, "%s:%d: %s: value must be a scalar", y->file, line,
                      o->name);
    } else if (v->flags & YTREE_NUL) {
        rc = IDP_FAIL(y->err, IDP_ERR_CONFIG, "%s:%d: %s: NUL in value", y->file, line, o->name);
    } else if (v->t == Y_NULL) {
        rc = IDP_FAIL(y->err, IDP_ERR_CONFIG, "%s:%d: %s: empty value", y->file, line, o->name);
    } else {
        optval ov;
        char why[160];
        if (opt_parse(o, v->s, &ov, why, sizeof why))
            opt_store(y->tmp, o, &ov);
        else
            rc = IDP_FAIL(y->err, IDP_ERR_CONFIG, "%s:%d: %s: %s", y->file, line, o->name, why);
    }
    return rc;
}

/* The document: a mapping of option: value, or nothing at all (an empty file or "---" alone).
 * root is what the reader read (NULL when it stopped before the first node). */
static idp_err y_walk(yload *y, const ynode *root)
{
    if (!root) return IDP_OK;
    if (root->t == Y_NULL && !root->flags) return IDP_OK;
    if (root->t != Y_MAP)
        return IDP_FAIL(y->err, IDP_ERR_CONFIG,
                        "%s:%d: the file must be a mapping of option: value", y->file, root->line);
    for (size_t i = 0; i < root->n; i++) {
        idp_err rc = y_pair(y, &root->pairs[i]);
        if (rc) return rc;
    }
    return IDP_OK;
}

idp_err cfg_load_string(cfg *c, const char *name, const char *data, size_t len, idp_error *err)
{
    if (len > CFG_MAX_FILE)
        return IDP_FAIL(err, IDP_ERR_CONFIG, "%s: larger than %u bytes", name, CFG_MAX_FILE);
    yload *y = xcalloc(1, sizeof *y);
    yarena *a = NULL;
    const ynode *root = NULL;
    y->file = name;
    y->err = err;
    const ytree_opts yo = {.max_depth = CFG_MAX_DEPTH,
                           .max_nodes = CFG_MAX_NODES,
                           .flags = YTREE_VERBATIM,
                           .diag = y_diag,
                           .ctx = y};
    idp_err hard = ytree_parse(data, len, &yo, &a, &root);
    idp_err rc = IDP_OK;
    if (hard == IDP_ERR_NOMEM) {
        rc = IDP_FAIL(err, IDP_ERR_NOMEM, "yaml_parser_initialize failed");
        goto out;
    }
    y->tmp = cfg_copy(c);
    if ((rc = y_walk(y, root)) != IDP_OK) goto out;
    if (hard) {
        rc = IDP_FAIL(err, hard, "%s:%d: %s", name, y->hard_line, y->hard);
        goto out;
    }
    cfg_commit(c, y->tmp);
    y->tmp = NULL;
out:
    cfg_free(y->tmp);
    ytree_free(a);
    free(y);
    return rc;
}

idp_err cfg_load_file(cfg *c, const char *path, idp_error *err)
{
    idp_err rc = IDP_OK;
    char *data = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return IDP_FAIL(err, IDP_ERR_CONFIG, "%s: cannot open: %s", path, strerror(errno));
    data = xmalloc(CFG_MAX_FILE + 1);
    size_t n = fread(data, 1, CFG_MAX_FILE + 1, f);
    if (ferror(f)) {
        rc = IDP_FAIL(err, IDP_ERR_CONFIG, "%s: read error", path);
        goto out;
    }
    rc = cfg_load_string(c, path, data, n, err);
out:
    free(data);
    fclose(f);
    return rc;
}

/* ---- validation ----------------------------------------------------------------------- */

static bool alg_listed(const cfg *c, const char *alg)
{
    return c->algs && alg && word_in(c->algs, alg, strlen(alg));
}

/* Every field against its own rule (a cfg may have been changed directly). */
static idp_err validate_fields(const cfg *c, idp_error *err)
{
    char why[160];
    for (size_t i = 0; i < NOPTS; i++) {
        const opt *o = &opts[i];
        if (opt_is_str(o)) {
            const char *s = field_cstr(c, o);
            if (!s && !o->def && strcmp(o->name, "data_dir")) continue; /* optional */
            if (!s) return IDP_FAIL(err, IDP_ERR_CONFIG, "%s: not set", o->name);
            if (!*s) return IDP_FAIL(err, IDP_ERR_CONFIG, "%s: empty value", o->name);
            if (!str_valid(o, s, why, sizeof why))
                return IDP_FAIL(err, IDP_ERR_CONFIG, "%s: %s", o->name, why);
        } else if (!num_in_range(o, field_num(c, o), why, sizeof why)) {
            return IDP_FAIL(err, IDP_ERR_CONFIG, "%s: %s", o->name, why);
        }
    }
    return IDP_OK;
}

idp_err cfg_validate(const cfg *c, idp_error *err)
{
    idp_err rc = validate_fields(c, err);
    if (rc) return rc;
    if (!alg_listed(c, c->default_alg))
        return IDP_FAIL(err, IDP_ERR_CONFIG, "default_alg: %s is not listed in algs",
                        c->default_alg);
    if (c->token_ttl > c->max_token_ttl)
        return IDP_FAIL(err, IDP_ERR_CONFIG, "token_ttl: longer than max_token_ttl");
    /* A cache may hold the JWKS for max-age: a key must be published at least that long before
     * it signs, or verifiers with a cached JWKS would not know it (DESIGN §6). */
    if (c->jwks_max_age > c->publish_ahead)
        return IDP_FAIL(err, IDP_ERR_CONFIG, "jwks_max_age: longer than publish_ahead");
    /* The next key is created at a rotation and promoted at the following one. */
    if (c->publish_ahead > c->rotation_period)
        return IDP_FAIL(err, IDP_ERR_CONFIG, "publish_ahead: longer than rotation_period");
    return IDP_OK;
}

/* ---- printing ------------------------------------------------------------------------- */

static void print_dur(FILE *f, int64_t s)
{
    static const struct {
        int64_t mul;
        char unit;
    } u[] = {{7 * DAY, 'w'}, {DAY, 'd'}, {3600, 'h'}, {60, 'm'}};
    for (size_t i = 0; s > 0 && i < sizeof u / sizeof *u; i++) {
        if (s % u[i].mul == 0) {
            fprintf(f, "%lld%c", (long long)(s / u[i].mul), u[i].unit);
            return;
        }
    }
    fprintf(f, "%llds", (long long)s);
}

/* A YAML double-quoted scalar (values never contain control characters). */
static void print_quoted(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') fputc('\\', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

void cfg_print(const cfg *c, void *file)
{
    FILE *f = file;
    for (size_t i = 0; i < NOPTS; i++) {
        const opt *o = &opts[i];
        if (opt_is_str(o) && !field_cstr(c, o)) {
            fprintf(f, "# %s: (not set)\n", o->name);
            continue;
        }
        if (o->type == T_SECRET) {
            fprintf(f, "# %s: (set, not shown)\n", o->name);
            continue;
        }
        fprintf(f, "%s: ", o->name);
        if (opt_is_str(o))
            print_quoted(f, field_cstr(c, o));
        else if (o->type == T_DUR)
            print_dur(f, field_num(c, o));
        else
            fprintf(f, "%lld", (long long)field_num(c, o));
        fputc('\n', f);
    }
}
