/* cli — shared helpers of the idpd commands (see cli.h). */
#include "cli/cli.h"

#include "core/mem.h"
#include "core/timeutil.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cli_begin(cli *c, const char *cmd, const char *help)
{
    memset(c, 0, sizeof *c);
    c->cmd = cmd;
    c->help = help;
    optind = 0; /* GNU getopt: full re-initialisation for this command's argv */
}

void cli_close(cli *c)
{
    kek_free(c->kek);
    store_close(c->st);
    cfg_free(c->cfg);
    c->kek = NULL;
    c->st = NULL;
    c->cfg = NULL;
}

int cli_getopt(cli *c, int argc, char **argv, const struct option *lo)
{
    (void)c;
    /* leading ':' -> a missing value is reported as ':'; getopt prints nothing itself */
    opterr = 0;
    return getopt_long(argc, argv, ":h", lo, NULL);
}

void cli_flag(cli *c, const char *name, const char *value)
{
    /* later flags of the same name win, as with any getopt program */
    for (size_t i = 0; i < c->nflags; i++) {
        if (!strcmp(c->flags[i].name, name)) {
            c->flags[i].value = value;
            return;
        }
    }
    if (c->nflags == CLI_MAX_FLAGS) abort(); /* a command declares more flags than fit: bug */
    c->flags[c->nflags].name = name;
    c->flags[c->nflags++].value = value;
}

int cli_common_opt(cli *c, int o, const char *arg, char **argv)
{
    switch (o) {
    case CLI_OPT_DATA_DIR:
        cli_flag(c, "data_dir", arg);
        return CLI_CONTINUE;
    case CLI_OPT_STORE:
        cli_flag(c, "store", arg);
        return CLI_CONTINUE;
    case CLI_OPT_CONFIG:
        c->config_file = arg;
        return CLI_CONTINUE;
    case CLI_OPT_JSON:
        c->json = true;
        return CLI_CONTINUE;
    case 'h':
        fputs(c->help, stdout);
        return CLI_OK;
    case ':':
        return cli_usage(c, "option %s needs a value", cli_printable(argv[optind - 1]));
    case '?':
        if (optopt)
            return cli_usage(c, "unknown option -%c", optopt > 32 && optopt < 127 ? optopt : '?');
        return cli_usage(c, "unknown option %s", cli_printable(argv[optind - 1]));
    default:
        return CLI_NOT_COMMON;
    }
}

int cli_load_cfg(cli *c, bool need_data_dir)
{
    idp_error e = {0};
    c->cfg = cfg_new_defaults();
    if (c->issuer_from_cfg) {
        /* serve/verify resolve the issuer themselves when no file, env or flag sets it */
        free(c->cfg->issuer);
        c->cfg->issuer = NULL;
    }
    if (c->config_file && cfg_load_file(c->cfg, c->config_file, &e) != IDP_OK)
        return cli_fail_err(c, &e);
    if (cfg_load_env(c->cfg, &e) != IDP_OK) return cli_fail_err(c, &e);
    for (size_t i = 0; i < c->nflags; i++) {
        if (cfg_set(c->cfg, c->flags[i].name, c->flags[i].value, &e) != IDP_OK) {
            /* cfg says "data_dir: ..."; the user typed --data-dir */
            return cli_usage(c, "--%s", e.msg);
        }
    }
    if (!c->cfg->data_dir) {
        if (need_data_dir) return cli_usage(c, "--data-dir DIR (or IDPD_DATA_DIR) is required");
        return CLI_OK;
    }
    if (!c->cfg->master_key_file) {
        char *p = cli_path(c->cfg->data_dir, "master.key");
        idp_err rc = cfg_set(c->cfg, "master_key_file", p, &e);
        free(p);
        if (rc) return cli_fail_err(c, &e);
    }
    return CLI_OK;
}

int cli_open(cli *c, bool need_kek)
{
    idp_error e = {0};
    /* the store: config `store` (--store, IDPD_STORE), else SQLite in the data directory */
    char *db = c->cfg->store ? xstrdup(c->cfg->store) : cli_path(c->cfg->data_dir, "idpd.db");
    idp_err rc = store_open_pool(db, false, c->cfg->store_pool, &c->st, &e);
    if (rc == IDP_ERR_NOT_FOUND && !c->cfg->store) {
        int x = cli_fail(c, "%s: no idpd.db here (run idpd init --data-dir %s first)",
                         cli_printable(c->cfg->data_dir), cli_printable(c->cfg->data_dir));
        free(db);
        return x;
    }
    free(db);
    if (rc) return cli_fail_err(c, &e);
    if (need_kek && kek_load(c->cfg->master_key_file, &c->kek, &e) != IDP_OK)
        return cli_fail_err(c, &e);
    return CLI_OK;
}

char *cli_path(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = xmalloc(n);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

__attribute__((format(printf, 2, 0))) static void vmsg(const cli *c, const char *fmt, va_list ap)
{
    fprintf(stderr, "idpd %s: ", c->cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

int cli_fail(const cli *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmsg(c, fmt, ap);
    va_end(ap);
    return CLI_FAIL;
}

int cli_fail_err(const cli *c, const idp_error *e)
{
    return cli_fail(c, "%s", e->msg[0] ? e->msg : idp_err_name(e->code));
}

int cli_usage(const cli *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmsg(c, fmt, ap);
    va_end(ap);
    fprintf(stderr, "Try 'idpd %s --help'.\n", c->cmd);
    return CLI_USAGE;
}

void cli_print_json(json_t *v)
{
    if (!v) abort(); /* jansson returns NULL only on OOM */
    char *s = json_dumps(v, JSON_INDENT(2) | JSON_ENSURE_ASCII);
    if (!s) abort();
    fputs(s, stdout);
    fputc('\n', stdout);
    free(s);
    json_decref(v);
}

const char *cli_printable(const char *s)
{
    if (!s) return "(null)";
    size_t n = strlen(s);
    if (n == 0 || n > 256) return "(invalid)";
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f) return "(invalid)";
    return s;
}

json_t *cli_words_json(const char *list)
{
    json_t *a = json_array();
    for (const char *p = list ? list : ""; *p;) {
        while (*p == ' ')
            p++;
        size_t l = strcspn(p, " ");
        if (l) json_array_append_new(a, json_stringn(p, l));
        p += l;
    }
    return a;
}

idp_err cli_read_file(const char *path, idp_buf *out, idp_error *e)
{
    char chunk[8192];
    size_t n;
    idp_err rc = IDP_OK;
    FILE *f = fopen(path, "rb");
    if (!f) return IDP_FAIL(e, IDP_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (buf_append(out, chunk, n)) {
            rc = IDP_FAIL(e, IDP_ERR_TOO_LARGE, "%s is larger than %zu bytes", path, out->max);
            break;
        }
    }
    if (!rc && ferror(f)) rc = IDP_FAIL(e, IDP_ERR_IO, "cannot read %s", path);
    fclose(f);
    return rc;
}

idp_err cli_audit(cli *c, const char *action, const char *target_type, const char *target_id,
                  const char *detail, idp_error *e)
{
    store_audit ev;
    memset(&ev, 0, sizeof ev);
    ev.time_ms = time_now_ms();
    ev.actor = (char *)"cli";
    ev.action = (char *)action;
    ev.target_type = (char *)target_type;
    ev.target_id = (char *)target_id;
    ev.detail = (char *)detail;
    return c->st->ops->audit_append(c->st, &ev, e);
}
