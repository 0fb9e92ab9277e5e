/* idpd — argv -> command; nothing else (DESIGN §3). Each command lives in src/cli/. */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

static const char usage[] =
    "Usage: idpd <command> [options]\n"
    "Commands:\n"
    "  init      create a data directory: master key, store, first signing keys\n"
    "  serve     run the OAuth 2.0 token server (--check: validate and exit)\n"
    "  client    create|list|show|delete|rotate-secret OAuth clients\n"
    "  key       list|rotate signing keys\n"
    "  verify    verify a JWT access token against a JWKS and print its claims\n"
    "  provisioning-key  create|list|revoke|rotate keys for SCIM and the admin API\n"
    "  audit     tail [--verify]: show the audit events, check their hash chain\n"
    "  policy    check|apply|history|show|diff|rollback|explain the permission policy\n"
    "  federation  status|refresh|test the trusted upstream issuers' keys and tokens\n"
    "  store     migrate: apply the store's pending schema migrations\n"
    "Run 'idpd <command> --help' for a command's options. Exit codes: 0 ok, 1 failure,\n"
    "2 usage error.\n";

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
} commands[] = {
    {"init", cli_init_main}, {"serve", cli_serve_main},   {"client", cli_client_main},
    {"key", cli_key_main},   {"verify", cli_verify_main}, {"provisioning-key", cli_pkey_main},
    {"audit", cli_audit_main}, {"policy", cli_policy_main},
    {"federation", cli_federation_main},
    {"store", cli_store_main},
};

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage, stderr);
        return CLI_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        fputs(usage, stdout);
        return CLI_OK;
    }
    if (!strcmp(cmd, "--version")) {
        puts("idpd " IDPD_VERSION);
        return CLI_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        if (!strcmp(cmd, commands[i].name)) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "idpd: unknown command %s\n%s", cli_printable(cmd), usage);
    return CLI_USAGE;
}
