/* idpd key list|rotate — the signing keys' lifecycle for operators (DESIGN §6). */
#include "cli/cli.h"

#include "core/timeutil.h"
#include "jose/jwk.h"
#include "keys/rotation.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char key_help[] =
    "Usage: idpd key <list|rotate> [options]\n"
    "  list          list the signing keys (next, current, retired)\n"
    "  rotate        promote the next key to current, retire the current one, create a new next\n"
    "Run 'idpd key <subcommand> --help' for the options of each.\n";

static const char list_help[] = "Usage: idpd key list [--json]\n"
                                "JSON: [{\"kid\",\"alg\",\"state\",\"created_at\",\"activated_at\","
                                "\"retired_at\"}] (times in seconds since the epoch, null when "
                                "not yet)\n" CLI_COMMON_HELP;

static const char rotate_help[] =
    "Usage: idpd key rotate [--alg ALG] [--force] [--json]\n"
    "Rotates ALG (default: every algorithm in the configured algs). Without --force it refuses\n"
    "while the next key has been published for less than publish_ahead, since verifiers with a\n"
    "cached JWKS would not know it yet. The store keeps at most 64 keys: when a rotation\n"
    "would go past that, the keys retired longest ago are deleted (tokens they signed stop\n"
    "verifying).\n"
    "  --alg ALG          ES256|RS256|PS256|EdDSA\n"
    "  --force            rotate even if the next key is younger than "
    "publish_ahead\n" CLI_COMMON_HELP;

enum { OPT_ALG = CLI_OPT_FIRST_CMD, OPT_FORCE };

static const char *state_name(key_state s)
{
    switch (s) {
    case KEY_NEXT:
        return "next";
    case KEY_CURRENT:
        return "current";
    case KEY_RETIRED:
        return "retired";
    }
    return "unknown";
}

static json_t *time_or_null(int64_t t)
{
    return t ? json_integer(t) : json_null();
}

static json_t *keys_json(const store_key *rows, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_pack("{s:s, s:s, s:s, s:o, s:o, s:o}", "kid", rows[i].kid, "alg",
                              rows[i].alg, "state", state_name(rows[i].state), "created_at",
                              time_or_null(rows[i].created_at), "activated_at",
                              time_or_null(rows[i].activated_at), "retired_at",
                              time_or_null(rows[i].retired_at));
        if (!o) abort();
        json_array_append_new(a, o);
    }
    return a;
}

static void print_time(int64_t t)
{
    char s[21] = "-";
    if (t) time_format_rfc3339(t, s);
    printf(" %-20s", s);
}

static int list_keys(cli *c, json_t **as_json)
{
    store_key *rows = NULL;
    size_t n = 0;
    idp_error e = {0};
    if (store_key_list(c->st, &rows, &n, &e) != IDP_OK) return cli_fail_err(c, &e);
    if (as_json) {
        *as_json = keys_json(rows, n);
    } else {
        printf("%-43s %-6s %-7s %-20s %-20s %-20s\n", "KID", "ALG", "STATE", "CREATED", "ACTIVATED",
               "RETIRED");
        for (size_t i = 0; i < n; i++) {
            printf("%-43s %-6s %-7s", rows[i].kid, rows[i].alg, state_name(rows[i].state));
            print_time(rows[i].created_at);
            print_time(rows[i].activated_at);
            print_time(rows[i].retired_at);
            putchar('\n');
        }
    }
    store_key_list_free(rows, n);
    return CLI_OK;
}

/* Rotates alg_name or every configured algorithm. */
static int rotate(cli *c, const char *alg_name, bool force)
{
    idp_error e = {0};
    json_t *done = json_array(), *keys = NULL;
    int64_t now = time_now();
    int rc = CLI_OK;
    const char *p = alg_name ? alg_name : c->cfg->algs;
    while (*p) {
        size_t l = strcspn(p, " ");
        jws_alg alg = jws_alg_from_name(p, l);
        if (rotation_rotate(c->st, c->kek, c->cfg, alg, force, now, &e) != IDP_OK) {
            rc = cli_fail(c, "%.*s: %s", (int)l, p, e.msg);
            goto out;
        }
        char detail[64];
        snprintf(detail, sizeof detail, "{\"alg\":\"%.*s\",\"force\":%s}", (int)l, p,
                 force ? "true" : "false");
        cli_audit(c, "key.rotate", "SigningKey", NULL, detail, NULL);
        json_array_append_new(done, json_stringn(p, l));
        if (!c->json) printf("rotated %.*s\n", (int)l, p);
        p += l;
        p += strspn(p, " ");
    }
    if (c->json) {
        if ((rc = list_keys(c, &keys)) != CLI_OK) goto out;
        cli_print_json(json_pack("{s:O, s:O}", "rotated", done, "keys", keys));
    }
out:
    json_decref(keys);
    json_decref(done);
    return rc;
}

static int key_alg_ok(cli *c, const char *alg)
{
    if (jws_alg_from_name(alg, strlen(alg)) == JWS_ALG_INVALID)
        return cli_usage(c, "--alg: must be one of ES256 RS256 PS256 EdDSA");
    size_t l = strlen(alg);
    for (const char *p = c->cfg->algs; *p; p += strspn(p, " ")) {
        size_t m = strcspn(p, " ");
        if (m == l && !strncmp(p, alg, l)) return CLI_OK;
        p += m;
    }
    return cli_usage(c, "--alg: %s is not in the configured algs (%s)", alg, c->cfg->algs);
}

int cli_key_main(int argc, char **argv)
{
    static const struct option lo[] = {CLI_COMMON_OPTIONS,
                                       {"alg", required_argument, NULL, OPT_ALG},
                                       {"force", no_argument, NULL, OPT_FORCE},
                                       {0, 0, 0, 0}};
    static const struct option lo_list[] = {CLI_COMMON_OPTIONS, {0, 0, 0, 0}};
    const char *sub = argc > 1 ? argv[1] : NULL;
    if (!sub || !strcmp(sub, "--help") || !strcmp(sub, "-h")) {
        fputs(key_help, sub ? stdout : stderr);
        return sub ? CLI_OK : CLI_USAGE;
    }
    bool is_list = !strcmp(sub, "list");
    if (!is_list && strcmp(sub, "rotate")) {
        fprintf(stderr, "idpd key: unknown subcommand %s\n%s", cli_printable(sub), key_help);
        return CLI_USAGE;
    }
    cli c;
    int rc = CLI_OK, o;
    const char *alg = NULL;
    bool force = false;
    cli_begin(&c, is_list ? "key list" : "key rotate", is_list ? list_help : rotate_help);
    while ((o = cli_getopt(&c, argc - 1, argv + 1, is_list ? lo_list : lo)) != -1) {
        if ((rc = cli_common_opt(&c, o, optarg, argv + 1)) == CLI_CONTINUE) continue;
        if (rc != CLI_NOT_COMMON) goto out;
        if (o == OPT_ALG)
            alg = optarg;
        else if (o == OPT_FORCE)
            force = true;
    }
    rc = CLI_OK;
    if (optind < argc - 1) {
        rc = cli_usage(&c, "unexpected argument %s", cli_printable(argv[1 + optind]));
        goto out;
    }
    if ((rc = cli_load_cfg(&c, true)) != CLI_OK) goto out;
    if (alg && (rc = key_alg_ok(&c, alg)) != CLI_OK) goto out;
    if ((rc = cli_open(&c, !is_list)) != CLI_OK) goto out;
    if (is_list) {
        json_t *j = NULL;
        rc = list_keys(&c, c.json ? &j : NULL);
        if (j) cli_print_json(j);
    } else {
        rc = rotate(&c, alg, force);
    }
out:
    cli_close(&c);
    return rc;
}
