/* idpd init — creates a data directory: DIR (0700), DIR/master.key (0600), DIR/idpd.db with the
 * meta "issuer", and the first keys (current + next for every algorithm in cfg algs). */
#include "cli/cli.h"

#include "core/mem.h"
#include "core/timeutil.h"
#include "keys/rotation.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char init_help[] =
    "Usage: idpd init --data-dir DIR [--issuer URL] [--config FILE] [--json]\n"
    "Creates DIR (mode 0700; an existing directory is fine unless it already holds idpd.db or\n"
    "master.key), the master key DIR/master.key (mode 0600; not created when IDPD_MASTER_KEY is\n"
    "set), the store DIR/idpd.db, and the first signing keys.\n"
    "  --issuer URL       issuer identifier recorded in the store (default\n"
    "                     http://127.0.0.1:8080)\n" CLI_COMMON_HELP;

enum { OPT_ISSUER = CLI_OPT_FIRST_CMD };

/* mkdir -p of dir's parents (mode 0755 before the umask); errors surface at mkdir(dir). */
static void make_parents(const char *dir)
{
    char p[4096];
    size_t n = strlen(dir);
    if (n >= sizeof p) return;
    memcpy(p, dir, n + 1);
    for (size_t i = 1; i < n; i++) {
        if (p[i] != '/') continue;
        p[i] = '\0';
        (void)mkdir(p, 0755);
        p[i] = '/';
    }
}

/* Creates dir (0700) or accepts an existing directory; refuses one that already holds a store
 * or a master key. */
static int check_dir(cli *c, const char *dir, const char *keyfile)
{
    struct stat st;
    make_parents(dir);
    if (mkdir(dir, 0700) != 0) {
        if (errno != EEXIST)
            return cli_fail(c, "cannot create %s: %s", cli_printable(dir), strerror(errno));
        if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
            return cli_fail(c, "%s exists and is not a directory", cli_printable(dir));
    }
    char *db = cli_path(dir, "idpd.db");
    bool has_db = stat(db, &st) == 0;
    free(db);
    if (has_db)
        return cli_fail(c, "%s is already initialised (idpd.db exists)", cli_printable(dir));
    if (!getenv("IDPD_MASTER_KEY") && stat(keyfile, &st) == 0)
        return cli_fail(c, "%s already exists; refusing to replace a master key",
                        cli_printable(keyfile));
    return CLI_OK;
}

static json_t *key_rows_json(store *st, idp_error *e)
{
    store_key *rows = NULL;
    size_t n = 0;
    if (store_key_list(st, &rows, &n, e) != IDP_OK) return NULL;
    static const char *states[] = {"next", "current", "retired"};
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(a, json_pack("{s:s, s:s, s:s}", "kid", rows[i].kid, "alg",
                                           rows[i].alg, "state", states[rows[i].state % 3]));
    }
    store_key_list_free(rows, n);
    return a;
}

/* Prints what init created. Steals keys. */
static void print_result(const cli *c, json_t *keys)
{
    const cfg *cf = c->cfg;
    if (c->json) {
        cli_print_json(json_pack("{s:s, s:s, s:o}", "data_dir", cf->data_dir, "issuer", cf->issuer,
                                 "keys", keys));
        return;
    }
    printf("initialised %s\nissuer: %s\nkeys:\n", cf->data_dir, cf->issuer);
    for (size_t i = 0; i < json_array_size(keys); i++) {
        json_t *k = json_array_get(keys, i);
        printf("  %-7s %-8s %s\n", json_string_value(json_object_get(k, "state")),
               json_string_value(json_object_get(k, "alg")),
               json_string_value(json_object_get(k, "kid")));
    }
    json_decref(keys);
}

/* Removes DB and its SQLite side files. */
static void remove_db(const char *db)
{
    static const char *sfx[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; i < sizeof sfx / sizeof *sfx; i++) {
        char p[4096];
        snprintf(p, sizeof p, "%s%s", db, sfx[i]);
        unlink(p);
    }
}

static bool is_pg_spec(const char *s)
{
    return s && (!strncmp(s, "postgres:", 9) || !strncmp(s, "postgresql:", 11));
}

/* Creates the master key, the store and the first keys. On failure removes what it created,
 * so init can simply be run again (a PostgreSQL store keeps its schema, empty of keys: drop it
 * by hand to run init on that database again). */
static int create_all(cli *c)
{
    idp_error e = {0};
    const cfg *cf = c->cfg;
    char *db = cf->store ? xstrdup(cf->store) : cli_path(cf->data_dir, "idpd.db");
    bool made_key = false, made_db = false, changed = false, pg = is_pg_spec(cf->store);
    json_t *keys = NULL;
    idp_err rc = IDP_OK;

    if (cf->store) {
        /* an existing store is never initialised again (as an existing idpd.db, check_dir) */
        store *probe = NULL;
        const char *p = strncmp(cf->store, "sqlite:", 7) ? cf->store : cf->store + 7;
        struct stat sb;
        if (!pg && stat(p, &sb) == 0) rc = IDP_FAIL(&e, IDP_ERR_CONFLICT, "%s already exists", p);
        if (pg && (rc = store_open_pool(db, false, cf->store_pool, &probe, &e)) == IDP_OK) {
            store_close(probe);
            rc = IDP_FAIL(&e, IDP_ERR_CONFLICT, "the database already holds an idpd store");
        } else if (pg && rc == IDP_ERR_NOT_FOUND) {
            rc = IDP_OK;
        }
        if (rc) {
            free(db);
            return cli_fail_err(c, &e);
        }
        if (!pg) {
            free(db);
            db = xstrdup(p);
        }
    }

    if (!getenv("IDPD_MASTER_KEY")) {
        if ((rc = kek_create_file(cf->master_key_file, &e)) != IDP_OK) goto out;
        made_key = true;
    }
    if ((rc = kek_load(cf->master_key_file, &c->kek, &e)) != IDP_OK) goto out;
    if ((rc = store_open_pool(db, true, cf->store_pool, &c->st, &e)) != IDP_OK) goto out;
    made_db = true;
    if ((rc = store_meta_set(c->st, "issuer", cf->issuer, &e)) != IDP_OK) goto out;
    if ((rc = rotation_tick(c->st, c->kek, cf, time_now(), &changed, &e)) != IDP_OK) goto out;
    if (!(keys = key_rows_json(c->st, &e))) rc = e.code ? e.code : IDP_ERR_INTERNAL;
out:
    if (rc == IDP_OK) {
        print_result(c, keys);
    } else {
        store_close(c->st);
        c->st = NULL;
        if (made_db && !pg) remove_db(db);
        if (made_key) unlink(cf->master_key_file);
    }
    free(db);
    return rc == IDP_OK ? CLI_OK : cli_fail_err(c, &e);
}

int cli_init_main(int argc, char **argv)
{
    static const struct option lo[] = {
        CLI_COMMON_OPTIONS, {"issuer", required_argument, NULL, OPT_ISSUER}, {0, 0, 0, 0}};
    cli c;
    int rc = CLI_OK, o;
    cli_begin(&c, "init", init_help);
    while ((o = cli_getopt(&c, argc, argv, lo)) != -1) {
        if ((rc = cli_common_opt(&c, o, optarg, argv)) == CLI_CONTINUE) continue;
        if (rc != CLI_NOT_COMMON) goto out;
        if (o == OPT_ISSUER) cli_flag(&c, "issuer", optarg);
    }
    if (optind < argc) {
        rc = cli_usage(&c, "unexpected argument %s", cli_printable(argv[optind]));
        goto out;
    }
    if ((rc = cli_load_cfg(&c, true)) != CLI_OK) goto out;
    idp_error e = {0};
    if (cfg_validate(c.cfg, &e) != IDP_OK) {
        rc = cli_fail_err(&c, &e);
        goto out;
    }
    if ((rc = check_dir(&c, c.cfg->data_dir, c.cfg->master_key_file)) != CLI_OK) goto out;
    rc = create_all(&c);
out:
    cli_close(&c);
    return rc;
}
