/* idpd store migrate — applies the store's pending schema migrations (issue 13), on either
 * backend, and says which schema version it found, which one this binary knows, and what it
 * applied.
 *
 * Contract:
 *  - the store is the one every command uses: config `store` (--store, IDPD_STORE, --config),
 *    else SQLite DATA_DIR/idpd.db; it must exist (a store is created by `idpd init`: migrate
 *    never creates one, so init still recognises a fresh PostgreSQL database);
 *  - the version is read without migrating (store_schema_version); a version above the one this
 *    binary knows is refused before anything is written (exit 1, the message names both);
 *  - otherwise the store is opened (store_open applies what is pending, each migration in its
 *    own transaction under the backend's lock, so a fleet may run it from several hosts at once:
 *    one applies, the others find nothing left), and the version read again. Idempotent;
 *  - text output: "store: BACKEND, schema version N, this idpd knows K", then one line
 *    "applied NNNN_name.sql" per migration between the two versions and "schema now at version
 *    K", or "schema up to date at version N"; --json
 *    {"backend","before","after","known","applied":[names]};
 *  - `serve`, `init` and every other command still apply pending migrations on open (nothing to
 *    add to a deployment), and refuse a newer schema the same way (store.h store_open);
 *  - exit 1 with the reason on an unreachable or missing store; the message never holds the
 *    store URI (it may carry a password). */
#include "cli/cli.h"

#include "core/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char store_help[] =
    "Usage: idpd store <migrate> [options]\n"
    "  migrate       apply the store's pending schema migrations and print the schema version\n"
    "Run 'idpd store <subcommand> --help' for the options of each.\n";

static const char migrate_help[] =
    "Usage: idpd store migrate [--store SPEC | --data-dir DIR] [--config FILE] [--json]\n"
    "Applies the pending schema migrations of the store (SQLite or PostgreSQL), each in its own\n"
    "transaction, and prints the schema version found, the version this idpd knows and each\n"
    "migration applied, or \"schema up to date at version N\". Running it again changes\n"
    "nothing. Fails (exit 1, nothing written) when the store's schema is newer than this idpd\n"
    "knows, or when the store is missing or unreachable. `serve` and every other command apply\n"
    "pending migrations on open too; on a fleet run this once, then restart the nodes on the\n"
    "new version (docs/DEPLOYMENT.md).\n"
    "JSON: {\"backend\",\"before\",\"after\",\"known\",\"applied\":[file names]}\n" CLI_COMMON_HELP;

static bool is_pg(const char *spec)
{
    return !strncmp(spec, "postgres:", 9) || !strncmp(spec, "postgresql:", 11);
}

static int migrate(cli *c)
{
    idp_error e = {0};
    int64_t before = 0, after = 0, known = 0;
    char *spec = c->cfg->store ? xstrdup(c->cfg->store) : cli_path(c->cfg->data_dir, "idpd.db");
    const char *backend = is_pg(spec) ? "postgresql" : "sqlite";
    int rc = CLI_OK;
    idp_err r = store_schema_version(spec, &before, &known, &e);
    if (r == IDP_ERR_NOT_FOUND && !c->cfg->store) {
        rc = cli_fail(c, "%s: no idpd.db here (run idpd init --data-dir %s first)",
                      cli_printable(c->cfg->data_dir), cli_printable(c->cfg->data_dir));
        goto out;
    }
    if (r) {
        rc = cli_fail_err(c, &e);
        goto out;
    }
    if (before > known || before < 0) {
        rc = cli_fail(c,
                      "database schema version %lld is newer than this idpd supports (%lld); "
                      "upgrade idpd (nothing was changed)",
                      (long long)before, (long long)known);
        goto out;
    }
    if (!c->json)
        printf("store: %s, schema version %lld, this idpd knows %lld\n", backend, (long long)before,
               (long long)known);
    /* store_open applies what is pending (and refuses a schema that became newer meanwhile) */
    if (store_open_pool(spec, false, 1, &c->st, &e) != IDP_OK ||
        store_schema_version(spec, &after, &known, &e) != IDP_OK) {
        rc = cli_fail_err(c, &e);
        goto out;
    }
    /* what lies between the two versions was applied, by this process or (racing it) by
     * another one migrating the same store: either way it is in place now */
    json_t *applied = json_array();
    for (int64_t v = before + 1; v <= after; v++) {
        const char *name = store_schema_migration_name(spec, v);
        json_array_append_new(applied, json_string(name ? name : "?"));
        if (!c->json) printf("applied %s\n", name ? name : "?");
    }
    if (c->json) {
        cli_print_json(json_pack("{s:s, s:I, s:I, s:I, s:o}", "backend", backend, "before",
                                 (json_int_t)before, "after", (json_int_t)after, "known",
                                 (json_int_t)known, "applied", applied));
    } else {
        json_decref(applied);
        if (after == before)
            printf("schema up to date at version %lld\n", (long long)after);
        else
            printf("schema now at version %lld\n", (long long)after);
    }
out:
    free(spec);
    return rc;
}

int cli_store_main(int argc, char **argv)
{
    static const struct option lo[] = {CLI_COMMON_OPTIONS, {0, 0, 0, 0}};
    const char *sub = argc > 1 ? argv[1] : NULL;
    if (!sub || !strcmp(sub, "--help") || !strcmp(sub, "-h")) {
        fputs(store_help, sub ? stdout : stderr);
        return sub ? CLI_OK : CLI_USAGE;
    }
    if (strcmp(sub, "migrate")) {
        fprintf(stderr, "idpd store: unknown subcommand %s\n%s", cli_printable(sub), store_help);
        return CLI_USAGE;
    }
    cli c;
    int rc = CLI_OK, o;
    cli_begin(&c, "store migrate", migrate_help);
    while ((o = cli_getopt(&c, argc - 1, argv + 1, lo)) != -1) {
        if ((rc = cli_common_opt(&c, o, optarg, argv + 1)) == CLI_CONTINUE) continue;
        if (rc == CLI_NOT_COMMON) rc = cli_usage(&c, "unknown option"); /* none of its own */
        goto out; /* --help, or a usage error */
    }
    rc = CLI_OK;
    if (optind < argc - 1) {
        rc = cli_usage(&c, "unexpected argument %s", cli_printable(argv[1 + optind]));
        goto out;
    }
    /* a --store needs no data directory (no master key is read) */
    if ((rc = cli_load_cfg(&c, false)) != CLI_OK) goto out;
    if (!c.cfg->store && !c.cfg->data_dir) {
        rc = cli_usage(&c, "--store SPEC or --data-dir DIR (or IDPD_STORE, IDPD_DATA_DIR) is "
                           "required");
        goto out;
    }
    rc = migrate(&c);
out:
    cli_close(&c);
    return rc;
}
