/* idpd provisioning-key create|list|revoke|rotate — machine credentials for SCIM and the admin
 * API (oauth/pkey.h). A key is printed once, by create and rotate; the store keeps only its
 * HMAC under the provisioning-key pepper. Every change is written together with its audit event
 * in one store transaction (actor "cli"); audit details name the key and its scopes, never the
 * key itself. */
#include "cli/cli.h"

#include "core/mem.h"
#include "core/timeutil.h"
#include "creds/pkey.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char pkey_help[] =
    "Usage: idpd provisioning-key <create|list|revoke|rotate> [options]\n"
    "  create        create a key and print it (shown only once)\n"
    "  list          list keys (never the key or its hash)\n"
    "  revoke ID     revoke a key at once\n"
    "  rotate ID     create a successor; the old key keeps working for --overlap\n"
    "Run 'idpd provisioning-key <subcommand> --help' for the options of each.\n";

static const char create_help[] =
    "Usage: idpd provisioning-key create --scopes LIST [--name NAME] [--expires DURATION] "
    "[--json]\n"
    "  --name NAME        what the key is for (1..200 printable characters; default: key-ID)\n"
    "  --scopes LIST      comma-separated: scim:read (GET), scim:write (POST/PUT/PATCH/DELETE),\n"
    "                     admin (admin API), events:read (revocation feed, POST /ssf/poll);\n"
    "                     each is separate, admin implies no other scope\n"
    "  --expires DURATION lifetime, e.g. 90d (default: never expires)\n"
    "With --json prints {\"id\", \"key\", \"name\", \"scopes\", \"expires_at\"}; the key is shown "
    "only here.\n" CLI_COMMON_HELP;
static const char list_help[] =
    "Usage: idpd provisioning-key list [--json]\n"
    "JSON: [{\"id\",\"name\",\"scopes\",\"created_at\",\"expires_at\",\"revoked_at\","
    "\"last_used_at\",\"replaced_by\",\"active\"}] (times in seconds since the epoch, null when "
    "none)\n" CLI_COMMON_HELP;
static const char revoke_help[] = "Usage: idpd provisioning-key revoke ID [--json]\n"
                                  "The key stops working at once (within 1 s for a running "
                                  "server).\n" CLI_COMMON_HELP;
static const char rotate_help[] =
    "Usage: idpd provisioning-key rotate ID [--overlap DURATION] [--json]\n"
    "Creates a key with the same name, scopes and lifetime and prints it once. The old key keeps\n"
    "working until now + overlap (default 24h; 0 = stop at once), never longer than it would "
    "have.\n" CLI_COMMON_HELP;

enum { OPT_NAME = CLI_OPT_FIRST_CMD, OPT_SCOPES, OPT_EXPIRES, OPT_OVERLAP };

#define DEFAULT_OVERLAP (24 * 3600)

typedef struct pk_args {
    const char *name, *scopes, *expires, *overlap;
} pk_args;

static json_t *time_or_null(int64_t t)
{
    return t ? json_integer(t) : json_null();
}

/* The public view of a key: never the key or its hash. */
static json_t *pkey_json(const store_pkey *r, int64_t now)
{
    json_t *o = json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:b}", "id", r->id, "name",
                          r->name ? r->name : "", "scopes", cli_words_json(r->scopes), "created_at",
                          time_or_null(r->created_at), "expires_at", time_or_null(r->expires_at),
                          "revoked_at", time_or_null(r->revoked_at), "last_used_at",
                          time_or_null(r->last_used_at), "replaced_by",
                          r->replaced_by ? json_string(r->replaced_by) : json_null(), "active",
                          pkey_is_active(r, now));
    if (!o) abort();
    return o;
}

/* Audit detail: name and scopes (plus extra members); never the key. Owned JSON text. */
static char *detail_text(const store_pkey *r, json_t *extra)
{
    json_t *o = json_pack("{s:s, s:o}", "name", r->name ? r->name : "", "scopes",
                          cli_words_json(r->scopes));
    if (!o) abort();
    if (extra) json_object_update(o, extra);
    json_decref(extra);
    char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    if (!s) abort();
    return s;
}

/* Appends one audit event for a provisioning-key change (inside the caller's transaction). */
static idp_err audit(cli *c, const char *action, const char *target, char *detail, idp_error *e)
{
    idp_err rc = cli_audit(c, action, "ProvisioningKey", target, detail, e);
    free(detail);
    return rc;
}

/* Prints a newly issued key: the only place a key is ever shown. */
static void print_key(const cli *c, const store_pkey *r, const char *key)
{
    if (c->json) {
        json_t *o = json_pack("{s:s, s:s, s:s, s:o, s:o}", "id", r->id, "key", key, "name", r->name,
                              "scopes", cli_words_json(r->scopes), "expires_at",
                              time_or_null(r->expires_at));
        if (!o) abort();
        char *s = json_dumps(o, JSON_INDENT(2) | JSON_ENSURE_ASCII);
        json_decref(o); /* jansson's copy of the key is freed unwiped: a known limit */
        if (!s) abort();
        fputs(s, stdout);
        fputc('\n', stdout);
        mem_free_secret(s);
        return;
    }
    char exp[21] = "never";
    if (r->expires_at) time_format_rfc3339(r->expires_at, exp);
    printf("id:         %s\nname:       %s\nscopes:     %s\nexpires_at: %s\nkey:        %s\n",
           r->id, r->name, r->scopes, exp, key);
    fputs("Store the key now: idpd keeps only a hash of it and cannot show it again.\n", stderr);
}

/* Fills row with a new key (id, hash, created_at = now); *key owned (mem_free_secret). */
static idp_err new_key(cli *c, store_pkey *row, int64_t now, char **key, idp_error *e)
{
    unsigned char pepper[32];
    idp_err rc = pkey_pepper(c->kek, pepper, e);
    if (rc) return rc;
    pkey_generate(pepper, &row->id, key, row->hash);
    mem_wipe(pepper, sizeof pepper);
    row->created_at = now;
    return IDP_OK;
}

/* Runs the insert/update plus audit in one transaction; rolls back on failure. */
static int finish_tx(cli *c, idp_err rc, idp_error *e)
{
    if (rc == IDP_OK) rc = store_tx_commit(c->st, e);
    if (rc != IDP_OK) {
        store_tx_rollback(c->st);
        return cli_fail_err(c, e);
    }
    return CLI_OK;
}

static int do_create(cli *c, const pk_args *a)
{
    store_pkey row;
    char *key = NULL;
    idp_error e = {0};
    int64_t life = 0, now = time_now();
    int rc;
    memset(&row, 0, sizeof row);
    /* --name is optional (the provisioning contract is `create --scopes ... --json`): without
     * it the key is named after its id */
    if (a->name && (!*a->name || strlen(a->name) > 200 ||
                    !strcmp(cli_printable(a->name), "(invalid)"))) {
        rc = cli_usage(c, "--name must be 1..200 printable characters");
        goto out;
    }
    if (pkey_scopes_normalize(a->scopes, &row.scopes, &e) != IDP_OK) {
        rc = cli_usage(c, "--scopes: %s", e.msg);
        goto out;
    }
    if (a->expires && time_parse_duration(a->expires, &life) != IDP_OK) {
        rc = cli_usage(c, "--expires: must be a positive duration (e.g. 90d, 12h)");
        goto out;
    }
    if ((rc = cli_open(c, true)) != CLI_OK) goto out;
    row.expires_at = life ? now + life : 0;
    if (new_key(c, &row, now, &key, &e) != IDP_OK) {
        rc = cli_fail_err(c, &e);
        goto out;
    }
    if (a->name) {
        row.name = xstrdup(a->name);
    } else {
        size_t n = strlen(row.id) + sizeof "key-";
        row.name = xmalloc(n);
        snprintf(row.name, n, "key-%s", row.id);
    }
    idp_err r = store_tx_begin(c->st, &e);
    if (r) {
        rc = cli_fail_err(c, &e);
        goto out;
    }
    r = c->st->ops->pkey_insert(c->st, &row, &e);
    if (!r) r = audit(c, "pkey.create", row.id, detail_text(&row, NULL), &e);
    if ((rc = finish_tx(c, r, &e)) == CLI_OK) print_key(c, &row, key);
out:
    mem_free_secret(key);
    store_pkey_clear(&row);
    return rc;
}

static int do_list(cli *c)
{
    store_pkey *rows = NULL;
    size_t n = 0;
    idp_error e = {0};
    int rc = cli_open(c, false);
    if (rc) return rc;
    if (c->st->ops->pkey_list(c->st, &rows, &n, &e) != IDP_OK) return cli_fail_err(c, &e);
    int64_t now = time_now();
    if (c->json) {
        json_t *a = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(a, pkey_json(&rows[i], now));
        cli_print_json(a);
    } else {
        printf("%-22s %-20s %-8s %-20s %s\n", "ID", "NAME", "STATE", "EXPIRES_AT", "SCOPES");
        for (size_t i = 0; i < n; i++) {
            char exp[21] = "never";
            if (rows[i].expires_at) time_format_rfc3339(rows[i].expires_at, exp);
            const char *st = rows[i].revoked_at               ? "revoked"
                             : !pkey_is_active(&rows[i], now) ? "expired"
                                                              : "active";
            printf("%-22s %-20s %-8s %-20s %s\n", rows[i].id, rows[i].name ? rows[i].name : "", st,
                   exp, rows[i].scopes ? rows[i].scopes : "");
        }
    }
    store_pkey_list_free(rows, n);
    return CLI_OK;
}

/* Reads key id inside the open transaction; CLI_OK or an exit code (transaction rolled back). */
static int get_in_tx(cli *c, const char *id, store_pkey *row)
{
    idp_error e = {0};
    if (store_tx_begin(c->st, &e) != IDP_OK) return cli_fail_err(c, &e);
    idp_err r = c->st->ops->pkey_get(c->st, id, row, &e);
    if (r == IDP_OK) return CLI_OK;
    store_tx_rollback(c->st);
    if (r == IDP_ERR_NOT_FOUND) return cli_fail(c, "no provisioning key %s", cli_printable(id));
    return cli_fail_err(c, &e);
}

static int do_revoke(cli *c, const char *id)
{
    store_pkey row;
    idp_error e = {0};
    memset(&row, 0, sizeof row);
    int rc = cli_open(c, false);
    if (rc || (rc = get_in_tx(c, id, &row)) != CLI_OK) goto out;
    bool already = row.revoked_at != 0;
    if (already) {
        store_tx_rollback(c->st); /* revoking twice changes nothing and is not audited again */
    } else {
        row.revoked_at = time_now();
        idp_err r = c->st->ops->pkey_update(c->st, &row, &e);
        if (!r) r = audit(c, "pkey.revoke", row.id, detail_text(&row, NULL), &e);
        if ((rc = finish_tx(c, r, &e)) != CLI_OK) goto out;
    }
    if (c->json)
        cli_print_json(json_pack("{s:s, s:b, s:I}", "id", row.id, "revoked", 1, "revoked_at",
                                 (json_int_t)row.revoked_at));
    else
        printf(already ? "provisioning key %s was already revoked\n"
                       : "revoked provisioning key %s\n",
               row.id);
out:
    store_pkey_clear(&row);
    return rc;
}

/* Parses --overlap: a duration or "0" (stop at once). -1 when invalid. */
static int64_t parse_overlap(const char *s)
{
    int64_t v = 0;
    if (!s) return DEFAULT_OVERLAP;
    if (!strcmp(s, "0")) return 0;
    return time_parse_duration(s, &v) == IDP_OK ? v : -1;
}

static int do_rotate(cli *c, const char *id, const pk_args *a)
{
    store_pkey old, nk;
    char *key = NULL;
    idp_error e = {0};
    int64_t now = time_now(), overlap = parse_overlap(a->overlap);
    memset(&old, 0, sizeof old);
    memset(&nk, 0, sizeof nk);
    int rc = CLI_OK;
    if (overlap < 0) return cli_usage(c, "--overlap: must be a duration (e.g. 24h) or 0");
    if ((rc = cli_open(c, true)) != CLI_OK || (rc = get_in_tx(c, id, &old)) != CLI_OK) goto out;
    if (!pkey_is_active(&old, now) || old.replaced_by) {
        store_tx_rollback(c->st);
        rc = cli_fail(c, "provisioning key %s is %s", old.id,
                      old.replaced_by ? "already rotated" : "revoked or expired");
        goto out;
    }
    nk.name = xstrdup(old.name ? old.name : "");
    nk.scopes = xstrdup(old.scopes ? old.scopes : "");
    nk.expires_at = pkey_successor_expiry(&old, now);
    idp_err r = new_key(c, &nk, now, &key, &e);
    if (!r) r = c->st->ops->pkey_insert(c->st, &nk, &e);
    if (!r) {
        int64_t was = old.expires_at;
        old.expires_at = pkey_rotate_expiry(old.expires_at, now, overlap);
        old.replaced_by = xstrdup(nk.id);
        r = c->st->ops->pkey_update(c->st, &old, &e);
        if (!r)
            r = audit(c, "pkey.rotate", old.id,
                      detail_text(&old, json_pack("{s:s, s:o, s:o}", "replaced_by", nk.id,
                                                  "old_expires_at", time_or_null(was), "expires_at",
                                                  time_or_null(old.expires_at))),
                      &e);
    }
    if ((rc = finish_tx(c, r, &e)) == CLI_OK) print_key(c, &nk, key);
out:
    mem_free_secret(key);
    store_pkey_clear(&old);
    store_pkey_clear(&nk);
    return rc;
}

static const char *sub_help(const char *sub)
{
    if (!strcmp(sub, "create")) return create_help;
    if (!strcmp(sub, "list")) return list_help;
    if (!strcmp(sub, "revoke")) return revoke_help;
    if (!strcmp(sub, "rotate")) return rotate_help;
    return NULL;
}

/* Parses the options of a subcommand; exit code or CLI_CONTINUE. */
static int parse(cli *c, int argc, char **argv, const char *sub, pk_args *a)
{
    static const struct option lo_create[] = {CLI_COMMON_OPTIONS,
                                              {"name", required_argument, NULL, OPT_NAME},
                                              {"scopes", required_argument, NULL, OPT_SCOPES},
                                              {"expires", required_argument, NULL, OPT_EXPIRES},
                                              {0, 0, 0, 0}};
    static const struct option lo_rotate[] = {
        CLI_COMMON_OPTIONS, {"overlap", required_argument, NULL, OPT_OVERLAP}, {0, 0, 0, 0}};
    static const struct option lo_common[] = {CLI_COMMON_OPTIONS, {0, 0, 0, 0}};
    const struct option *lo = !strcmp(sub, "create")   ? lo_create
                              : !strcmp(sub, "rotate") ? lo_rotate
                                                       : lo_common;
    int o, rc;
    while ((o = cli_getopt(c, argc, argv, lo)) != -1) {
        if ((rc = cli_common_opt(c, o, optarg, argv)) == CLI_CONTINUE) continue;
        if (rc != CLI_NOT_COMMON) return rc;
        if (o == OPT_NAME)
            a->name = optarg;
        else if (o == OPT_SCOPES)
            a->scopes = optarg;
        else if (o == OPT_EXPIRES)
            a->expires = optarg;
        else if (o == OPT_OVERLAP)
            a->overlap = optarg;
        else
            return cli_usage(c, "unknown option");
    }
    return CLI_CONTINUE;
}

int cli_pkey_main(int argc, char **argv)
{
    cli c;
    pk_args a;
    char cmd[48];
    memset(&a, 0, sizeof a);
    const char *sub = argc > 1 ? argv[1] : NULL;
    if (!sub || !strcmp(sub, "--help") || !strcmp(sub, "-h")) {
        fputs(pkey_help, sub ? stdout : stderr);
        return sub ? CLI_OK : CLI_USAGE;
    }
    const char *help = sub_help(sub);
    if (!help) {
        fprintf(stderr, "idpd provisioning-key: unknown subcommand %s\n%s", cli_printable(sub),
                pkey_help);
        return CLI_USAGE;
    }
    snprintf(cmd, sizeof cmd, "provisioning-key %s", sub);
    cli_begin(&c, cmd, help);
    bool needs_id = !strcmp(sub, "revoke") || !strcmp(sub, "rotate");
    int rc = parse(&c, argc - 1, argv + 1, sub, &a);
    if (rc != CLI_CONTINUE) goto out;
    if (argc - 1 - optind != (needs_id ? 1 : 0)) {
        rc = needs_id ? cli_usage(&c, "expects one ID")
                      : cli_usage(&c, "unexpected argument %s", cli_printable(argv[1 + optind]));
        goto out;
    }
    if ((rc = cli_load_cfg(&c, true)) != CLI_OK) goto out;
    if (!strcmp(sub, "create"))
        rc = do_create(&c, &a);
    else if (!strcmp(sub, "list"))
        rc = do_list(&c);
    else if (!strcmp(sub, "revoke"))
        rc = do_revoke(&c, argv[1 + optind]);
    else
        rc = do_rotate(&c, argv[1 + optind], &a);
out:
    cli_close(&c);
    return rc;
}
