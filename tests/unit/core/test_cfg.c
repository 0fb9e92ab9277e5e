/* Unit tests for src/core/cfg.c: defaults, YAML file loading and its rejections, environment
 * and flag precedence, validation, printing, and docs/CONFIG.md staying in step with the table. */
#include "testutil.h"

#include "core/buf.h"
#include "core/cfg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Writes text to DIR/name and returns the path (owned). */
static char *write_file(const char *dir, const char *name, const char *text)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    snprintf(p, n, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return p;
}

/* Loads text as a file; returns the code and copies the message into msg[240]. */
static idp_err load_text(cfg *c, const char *text, char *msg)
{
    idp_error e = {0};
    idp_err rc = cfg_load_string(c, "t.yaml", text, strlen(text), &e);
    if (msg) memcpy(msg, e.msg, sizeof e.msg);
    return rc;
}

static cfg *valid_cfg(void)
{
    cfg *c = cfg_new_defaults();
    assert_int_equal(cfg_set(c, "data_dir", "/tmp/x", NULL), IDP_OK);
    return c;
}

static void defaults(void **state)
{
    cfg *c = cfg_new_defaults();
    assert_null(c->data_dir);
    assert_string_equal(c->issuer, "http://127.0.0.1:8080");
    assert_string_equal(c->listen, "127.0.0.1:8080");
    assert_int_equal(c->threads, 0);
    assert_int_equal(c->max_body, 65536);
    assert_int_equal(c->token_ttl, 300);
    assert_int_equal(c->max_token_ttl, 3600);
    assert_string_equal(c->default_alg, "ES256");
    assert_string_equal(c->algs, "ES256 RS256 PS256 EdDSA");
    assert_int_equal(c->rotation_period, 30 * 86400);
    assert_int_equal(c->publish_ahead, 86400);
    assert_int_equal(c->jwks_max_age, 300);
    assert_int_equal(c->leeway, 30);
    assert_int_equal(c->rsa_bits, 3072);
    assert_null(c->master_key_file);
    assert_string_equal(c->log_level, "info");
    assert_int_equal(c->poll_interval_ms, 250);
    /* defaults + data_dir are a valid configuration; without data_dir they are not */
    idp_error e = {0};
    assert_int_equal(cfg_validate(c, &e), IDP_ERR_CONFIG);
    assert_string_equal(e.msg, "data_dir: not set");
    assert_int_equal(cfg_set(c, "data_dir", "/tmp/x", NULL), IDP_OK);
    assert_int_equal(cfg_validate(c, NULL), IDP_OK);
    cfg_free(c);
    cfg_free(NULL);
}

static void file_good(void **state)
{
    char *dir = tu_tmpdir();
    char *p = write_file(dir, "idpd.yaml",
                         "# comment\n"
                         "data_dir: /var/lib/idpd\n"
                         "issuer: \"https://id.example.com/tenant\"\n"
                         "listen: '[::1]:0'\n"
                         "threads: 4\n"
                         "max_body: 128KiB\n"
                         "token_ttl: 10m\n"
                         "max_token_ttl: 2h\n"
                         "algs: ES256 EdDSA\n"
                         "default_alg: EdDSA\n"
                         "rotation_period: 2w\n"
                         "publish_ahead: 2d\n"
                         "jwks_max_age: 1h\n"
                         "leeway: 0\n"
                         "rsa_bits: 4096\n"
                         "master_key_file: /etc/idpd/master.key\n"
                         "log_level: debug\n"
                         "poll_interval_ms: 1000\n");
    cfg *c = cfg_new_defaults();
    idp_error e = {0};
    assert_int_equal(cfg_load_file(c, p, &e), IDP_OK);
    assert_string_equal(c->data_dir, "/var/lib/idpd");
    assert_string_equal(c->issuer, "https://id.example.com/tenant");
    assert_string_equal(c->listen, "[::1]:0");
    assert_int_equal(c->threads, 4);
    assert_int_equal(c->max_body, 128 * 1024);
    assert_int_equal(c->token_ttl, 600);
    assert_int_equal(c->max_token_ttl, 7200);
    assert_string_equal(c->algs, "ES256 EdDSA");
    assert_string_equal(c->default_alg, "EdDSA");
    assert_int_equal(c->rotation_period, 14 * 86400);
    assert_int_equal(c->publish_ahead, 2 * 86400);
    assert_int_equal(c->jwks_max_age, 3600);
    assert_int_equal(c->leeway, 0);
    assert_int_equal(c->rsa_bits, 4096);
    assert_string_equal(c->master_key_file, "/etc/idpd/master.key");
    assert_string_equal(c->log_level, "debug");
    assert_int_equal(c->poll_interval_ms, 1000);
    assert_int_equal(cfg_validate(c, &e), IDP_OK);
    cfg_free(c);
    free(p);
    tu_rmtree(dir);
    free(dir);
}

static void file_empty_and_missing(void **state)
{
    cfg *c = cfg_new_defaults();
    char msg[240];
    assert_int_equal(load_text(c, "", msg), IDP_OK);
    assert_int_equal(load_text(c, "# only a comment\n", msg), IDP_OK);
    assert_int_equal(load_text(c, "---\n...\n", msg), IDP_OK);
    assert_int_equal(c->token_ttl, 300);
    idp_error e = {0};
    assert_int_equal(cfg_load_file(c, "/nonexistent/idpd.yaml", &e), IDP_ERR_CONFIG);
    assert_non_null(strstr(e.msg, "/nonexistent/idpd.yaml: cannot open"));
    cfg_free(c);
}

static void file_unknown_key_has_line(void **state)
{
    char *dir = tu_tmpdir();
    char *p = write_file(dir, "c.yaml", "token_ttl: 5m\n\nlisten: 127.0.0.1:9\ntoken_tll: 6m\n");
    cfg *c = cfg_new_defaults();
    idp_error e = {0};
    assert_int_equal(cfg_load_file(c, p, &e), IDP_ERR_CONFIG);
    char want[512];
    snprintf(want, sizeof want, "%s:4: token_tll: unknown option", p);
    assert_string_equal(e.msg, want);
    /* nothing applied: the load is all or nothing */
    assert_string_equal(c->listen, "127.0.0.1:8080");
    cfg_free(c);
    free(p);
    tu_rmtree(dir);
    free(dir);
}

static void file_rejections(void **state)
{
    static const struct {
        const char *text;
        const char *msg;
    } cases[] = {
        {"token_ttl: 5m\nleeway: 1\ntoken_ttl: 6m\n",
         "t.yaml:3: token_ttl: duplicate option (first set on line 1)"},
        {"issuer:\n  url: https://x\n", "t.yaml:2: issuer: value must be a scalar"},
        {"algs: [ES256, RS256]\n", "t.yaml:1: algs: value must be a scalar"},
        {"algs:\n  - ES256\n", "t.yaml:2: algs: value must be a scalar"},
        {"token_ttl: 5 minutes\n",
         "t.yaml:1: token_ttl: not a duration (e.g. 90s, 15m, 12h, 30d, 2w)"},
        {"token_ttl: -5\n", "t.yaml:1: token_ttl: not a duration (e.g. 90s, 15m, 12h, 30d, 2w)"},
        {"token_ttl: 0\n", "t.yaml:1: token_ttl: must be between 1s and 2592000s"},
        {"token_ttl:\n", "t.yaml:1: token_ttl: empty value"},
        {"token_ttl: ~\n", "t.yaml:1: token_ttl: empty value"},
        {"rsa_bits: 1024\n", "t.yaml:1: rsa_bits: must be between 2048 and 8192"},
        {"rsa_bits: 0x800\n", "t.yaml:1: rsa_bits: not a non-negative decimal integer"},
        {"threads: 99999999999999999999\n",
         "t.yaml:1: threads: not a non-negative decimal integer"},
        {"max_body: 1G\n", "t.yaml:1: max_body: not a size (e.g. 65536, 64KiB, 1MiB)"},
        {"max_body: 100\n", "t.yaml:1: max_body: must be between 1024 and 16777216"},
        {"log_level: verbose\n", "t.yaml:1: log_level: must be one of: debug info warn error"},
        {"default_alg: HS256\n", "t.yaml:1: default_alg: must be one of: ES256 RS256 PS256 EdDSA"},
        {"algs: ES256 none\n", "t.yaml:1: algs: unknown algorithm (use ES256 RS256 PS256 EdDSA)"},
        {"algs: ES256 ES256\n", "t.yaml:1: algs: algorithm listed twice"},
        {"issuer: ftp://x\n", "t.yaml:1: issuer: must be an absolute http:// or https:// URL"},
        {"listen: 8080\n", "t.yaml:1: listen: must be HOST:PORT"},
        {"data_dir: \"a\\nb\"\n", "t.yaml:1: data_dir: control character in value"},
        {"? [a]\n: 1\n", "t.yaml:1: option names must be plain scalars"},
        {"- token_ttl\n", "t.yaml:1: the file must be a mapping of option: value"},
        {"just text\n", "t.yaml:1: the file must be a mapping of option: value"},
        {"token_ttl: 5m\n---\nleeway: 1\n", "t.yaml:2: only one YAML document is allowed"},
        {"a: &x 5m\n", "t.yaml:1: a: unknown option"},
        {"Bad Key!: 1\n", "t.yaml:1: (invalid name): unknown option"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        cfg *c = cfg_new_defaults();
        char msg[240];
        idp_err rc = load_text(c, cases[i].text, msg);
        if (rc != IDP_ERR_CONFIG || strcmp(msg, cases[i].msg))
            fail_msg("case %zu: got %d \"%s\", want \"%s\"", i, rc, msg, cases[i].msg);
        assert_int_equal(c->token_ttl, 300); /* unchanged */
        cfg_free(c);
    }
}

static void file_alias_and_malformed(void **state)
{
    cfg *c = cfg_new_defaults();
    char msg[240];
    assert_int_equal(load_text(c, "leeway: &x 5\ntoken_ttl: *x\n", msg), IDP_ERR_CONFIG);
    assert_string_equal(msg, "t.yaml:2: token_ttl: aliases are not allowed");
    assert_int_equal(load_text(c, "token_ttl: \"5m\n", msg), IDP_ERR_CONFIG);
    assert_non_null(strstr(msg, "t.yaml:"));
    assert_non_null(strstr(msg, "malformed YAML"));
    assert_int_equal(load_text(c, "{leeway: 5\n", msg), IDP_ERR_CONFIG);
    assert_non_null(strstr(msg, "malformed YAML"));
    assert_int_equal(c->leeway, 30);
    cfg_free(c);
}

static void file_flow_mapping_and_quotes(void **state)
{
    cfg *c = cfg_new_defaults();
    char msg[240];
    assert_int_equal(load_text(c, "{token_ttl: 60, \"leeway\": '5'}\n", msg), IDP_OK);
    assert_int_equal(c->token_ttl, 60);
    assert_int_equal(c->leeway, 5);
    /* a quoted "null" is a string, not YAML's null */
    assert_int_equal(load_text(c, "master_key_file: \"null\"\n", msg), IDP_OK);
    assert_string_equal(c->master_key_file, "null");
    cfg_free(c);
}

static void env_overrides_file(void **state)
{
    cfg *c = cfg_new_defaults();
    assert_int_equal(load_text(c, "token_ttl: 10m\nlisten: 127.0.0.1:1\n", NULL), IDP_OK);
    setenv("IDPD_TOKEN_TTL", "2m", 1);
    setenv("IDPD_MAX_TOKEN_TTL", "", 1); /* empty = unset */
    idp_error e = {0};
    assert_int_equal(cfg_load_env(c, &e), IDP_OK);
    assert_int_equal(c->token_ttl, 120);
    assert_int_equal(c->max_token_ttl, 3600);
    assert_string_equal(c->listen, "127.0.0.1:1");

    /* a bad variable names itself and changes nothing */
    setenv("IDPD_TOKEN_TTL", "7m", 1);
    setenv("IDPD_RSA_BITS", "12", 1);
    assert_int_equal(cfg_load_env(c, &e), IDP_ERR_CONFIG);
    assert_string_equal(e.msg, "IDPD_RSA_BITS: rsa_bits: must be between 2048 and 8192");
    assert_int_equal(c->token_ttl, 120);
    unsetenv("IDPD_RSA_BITS");
    unsetenv("IDPD_MAX_TOKEN_TTL");

    /* flags (cfg_set) come last and beat the environment */
    assert_int_equal(cfg_load_env(c, &e), IDP_OK);
    assert_int_equal(c->token_ttl, 420);
    assert_int_equal(cfg_set(c, "token_ttl", "90s", &e), IDP_OK);
    assert_int_equal(c->token_ttl, 90);
    unsetenv("IDPD_TOKEN_TTL");
    cfg_free(c);
}

static void set_rejections(void **state)
{
    cfg *c = cfg_new_defaults();
    idp_error e = {0};
    assert_int_equal(cfg_set(c, "nope", "1", &e), IDP_ERR_CONFIG);
    assert_string_equal(e.msg, "nope: unknown option");
    assert_int_equal(cfg_set(c, "listen", NULL, &e), IDP_ERR_CONFIG);
    assert_string_equal(e.msg, "listen: missing value");
    assert_int_equal(cfg_set(c, "listen", "", &e), IDP_ERR_CONFIG);
    assert_string_equal(e.msg, "listen: empty value");
    assert_int_equal(cfg_set(c, "listen", "::1:80", &e), IDP_ERR_CONFIG);
    assert_string_equal(e.msg, "listen: IPv6 host must be written [ADDR]");
    assert_int_equal(cfg_set(c, "listen", "127.0.0.1:65536", &e), IDP_ERR_CONFIG);
    assert_string_equal(e.msg, "listen: port must be 0..65535");
    assert_int_equal(cfg_set(c, "listen", ":80", &e), IDP_ERR_CONFIG);
    assert_int_equal(cfg_set(c, "listen", "localhost:", &e), IDP_ERR_CONFIG);
    assert_int_equal(cfg_set(c, "listen", "[]:80", &e), IDP_ERR_CONFIG);
    assert_int_equal(cfg_set(c, "algs", "   ", &e), IDP_ERR_CONFIG);
    assert_string_equal(e.msg, "algs: must name at least one algorithm");
    assert_string_equal(c->listen, "127.0.0.1:8080");
    assert_int_equal(cfg_set(c, "listen", "localhost:0", &e), IDP_OK);
    assert_int_equal(cfg_set(c, "max_body", "1MiB", &e), IDP_OK);
    assert_int_equal(c->max_body, 1024 * 1024);
    assert_int_equal(cfg_set(c, "max_body", "2k", &e), IDP_OK);
    assert_int_equal(c->max_body, 2048);
    cfg_free(c);
}

static void issuer_rules(void **state)
{
    static const char *bad[] = {
        "127.0.0.1:8080",           /* no scheme */
        "HTTPS://x",                /* scheme is matched exactly */
        "https://",                 /* no host */
        "https:///path",            /* no host */
        "https://id.example.com/",  /* trailing slash */
        "https://id.example.com?a", /* query */
        "https://id.example.com#f", /* fragment */
        "https://u:p@id.example.com",
        "https://id.example.com/a b",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        cfg *c = valid_cfg();
        idp_error e = {0};
        if (cfg_set(c, "issuer", bad[i], &e) != IDP_ERR_CONFIG) fail_msg("accepted %s", bad[i]);
        assert_non_null(strstr(e.msg, "issuer: "));
        /* set directly (bypassing cfg_set): cfg_validate catches it too */
        free(c->issuer);
        c->issuer = strdup(bad[i]);
        assert_int_equal(cfg_validate(c, NULL), IDP_ERR_CONFIG);
        cfg_free(c);
    }
    cfg *c = valid_cfg();
    assert_int_equal(cfg_set(c, "issuer", "https://id.example.com:8443/t/1", NULL), IDP_OK);
    assert_int_equal(cfg_validate(c, NULL), IDP_OK);
    cfg_free(c);
}

static void validate_cross_checks(void **state)
{
    static const struct {
        const char *name, *value, *msg;
    } cases[] = {
        {"jwks_max_age", "2d", "jwks_max_age: longer than publish_ahead"},
        {"default_alg", "RS256", "default_alg: RS256 is not listed in algs"},
        {"token_ttl", "2h", "token_ttl: longer than max_token_ttl"},
        {"publish_ahead", "60d", "publish_ahead: longer than rotation_period"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        cfg *c = valid_cfg();
        assert_int_equal(cfg_set(c, "algs", "ES256 EdDSA", NULL), IDP_OK);
        assert_int_equal(cfg_validate(c, NULL), IDP_OK);
        assert_int_equal(cfg_set(c, cases[i].name, cases[i].value, NULL), IDP_OK);
        idp_error e = {0};
        assert_int_equal(cfg_validate(c, &e), IDP_ERR_CONFIG);
        assert_string_equal(e.msg, cases[i].msg);
        cfg_free(c);
    }
}

static void validate_fields_set_directly(void **state)
{
    idp_error e = {0};
    cfg *c = valid_cfg();
    c->rsa_bits = 1024;
    assert_int_equal(cfg_validate(c, &e), IDP_ERR_CONFIG);
    assert_string_equal(e.msg, "rsa_bits: must be between 2048 and 8192");
    c->rsa_bits = 9000;
    assert_int_equal(cfg_validate(c, &e), IDP_ERR_CONFIG);
    c->rsa_bits = 2048;
    free(c->listen);
    c->listen = strdup("nohostport");
    assert_int_equal(cfg_validate(c, &e), IDP_ERR_CONFIG);
    assert_string_equal(e.msg, "listen: must be HOST:PORT");
    free(c->listen);
    c->listen = strdup("0.0.0.0:443");
    free(c->log_level);
    c->log_level = NULL;
    assert_int_equal(cfg_validate(c, &e), IDP_ERR_CONFIG);
    assert_string_equal(e.msg, "log_level: not set");
    c->log_level = strdup("warn");
    assert_int_equal(cfg_validate(c, &e), IDP_OK);
    cfg_free(c);
}

static void print_roundtrip(void **state)
{
    cfg *c = valid_cfg();
    assert_int_equal(load_text(c,
                               "token_ttl: 90\nrotation_period: 3d\npublish_ahead: 36h\n"
                               "issuer: \"https://x.example/a\\\\b\"\nleeway: 0\n",
                               NULL),
                     IDP_ERR_CONFIG); /* backslash in issuer is refused */
    assert_int_equal(load_text(c,
                               "token_ttl: 90\nrotation_period: 3d\npublish_ahead: 36h\n"
                               "data_dir: \"/tmp/with \\\"quote\\\"\"\nleeway: 0\n",
                               NULL),
                     IDP_OK);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cfg_print(c, f);
    fclose(f);
    assert_non_null(strstr(buf, "token_ttl: 90s\n"));
    assert_non_null(strstr(buf, "rotation_period: 3d\n"));
    assert_non_null(strstr(buf, "publish_ahead: 36h\n"));
    assert_non_null(strstr(buf, "# master_key_file: (not set)\n"));
    cfg *d = cfg_new_defaults();
    assert_int_equal(load_text(d, buf, NULL), IDP_OK);
    assert_string_equal(d->data_dir, "/tmp/with \"quote\"");
    assert_int_equal(d->token_ttl, 90);
    assert_int_equal(d->rotation_period, 3 * 86400);
    assert_int_equal(d->publish_ahead, 36 * 3600);
    assert_int_equal(d->leeway, 0);
    free(buf);
    cfg_free(c);
    cfg_free(d);
}

/* metrics_token is a secret: validated (length, b64token characters), never printed. */
static void secret_option(void **state)
{
    (void)state;
    cfg *c = valid_cfg();
    assert_int_equal(load_text(c, "metrics_token: short\n", NULL), IDP_ERR_CONFIG);
    assert_int_equal(load_text(c, "metrics_token: \"has a space in it here\"\n", NULL), IDP_ERR_CONFIG);
    assert_null(c->metrics_token);
    assert_int_equal(load_text(c, "metrics_token: s3cret-metrics-token-value==\n", NULL), IDP_OK);
    assert_string_equal(c->metrics_token, "s3cret-metrics-token-value==");
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cfg_print(c, f);
    fclose(f);
    assert_null(strstr(buf, "s3cret"));
    assert_non_null(strstr(buf, "# metrics_token: (set, not shown)\n"));
    free(buf);
    cfg_free(c);
}

/* Option names listed by cfg_print (the table), in order, space-separated. */
static char *table_names(void)
{
    cfg *c = cfg_new_defaults();
    char *buf = NULL;
    size_t len = 0;
    idp_buf names;
    buf_init(&names, 0);
    FILE *f = open_memstream(&buf, &len);
    cfg_print(c, f);
    fclose(f);
    for (char *line = buf; line && *line;) {
        char *nl = strchr(line, '\n');
        const char *s = line[0] == '#' ? line + 2 : line;
        size_t n = strcspn(s, ":");
        buf_append(&names, s, n);
        buf_putc(&names, ' ');
        line = nl ? nl + 1 : NULL;
    }
    free(buf);
    cfg_free(c);
    return buf_steal(&names);
}

/* docs/CONFIG.md has one table row "| `name` | `IDPD_NAME` | ..." per option, in table order. */
static void docs_match_table(void **state)
{
    const char *src = getenv("IDPD_SRC");
    if (!src) skip();
    char path[4096];
    snprintf(path, sizeof path, "%s/docs/CONFIG.md", src);
    char *doc = tu_read_file(path, NULL);
    assert_non_null(doc);
    char *names = table_names();
    idp_buf found;
    buf_init(&found, 0);
    for (char *p = strstr(doc, "\n| `"); p; p = strstr(p + 1, "\n| `")) {
        const char *name = p + 4;
        size_t n = strcspn(name, "`");
        buf_append(&found, name, n);
        buf_putc(&found, ' ');
        /* the env column: IDPD_ + upper-case name */
        char env[80] = "| `IDPD_";
        for (size_t i = 0; i < n && i < 60; i++) {
            char ch = name[i];
            env[8 + i] = (char)(ch >= 'a' && ch <= 'z' ? ch - 'a' + 'A' : ch);
            env[9 + i] = '\0';
        }
        const char *row_end = strchr(name, '\n');
        const char *e = strstr(name, env);
        if (!e || (row_end && e > row_end))
            fail_msg("docs row for %.*s lacks %s`", (int)n, name, env + 3);
    }
    assert_string_equal(buf_cstr(&found), names);
    buf_free(&found);
    free(names);
    free(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults),
        cmocka_unit_test(file_good),
        cmocka_unit_test(file_empty_and_missing),
        cmocka_unit_test(file_unknown_key_has_line),
        cmocka_unit_test(file_rejections),
        cmocka_unit_test(file_alias_and_malformed),
        cmocka_unit_test(file_flow_mapping_and_quotes),
        cmocka_unit_test(env_overrides_file),
        cmocka_unit_test(set_rejections),
        cmocka_unit_test(issuer_rules),
        cmocka_unit_test(validate_cross_checks),
        cmocka_unit_test(validate_fields_set_directly),
        cmocka_unit_test(print_roundtrip),
        cmocka_unit_test(secret_option),
        cmocka_unit_test(docs_match_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
