/* cfg — idpd configuration: one declarative table (cfg.c) gives every option its name, type,
 * default and validator; the YAML config file, IDPD_<NAME> environment overrides, command-line
 * flags, `idpd serve --check` and docs/CONFIG.md all derive from it (STYLE.md habit 10).
 * A parsed cfg is immutable; reload builds a new one. */
#ifndef IDPD_CORE_CFG_H
#define IDPD_CORE_CFG_H

#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cfg {
    char *data_dir;         /* data_dir: store, master key (required) */
    char *store;            /* store: where the store is: NULL = SQLite DATA_DIR/idpd.db; a SQLite
                               path, "sqlite:PATH", or "postgresql://..." (no password in it) */
    int store_pool;         /* store_pool: PostgreSQL connections per process (4) */
    char *issuer;           /* issuer: "http://127.0.0.1:8080"; no trailing slash */
    char *listen;           /* listen: "127.0.0.1:8080"; port 0 = ephemeral */
    int threads;            /* threads: HTTP worker threads; 0 = one per core */
    int64_t max_body;       /* max_body: request body cap in bytes (default 65536) */
    int max_connections;    /* max_connections: concurrent connections in all (4096) */
    int max_connections_per_ip; /* max_connections_per_ip: from one address (64); 0 = no limit */
    int64_t request_header_timeout; /* request_header_timeout: s from accept (or the end of the
                                       previous request) to the end of the request head (10) */
    int64_t token_ttl;      /* token_ttl: default access-token lifetime, s (300) */
    int64_t max_token_ttl;  /* max_token_ttl: longest lifetime a client may get, s (3600) */
    char *default_alg;      /* default_alg: "ES256" */
    char *algs;             /* algs: signing algorithms keys are kept for, space-separated
                               ("ES256 RS256 PS256 EdDSA") */
    int64_t rotation_period;/* rotation_period: how long a key signs, s (30d) */
    int64_t publish_ahead;  /* publish_ahead: min time a key is in the JWKS before it signs (1d) */
    int64_t jwks_max_age;   /* jwks_max_age: JWKS Cache-Control max-age, s (300; <= publish_ahead) */
    int64_t leeway;         /* leeway: clock skew allowed when checking exp/nbf/iat, s (30) */
    int rsa_bits;           /* rsa_bits: RSA key size for new keys (2048..8192; 3072) */
    char *master_key_file;  /* master_key_file: default <data_dir>/master.key;
                               env IDPD_MASTER_KEY (base64url, 32 bytes) overrides the file */
    char *metrics_token;    /* metrics_token: Bearer token /metrics requires; NULL = open (secret:
                               never printed, wiped on free) */
    char *log_level;        /* log_level: debug|info|warn|error (info) */
    int64_t poll_interval_ms; /* poll_interval_ms: how often the server checks the store for
                                 changes made by other processes (250) */
    int scim_rate;          /* scim_rate: SCIM requests per second per provisioning key (50) */
    int scim_burst;         /* scim_burst: SCIM requests a key may make at once (100) */
    int64_t session_idle;   /* session_idle: browser session idle timeout, s (1h) */
    int64_t session_max;    /* session_max: browser session absolute lifetime, s (12h) */
    int64_t refresh_ttl;    /* refresh_ttl: refresh token family lifetime, s (30d) */
    int64_t refresh_grace;  /* refresh_grace: same successor for a racing refresh, s (10) */
    int login_free_failures; /* login_free_failures: failures per account and address before
                                back-off (5) */
    int login_address_free_failures; /* login_address_free_failures: per address, any account
                                        (100; 0 = none) */
    int login_throttle_max_keys; /* login_throttle_max_keys: failure counters kept (100000) */
    int verify_cache_size;  /* verify_cache_size: verified access tokens cached (10000; 0 = off) */
    char *trusted_proxies;  /* trusted_proxies: CIDRs whose X-Forwarded-For is believed, or NULL */
    int64_t audit_retention; /* audit_retention: audit events kept this long, s (90d) */
    int64_t audit_max_events; /* audit_max_events: audit events kept at most (10000000) */
    int argon2_t;           /* argon2_t: Argon2id iterations of user passwords (2) */
    int argon2_m_kib;       /* argon2_m_kib: Argon2id memory, KiB (19456 = 19 MiB) */
    int argon2_p;           /* argon2_p: Argon2id lanes (1) */
    char *policy_env;       /* policy_env: environment overlay of the policy, or NULL */
    char *policy_file;      /* policy_file: applied at start and on SIGHUP when changed, or NULL */
} cfg;

/* A cfg filled with the defaults (data_dir NULL). Owned (cfg_free). */
cfg *cfg_new_defaults(void);
void cfg_free(cfg *c);
/* Applies a YAML file (a flat mapping of option names to scalars). Unknown names, bad values and
 * malformed YAML are errors whose message names the file, line and option. */
idp_err cfg_load_file(cfg *c, const char *path, idp_error *err);
/* Same as cfg_load_file on a YAML text in memory (len <= 1 MiB); name is used in messages.
 * On any error c is unchanged. */
idp_err cfg_load_string(cfg *c, const char *name, const char *data, size_t len, idp_error *err);
/* Applies IDPD_<UPPERCASE_NAME> environment variables that are set. */
idp_err cfg_load_env(cfg *c, idp_error *err);
/* Sets one option by name from a string, validating it. */
idp_err cfg_set(cfg *c, const char *name, const char *value, idp_error *err);
/* Cross-field checks (issuer is an absolute http(s) URL, jwks_max_age <= publish_ahead,
 * default_alg is among algs, token_ttl <= max_token_ttl, ...). */
idp_err cfg_validate(const cfg *c, idp_error *err);
/* Writes the effective configuration (name: value lines, YAML) to out; no secrets in cfg. */
void cfg_print(const cfg *c, void *file /* FILE* */);

#endif
