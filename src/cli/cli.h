/* cli — helpers shared by the `idpd <command>` implementations (one file per command group:
 * init.c, serve.c, client.c, key.c, verify.c).
 *
 * Conventions (the CLI contract):
 *  - configuration = defaults <- --config FILE <- IDPD_* environment <- command-line flags;
 *  - every command takes --data-dir DIR, --config FILE, --json and --help;
 *  - exit codes: 0 ok, 1 failure ("idpd <cmd>: <reason>" on stderr), 2 usage error;
 *  - --json prints exactly one JSON document on stdout;
 *  - secrets are printed only by `client create`, `client rotate-secret`,
 *    `provisioning-key create` and `provisioning-key rotate`, never logged. */
#ifndef IDPD_CLI_CLI_H
#define IDPD_CLI_CLI_H

#include "core/cfg.h"
#include "core/buf.h"
#include "core/err.h"
#include "keys/kek.h"
#include "store/store.h"

#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

/* Returned by cli_common_opt: keep parsing / the command must handle the option itself. */
#define CLI_CONTINUE (-1)
#define CLI_NOT_COMMON (-2)

/* Long-option values of the common options (short options are not used except -h). */
enum {
    CLI_OPT_DATA_DIR = 0x100,
    CLI_OPT_CONFIG,
    CLI_OPT_JSON,
    CLI_OPT_STORE,
    CLI_OPT_FIRST_CMD = 0x200, /* commands number their own options from here */
};

/* clang-format off */
#define CLI_COMMON_OPTIONS                                      \
    {"data-dir", required_argument, NULL, CLI_OPT_DATA_DIR},    \
    {"store", required_argument, NULL, CLI_OPT_STORE},          \
    {"config", required_argument, NULL, CLI_OPT_CONFIG},        \
    {"json", no_argument, NULL, CLI_OPT_JSON},                  \
    {"help", no_argument, NULL, 'h'}
/* clang-format on */

#define CLI_COMMON_HELP                                                                            \
    "  --data-dir DIR     data directory (env IDPD_DATA_DIR)\n"                                    \
    "  --store SPEC       the store: SQLite file or postgresql:// URI (env IDPD_STORE;\n"          \
    "                     default DATA_DIR/idpd.db)\n"                                             \
    "  --config FILE      YAML configuration file (see docs/CONFIG.md)\n"                          \
    "  --json             machine-readable output: one JSON document on stdout\n"                  \
    "  --help             this help\n"

#define CLI_MAX_FLAGS 16

typedef struct cli {
    const char *cmd;         /* "init", "client create", ...: prefix of messages */
    const char *help;        /* full --help text */
    const char *config_file; /* borrowed from argv */
    bool json;
    bool issuer_from_cfg; /* serve/verify: issuer left NULL unless file/env/flag sets it */
    struct {
        const char *name, *value; /* borrowed from argv */
    } flags[CLI_MAX_FLAGS];
    size_t nflags;
    cfg *cfg;  /* owned; built by cli_load_cfg */
    store *st; /* owned; opened by cli_open */
    kek *kek;  /* owned; loaded by cli_open */
} cli;

/* Starts a command context; release with cli_close. */
void cli_begin(cli *c, const char *cmd, const char *help);
/* Frees the cfg, closes the store, wipes the master key. */
void cli_close(cli *c);

/* getopt_long with the GNU conventions (options may follow operands); resets getopt. */
int cli_getopt(cli *c, int argc, char **argv, const struct option *lo);
/* Handles the common options and getopt's errors for option o (optarg as arg). Returns
 * CLI_CONTINUE when handled, CLI_NOT_COMMON for a command option, else an exit code
 * (0 after --help, 2 after a bad option). */
int cli_common_opt(cli *c, int o, const char *arg, char **argv);
/* Records a cfg override from a flag (applied after the config file and the environment). */
void cli_flag(cli *c, const char *name, const char *value);

/* Builds c->cfg: defaults <- config file <- env <- flags, then sets master_key_file to
 * DATA_DIR/master.key when unset. Returns CLI_OK, CLI_FAIL (file/env) or CLI_USAGE (bad flag
 * value, or need_data_dir and no data dir given). Does not run cfg_validate. */
int cli_load_cfg(cli *c, bool need_data_dir);
/* Opens DATA_DIR/idpd.db (must exist) and, when need_kek, loads the master key. */
int cli_open(cli *c, bool need_kek);

/* "DIR/name"; owned. */
char *cli_path(const char *dir, const char *name);

/* Message helpers: print "idpd <cmd>: ..." on stderr and return the exit code. */
int cli_fail(const cli *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int cli_fail_err(const cli *c, const idp_error *e);
int cli_usage(const cli *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prints v (pretty, one document, trailing newline) on stdout; steals the reference. */
void cli_print_json(json_t *v);
/* Text safe to echo in a message: s when it is short printable ASCII, else "(invalid)". */
const char *cli_printable(const char *s);
/* JSON array of the words of a space-separated list (NULL/"" -> []). New reference. */
json_t *cli_words_json(const char *list);
/* Appends an audit event with actor "cli" (DESIGN §9: every admin action is audited). */
idp_err cli_audit(cli *c, const char *action, const char *target_type, const char *target_id,
                  const char *detail, idp_error *e);
/* Reads a whole file into out (its cap bounds the size: IDP_ERR_TOO_LARGE). */
idp_err cli_read_file(const char *path, idp_buf *out, idp_error *e);

/* The command entry points; argv[0] is the command name. */
int cli_init_main(int argc, char **argv);
int cli_serve_main(int argc, char **argv);
int cli_policy_main(int argc, char **argv);
int cli_client_main(int argc, char **argv);
int cli_key_main(int argc, char **argv);
int cli_verify_main(int argc, char **argv);
int cli_pkey_main(int argc, char **argv);  /* idpd provisioning-key ... (pkey.c) */
int cli_audit_main(int argc, char **argv);
int cli_federation_main(int argc, char **argv); /* idpd federation ... (federation.c) */
int cli_store_main(int argc, char **argv);      /* idpd store migrate (store.c) */

#endif
