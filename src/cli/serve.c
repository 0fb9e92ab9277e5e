/* idpd serve — resolves the final configuration and runs the HTTP server (server/run.h);
 * with --check validates everything the server would load and exits. */
#include "cli/cli.h"

#include "core/log.h"
#include "core/mem.h"
#include "server/run.h"
#include "keys/keyset.h"
#include "keys/rotation.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char serve_help[] =
    "Usage: idpd serve --data-dir DIR [--listen HOST:PORT] [--issuer URL] [--config FILE]\n"
    "                  [--log-level LEVEL] [--check]\n"
    "Runs the token server until SIGTERM/SIGINT. The issuer is --issuer, else the config file\n"
    "or IDPD_ISSUER, else the one recorded by idpd init, else http:// + listen.\n"
    "  --listen HOST:PORT address to bind (default 127.0.0.1:8080; port 0 = any free port)\n"
    "  --issuer URL       issuer identifier (absolute http(s) URL, no trailing slash)\n"
    "  --log-level LEVEL  debug|info|warn|error\n"
    "  --check            validate the configuration (a rotation_period that keeps the key set\n"
    "                     within its bound), the store, the master key and the keys,\n"
    "                     print \"configuration ok\" and exit\n" CLI_COMMON_HELP;

enum { OPT_LISTEN = CLI_OPT_FIRST_CMD, OPT_ISSUER, OPT_LOG_LEVEL, OPT_CHECK };

/* issuer: flag/config/env (already in cfg) > store meta "issuer" > "http://" + listen. */
static int resolve_issuer(cli *c)
{
    idp_error e = {0};
    char *iss = NULL;
    if (c->cfg->issuer) return CLI_OK;
    idp_err rc = store_meta_get(c->st, "issuer", &iss, &e);
    if (rc == IDP_ERR_NOT_FOUND) {
        size_t n = strlen(c->cfg->listen) + 8;
        iss = xmalloc(n);
        snprintf(iss, n, "http://%s", c->cfg->listen);
    } else if (rc != IDP_OK) {
        return cli_fail_err(c, &e);
    }
    rc = cfg_set(c->cfg, "issuer", iss, &e);
    free(iss);
    return rc ? cli_fail_err(c, &e) : CLI_OK;
}

/* --check: what the server loads at start, without listening. */
static int check(cli *c)
{
    idp_error e = {0};
    keyset *ks = NULL;
    if (rotation_check(c->cfg, &e) != IDP_OK) return cli_fail_err(c, &e);
    if (keyset_load(c->st, c->kek, &ks, &e) != IDP_OK) return cli_fail_err(c, &e);
    keyset_unref(ks);
    if (c->json)
        cli_print_json(json_pack("{s:b, s:s}", "ok", 1, "issuer", c->cfg->issuer));
    else
        puts("configuration ok");
    return CLI_OK;
}

int cli_serve_main(int argc, char **argv)
{
    static const struct option lo[] = {CLI_COMMON_OPTIONS,
                                       {"listen", required_argument, NULL, OPT_LISTEN},
                                       {"issuer", required_argument, NULL, OPT_ISSUER},
                                       {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
                                       {"check", no_argument, NULL, OPT_CHECK},
                                       {0, 0, 0, 0}};
    cli c;
    int rc = CLI_OK, o;
    bool check_only = false;
    idp_error e = {0};
    cli_begin(&c, "serve", serve_help);
    c.issuer_from_cfg = true;
    while ((o = cli_getopt(&c, argc, argv, lo)) != -1) {
        if ((rc = cli_common_opt(&c, o, optarg, argv)) == CLI_CONTINUE) continue;
        if (rc != CLI_NOT_COMMON) goto out;
        if (o == OPT_LISTEN)
            cli_flag(&c, "listen", optarg);
        else if (o == OPT_ISSUER)
            cli_flag(&c, "issuer", optarg);
        else if (o == OPT_LOG_LEVEL)
            cli_flag(&c, "log_level", optarg);
        else if (o == OPT_CHECK)
            check_only = true;
    }
    rc = CLI_OK;
    if (optind < argc) {
        rc = cli_usage(&c, "unexpected argument %s", cli_printable(argv[optind]));
        goto out;
    }
    if ((rc = cli_load_cfg(&c, true)) != CLI_OK) goto out;
    if ((rc = cli_open(&c, check_only)) != CLI_OK) goto out;
    if ((rc = resolve_issuer(&c)) != CLI_OK) goto out;
    if (cfg_validate(c.cfg, &e) != IDP_OK) {
        rc = cli_fail_err(&c, &e);
        goto out;
    }
    if (check_only) {
        rc = check(&c);
        goto out;
    }
    /* the server opens its own store connections and loads the master key itself */
    kek_free(c.kek);
    c.kek = NULL;
    store_close(c.st);
    c.st = NULL;
    log_set_level(log_level_from_name(c.cfg->log_level));
    if (server_run(c.cfg, &e) != IDP_OK) rc = cli_fail_err(&c, &e);
out:
    cli_close(&c);
    return rc;
}
