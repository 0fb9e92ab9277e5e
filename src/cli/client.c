/* idpd client create|list|show|delete|rotate-secret — OAuth client registration by the operator.
 * A client secret is printed once, by create and rotate-secret; the store keeps only its
 * HMAC-SHA-256 under the pepper derived from the master key (oauth/client_secret.h). */
#include "cli/cli.h"

#include "core/buf.h"
#include "core/mem.h"
#include "core/rand.h"
#include "core/timeutil.h"
#include "jose/jwk.h"
#include "creds/client_secret.h"
#include "proto/client_reg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CLIENT_HELP_SUBS                                                                           \
    "  create        register a client and print its secret (shown only once)\n"                   \
    "  list          list clients\n"                                                               \
    "  show ID       show one client\n"                                                            \
    "  delete ID     delete a client\n"                                                            \
    "  rotate-secret ID   replace a client's secret and print the new one\n"

static const char client_help[] =
    "Usage: idpd client <create|list|show|delete|rotate-secret> [options]\n" CLIENT_HELP_SUBS
    "Run 'idpd client <subcommand> --help' for the options of each.\n";

static const char create_help[] =
    "Usage: idpd client create --name NAME [--grant-types LIST] [--scope \"a b\"]\n"
    "                          [--audience URI]... [--token-alg ALG] [--token-ttl DURATION]\n"
    "                          [--redirect-uri URI]... [--post-logout-redirect-uri URI]...\n"
    "                          [--public | --auth-method private_key_jwt --jwks FILE]\n"
    "                          [--backchannel-logout-uri URI] [--introspect MODE]\n"
    "  --name NAME          display name (shown on the consent page)\n"
    "  --grant-types LIST   space/comma-separated: client_credentials (default),\n"
    "                       authorization_code, refresh_token\n"
    "  --redirect-uri URI   exact redirect URI for authorization_code; repeatable; https, or\n"
    "                       http on 127.0.0.1/[::1]/localhost, or a private-use scheme\n"
    "  --post-logout-redirect-uri URI  exact URI for RP-initiated logout; repeatable\n"
    "  --public             public client (SPA, native, CLI): no secret, PKCE required\n"
    "  --auth-method M      client_secret_basic (default), client_secret_post or\n"
    "                       private_key_jwt: the only method the client may use\n"
    "  --jwks FILE          the client's public JWK Set (JSON) for private_key_jwt\n"
    "  --backchannel-logout-uri URI  receives OIDC back-channel logout tokens\n"
    "  --scope \"A B\"        scopes the client may request (RFC 6749 §3.3 scope tokens)\n"
    "  --audience URI       a resource (absolute URI, RFC 8707) the client may target;\n"
    "                       repeatable; the first is the default audience\n"
    "  --token-alg ALG      ES256|RS256|PS256|EdDSA (default: the server's default_alg)\n"
    "  --token-ttl DURATION access-token lifetime, e.g. 300, 5m (at most max_token_ttl)\n"
    "  --introspect MODE    whose access tokens it may introspect besides its own: none\n"
    "                       (default), audience (tokens whose aud is one of its --audience\n"
    "                       values: a resource server) or any\n"
    "With --json prints {\"client_id\", \"client_secret\", ...}; the secret is shown only "
    "here.\n" CLI_COMMON_HELP;

static const char list_help[] = "Usage: idpd client list [--json]\n" CLI_COMMON_HELP;
static const char show_help[] = "Usage: idpd client show CLIENT_ID [--json]\n" CLI_COMMON_HELP;
static const char delete_help[] = "Usage: idpd client delete CLIENT_ID [--json]\n" CLI_COMMON_HELP;
static const char rotate_help[] = "Usage: idpd client rotate-secret CLIENT_ID [--json]\n"
                                  "Replaces the secret; the old one stops working at once. Prints "
                                  "the new secret.\n" CLI_COMMON_HELP;

enum {
    OPT_NAME = CLI_OPT_FIRST_CMD,
    OPT_GRANT_TYPES,
    OPT_SCOPE,
    OPT_AUDIENCE,
    OPT_TOKEN_ALG,
    OPT_TOKEN_TTL,
    OPT_REDIRECT_URI,
    OPT_POST_LOGOUT_URI,
    OPT_PUBLIC,
    OPT_AUTH_METHOD,
    OPT_JWKS,
    OPT_BACKCHANNEL,
    OPT_INTROSPECT,
};

#define MAX_AUDIENCES CLIENT_REG_MAX_AUDIENCES
#define MAX_REDIRECT_URIS CLIENT_REG_MAX_URIS

typedef struct create_args {
    client_reg r;
    const char *jwks_file;
} create_args;

/* Validates the options into row (proto/client_reg.c), reading the --jwks file. */
static int build_client(cli *c, const create_args *a, store_client *row)
{
    client_reg r = a->r;
    idp_buf fb;
    idp_error e = {0};
    buf_init(&fb, 256 * 1024);
    if (a->jwks_file) {
        if (cli_read_file(a->jwks_file, &fb, &e) != IDP_OK) {
            buf_free(&fb);
            return cli_usage(c, "--jwks: %s", e.msg);
        }
        r.jwks = buf_cstr(&fb);
    }
    idp_err rc = client_reg_build(&r, c->cfg, row, &e);
    buf_free(&fb);
    if (rc != IDP_OK) return cli_usage(c, "%s", e.msg);
    return CLI_OK;
}

/* ---- output --------------------------------------------------------------------------- */

/* The public view of a client: never the secret or its hash. */
static json_t *client_json(const store_client *r)
{
    json_t *o =
        json_pack("{s:s, s:s, s:o, s:s, s:o, s:s?, s:I, s:s}", "client_id", r->client_id, "name",
                  r->name ? r->name : "", "grant_types", cli_words_json(r->grant_types), "scope",
                  r->scope ? r->scope : "", "audiences", cli_words_json(r->audiences), "token_alg",
                  r->token_alg, "token_ttl", (json_int_t)r->token_ttl, "auth_method",
                  r->auth_method ? r->auth_method : "client_secret_basic");
    if (!o) abort();
    json_object_set_new(o, "public", json_boolean(r->is_public));
    json_object_set_new(o, "redirect_uris", cli_words_json(r->redirect_uris));
    json_object_set_new(o, "post_logout_redirect_uris", cli_words_json(r->post_logout_redirect_uris));
    if (r->backchannel_logout_uri)
        json_object_set_new(o, "backchannel_logout_uri", json_string(r->backchannel_logout_uri));
    json_object_set_new(o, "introspect", json_string(r->introspect ? r->introspect : "none"));
    json_object_set_new(o, "created_at", json_integer(r->created_at));
    json_object_set_new(o, "secret_rotated_at", json_integer(r->secret_rotated_at));
    return o;
}

static void print_client_human(const store_client *r)
{
    char t1[21], t2[21], ttl[32] = "(server default)";
    time_format_rfc3339(r->created_at, t1);
    time_format_rfc3339(r->secret_rotated_at, t2);
    if (r->token_ttl) snprintf(ttl, sizeof ttl, "%llds", (long long)r->token_ttl);
    printf("client_id:         %s\nname:              %s\ngrant_types:       %s\n"
           "scope:             %s\naudiences:         %s\ntoken_alg:         %s\n"
           "token_ttl:         %s\nauth_method:       %s\nintrospect:        %s\n"
           "created_at:        %s\nsecret_rotated_at: %s\n",
           r->client_id, r->name ? r->name : "", r->grant_types ? r->grant_types : "",
           r->scope ? r->scope : "", r->audiences ? r->audiences : "-",
           r->token_alg ? r->token_alg : "(server default)", ttl,
           r->auth_method ? r->auth_method : "client_secret_basic",
           r->introspect ? r->introspect : "none", t1, t2);
}

/* Prints a newly issued secret: the only place a secret is ever shown. */
static void print_secret(const cli *c, const store_client *r, const char *secret, bool full)
{
    if (c->json) {
        json_t *o = full ? client_json(r) : json_pack("{s:s}", "client_id", r->client_id);
        json_object_set_new(o, "client_secret", json_string(secret));
        /* the dump holds the secret: wipe it too */
        char *s = json_dumps(o, JSON_INDENT(2) | JSON_ENSURE_ASCII);
        json_decref(o);
        if (!s) abort();
        fputs(s, stdout);
        fputc('\n', stdout);
        mem_free_secret(s);
    } else {
        if (full)
            print_client_human(r);
        else
            printf("client_id:         %s\n", r->client_id);
        printf("client_secret:     %s\n", secret);
        fputs("Store the secret now: idpd keeps only a hash of it and cannot show it again.\n",
              stderr);
    }
}

/* A new secret for row, its hash in row->secret_hash. *secret owned (mem_free_secret). */
static idp_err new_secret(cli *c, store_client *row, char **secret, idp_error *e)
{
    unsigned char pepper[32];
    idp_err rc = kek_derive(c->kek, CLIENT_SECRET_PEPPER_LABEL, pepper, e);
    if (rc) return rc;
    *secret = client_secret_generate();
    client_secret_hash(pepper, *secret, strlen(*secret), row->secret_hash);
    row->has_secret = true;
    mem_wipe(pepper, sizeof pepper);
    return IDP_OK;
}

/* ---- subcommands ---------------------------------------------------------------------- */

static int do_create(cli *c, const create_args *a)
{
    store_client row;
    char *secret = NULL;
    idp_error e = {0};
    memset(&row, 0, sizeof row);
    int rc = build_client(c, a, &row);
    if (rc) goto out;
    if ((rc = cli_open(c, true)) != CLI_OK) goto out;
    char *rnd = rand_token(16); /* 128 bits -> 22 base64url characters */
    size_t n = strlen(rnd) + 3;
    row.client_id = xmalloc(n);
    snprintf(row.client_id, n, "c_%s", rnd);
    free(rnd);
    row.created_at = row.secret_rotated_at = time_now();
    bool with_secret = client_reg_has_secret(&row);
    if ((with_secret && new_secret(c, &row, &secret, &e) != IDP_OK) ||
        store_client_insert(c->st, &row, &e) ||
        cli_audit(c, "client.create", "Client", row.client_id, NULL, &e)) {
        rc = cli_fail_err(c, &e);
        goto out;
    }
    if (with_secret) {
        print_secret(c, &row, secret, true);
    } else if (c->json) {
        cli_print_json(client_json(&row));
    } else {
        print_client_human(&row);
    }
out:
    mem_free_secret(secret);
    mem_wipe(row.secret_hash, sizeof row.secret_hash);
    store_client_clear(&row);
    return rc;
}

static int do_list(cli *c)
{
    store_client *rows = NULL;
    size_t n = 0;
    idp_error e = {0};
    int rc = cli_open(c, false);
    if (rc) return rc;
    if (store_client_list(c->st, &rows, &n, &e) != IDP_OK) return cli_fail_err(c, &e);
    if (c->json) {
        json_t *a = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(a, client_json(&rows[i]));
        cli_print_json(a);
    } else {
        printf("%-26s %-24s %s\n", "CLIENT_ID", "NAME", "SCOPE");
        for (size_t i = 0; i < n; i++)
            printf("%-26s %-24s %s\n", rows[i].client_id, rows[i].name ? rows[i].name : "",
                   rows[i].scope ? rows[i].scope : "");
    }
    store_client_list_free(rows, n);
    return CLI_OK;
}

/* show, delete and rotate-secret on one client id. */
static int do_one(cli *c, const char *sub, const char *id)
{
    store_client row;
    char *secret = NULL;
    idp_error e = {0};
    memset(&row, 0, sizeof row);
    int rc = cli_open(c, !strcmp(sub, "rotate-secret"));
    if (rc) goto out;
    idp_err r = store_client_get(c->st, id, &row, &e);
    if (r == IDP_ERR_NOT_FOUND) {
        rc = cli_fail(c, "no client %s", cli_printable(id));
        goto out;
    }
    if (r) {
        rc = cli_fail_err(c, &e);
        goto out;
    }
    if (!strcmp(sub, "show")) {
        if (c->json)
            cli_print_json(client_json(&row));
        else
            print_client_human(&row);
    } else if (!strcmp(sub, "delete")) {
        if (store_client_delete(c->st, id, &e) != IDP_OK ||
            cli_audit(c, "client.delete", "Client", id, NULL, &e) != IDP_OK) {
            rc = cli_fail_err(c, &e);
            goto out;
        }
        if (c->json)
            cli_print_json(json_pack("{s:s, s:b}", "client_id", id, "deleted", 1));
        else
            printf("deleted client %s\n", row.client_id);
    } else {
        int64_t now = time_now();
        if (new_secret(c, &row, &secret, &e) != IDP_OK ||
            store_client_set_secret(c->st, id, row.secret_hash, now, &e) != IDP_OK ||
            cli_audit(c, "client.rotate_secret", "Client", id, NULL, &e) != IDP_OK) {
            rc = cli_fail_err(c, &e);
            goto out;
        }
        print_secret(c, &row, secret, false);
    }
out:
    mem_free_secret(secret);
    mem_wipe(row.secret_hash, sizeof row.secret_hash);
    store_client_clear(&row);
    return rc;
}

static const char *sub_help(const char *sub)
{
    if (!strcmp(sub, "create")) return create_help;
    if (!strcmp(sub, "list")) return list_help;
    if (!strcmp(sub, "show")) return show_help;
    if (!strcmp(sub, "delete")) return delete_help;
    if (!strcmp(sub, "rotate-secret")) return rotate_help;
    return NULL;
}

/* Parses the options of a client subcommand into c and a; exit code or CLI_CONTINUE. */
static int parse(cli *c, int argc, char **argv, create_args *a, bool is_create)
{
    static const struct option lo[] = {CLI_COMMON_OPTIONS,
                                       {"name", required_argument, NULL, OPT_NAME},
                                       {"grant-types", required_argument, NULL, OPT_GRANT_TYPES},
                                       {"scope", required_argument, NULL, OPT_SCOPE},
                                       {"audience", required_argument, NULL, OPT_AUDIENCE},
                                       {"token-alg", required_argument, NULL, OPT_TOKEN_ALG},
                                       {"token-ttl", required_argument, NULL, OPT_TOKEN_TTL},
                                       {"redirect-uri", required_argument, NULL, OPT_REDIRECT_URI},
                                       {"post-logout-redirect-uri", required_argument, NULL, OPT_POST_LOGOUT_URI},
                                       {"public", no_argument, NULL, OPT_PUBLIC},
                                       {"auth-method", required_argument, NULL, OPT_AUTH_METHOD},
                                       {"jwks", required_argument, NULL, OPT_JWKS},
                                       {"backchannel-logout-uri", required_argument, NULL, OPT_BACKCHANNEL},
                                       {"introspect", required_argument, NULL, OPT_INTROSPECT},
                                       {0, 0, 0, 0}};
    static const struct option lo_common[] = {CLI_COMMON_OPTIONS, {0, 0, 0, 0}};
    int o, rc;
    while ((o = cli_getopt(c, argc, argv, is_create ? lo : lo_common)) != -1) {
        if ((rc = cli_common_opt(c, o, optarg, argv)) == CLI_CONTINUE) continue;
        if (rc != CLI_NOT_COMMON) return rc;
        switch (o) {
        case OPT_NAME:
            a->r.name = optarg;
            break;
        case OPT_GRANT_TYPES:
            a->r.grant_types = optarg;
            break;
        case OPT_SCOPE:
            a->r.scope = optarg;
            break;
        case OPT_TOKEN_ALG:
            a->r.token_alg = optarg;
            break;
        case OPT_TOKEN_TTL:
            a->r.token_ttl = optarg;
            break;
        case OPT_REDIRECT_URI:
            if (a->r.nredirect == MAX_REDIRECT_URIS)
                return cli_usage(c, "at most %d --redirect-uri", MAX_REDIRECT_URIS);
            a->r.redirect[a->r.nredirect++] = optarg;
            break;
        case OPT_POST_LOGOUT_URI:
            if (a->r.npost_logout == MAX_REDIRECT_URIS)
                return cli_usage(c, "at most %d --post-logout-redirect-uri", MAX_REDIRECT_URIS);
            a->r.post_logout[a->r.npost_logout++] = optarg;
            break;
        case OPT_PUBLIC:
            a->r.is_public = true;
            break;
        case OPT_AUTH_METHOD:
            a->r.auth_method = optarg;
            break;
        case OPT_JWKS:
            a->jwks_file = optarg;
            break;
        case OPT_BACKCHANNEL:
            a->r.backchannel = optarg;
            break;
        case OPT_INTROSPECT:
            a->r.introspect = optarg;
            break;
        case OPT_AUDIENCE:
            if (a->r.naud == MAX_AUDIENCES)
                return cli_usage(c, "at most %d --audience", MAX_AUDIENCES);
            a->r.aud[a->r.naud++] = optarg;
            break;
        default:
            return cli_usage(c, "unknown option");
        }
    }
    return CLI_CONTINUE;
}

int cli_client_main(int argc, char **argv)
{
    cli c;
    create_args a;
    char cmd[40];
    memset(&a, 0, sizeof a);
    const char *sub = argc > 1 ? argv[1] : NULL;
    if (!sub || !strcmp(sub, "--help") || !strcmp(sub, "-h")) {
        fputs(client_help, sub ? stdout : stderr);
        return sub ? CLI_OK : CLI_USAGE;
    }
    const char *help = sub_help(sub);
    if (!help) {
        fprintf(stderr, "idpd client: unknown subcommand %s\n%s", cli_printable(sub), client_help);
        return CLI_USAGE;
    }
    snprintf(cmd, sizeof cmd, "client %s", sub);
    cli_begin(&c, cmd, help);
    bool is_create = !strcmp(sub, "create"), is_list = !strcmp(sub, "list");
    int rc = parse(&c, argc - 1, argv + 1, &a, is_create);
    if (rc != CLI_CONTINUE) goto out;
    int want = is_create || is_list ? 0 : 1; /* operands after the subcommand */
    if (argc - 1 - optind != want) {
        rc = want ? cli_usage(&c, "expects one CLIENT_ID")
                  : cli_usage(&c, "unexpected argument %s", cli_printable(argv[1 + optind]));
        goto out;
    }
    if ((rc = cli_load_cfg(&c, true)) != CLI_OK) goto out;
    if (is_create)
        rc = do_create(&c, &a);
    else if (is_list)
        rc = do_list(&c);
    else
        rc = do_one(&c, sub, argv[1 + optind]);
out:
    cli_close(&c);
    return rc;
}
