/* idpd verify — offline verification of a JWT access token against a JWKS (a file or an
 * http(s) URL): signature with an algorithm allow-list (RFC 8725 §3.1), typ (RFC 9068 §4),
 * exp/nbf/iat with leeway, iss and aud (RFC 7519 §4.1); exp required.
 * Prints the claims; never the token. It is a client of libidpd-verify (include/idpd/verify.h,
 * linked statically): the same verification a resource server linking the library gets, with
 * its URL rules (https://, or http:// to a loopback host; no redirect followed). */
#include "cli/cli.h"

#include "core/buf.h"
#include "jose/alg.h"
#include "jose/jws.h"

#include <idpd/verify.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char verify_help[] =
    "Usage: idpd verify --jwks URL|FILE --issuer ISS --audience AUD [--typ TYP] [--alg A,B]\n"
    "                   TOKEN|-\n"
    "Verifies a JWT access token (TOKEN, or read from stdin when '-') and prints its claims.\n"
    "  --jwks URL|FILE    the issuer's JWKS: an https URL (TLS verified; http:// to a loopback\n"
    "                     host only) or a file\n"
    "  --issuer ISS       required iss (default: issuer from --config / IDPD_ISSUER)\n"
    "  --audience AUD     required aud value\n"
    "  --typ TYP          required typ header (default at+jwt; '' = do not check)\n"
    "  --alg LIST         comma-separated allowed algorithms (default ES256,RS256,PS256,EdDSA)\n"
    "Leeway for exp/nbf/iat comes from the configuration (leeway, default 30s).\n"
    "Exit 0 when valid, 1 with the reason on stderr otherwise.\n" CLI_COMMON_HELP;

enum { OPT_JWKS = CLI_OPT_FIRST_CMD, OPT_ISSUER, OPT_AUDIENCE, OPT_TYP, OPT_ALG };

typedef struct verify_args {
    const char *jwks, *audience, *typ, *algs, *token;
} verify_args;

/* RFC 7517 §5: an unusable member is ignored, and said so on stderr (never used). */
static void report_skipped(void *ctx, size_t index, const char *kid, const char *reason)
{
    char safe[80];
    snprintf(safe, sizeof safe, "%s", cli_printable(kid));
    fprintf(stderr, "idpd verify: ignoring JWKS member %zu%s%s%s: %s\n", index,
            *kid ? " (kid " : "", safe, *kid ? ")" : "", reason);
}

/* A usage error for an unknown name in --alg (the library would refuse it too, later). */
static int check_algs(cli *c, const char *list)
{
    bool any = false;
    for (const char *p = list + strspn(list, ", "); *p;) {
        size_t l = strcspn(p, ", ");
        if (jws_alg_from_name(p, l) == JWS_ALG_INVALID)
            return cli_usage(c, "--alg: unknown algorithm (use ES256, RS256, PS256, EdDSA)");
        any = true;
        p += l;
        p += strspn(p, ", ");
    }
    return any ? CLI_OK : cli_usage(c, "--alg: empty list");
}

/* Reads the token from stdin (one line, capped) into out. */
static int read_stdin_token(cli *c, idp_buf *out)
{
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, stdin)) > 0)
        if (buf_append(out, chunk, n)) return cli_fail(c, "token too large");
    while (out->len && strchr(" \t\r\n", out->data[out->len - 1]))
        out->data[--out->len] = '\0';
    return out->len ? CLI_OK : cli_usage(c, "no token on stdin");
}

static int verify(cli *c, const verify_args *a)
{
    idpd_verify *v = NULL;
    idpd_verify_claims *claims = NULL;
    idpd_verify_error e;
    idp_buf tok;
    int rc = CLI_OK;
    buf_init(&tok, JWS_MAX_LEN + 2);
    if (a->algs && (rc = check_algs(c, a->algs)) != CLI_OK) goto out;
    if (!strcmp(a->token, "-")) {
        if ((rc = read_stdin_token(c, &tok)) != CLI_OK) goto out;
    } else if (buf_puts(&tok, a->token)) {
        rc = cli_fail(c, "token too large");
        goto out;
    }
    idpd_verify_options o;
    idpd_verify_options_init(&o);
    o.issuer = c->cfg->issuer;
    o.audiences = &a->audience;
    o.naudiences = 1;
    bool url = !strncmp(a->jwks, "https://", 8) || !strncmp(a->jwks, "http://", 7);
    o.jwks_uri = url ? a->jwks : NULL;
    o.jwks_file = url ? NULL : a->jwks;
    o.allow_http_loopback = true;
    o.algorithms = a->algs;
    o.typ = a->typ;
    o.leeway_s = c->cfg->leeway < 0 ? 0 : c->cfg->leeway > 600 ? 600 : c->cfg->leeway;
    o.exp_only = true; /* as idpd verify has always checked: exp required, the rest if present */
    o.cache_size = 0;  /* one token */
    o.jwks_fetch_timeout_ms = 15000;
    o.on_jwks_skip = report_skipped;
    if (idpd_verify_new(&o, &v, &e) != IDPD_VERIFY_OK) {
        rc = cli_usage(c, "%s", e.reason);
        goto out;
    }
    if (idpd_verify_token(v, tok.data, tok.len, &claims, &e) != IDPD_VERIFY_OK) {
        rc = cli_fail(c, "%s", e.reason); /* never token bytes (verify.h) */
        goto out;
    }
    char *text = idpd_verify_claims_json(claims);
    json_t *j = json_loads(text, 0, NULL);
    free(text);
    if (!j) {
        rc = cli_fail(c, "out of memory");
        goto out;
    }
    cli_print_json(j);
out:
    idpd_verify_claims_free(claims);
    idpd_verify_free(v);
    buf_free(&tok);
    return rc;
}

int cli_verify_main(int argc, char **argv)
{
    static const struct option lo[] = {CLI_COMMON_OPTIONS,
                                       {"jwks", required_argument, NULL, OPT_JWKS},
                                       {"issuer", required_argument, NULL, OPT_ISSUER},
                                       {"audience", required_argument, NULL, OPT_AUDIENCE},
                                       {"typ", required_argument, NULL, OPT_TYP},
                                       {"alg", required_argument, NULL, OPT_ALG},
                                       {0, 0, 0, 0}};
    cli c;
    verify_args a = {0};
    int rc = CLI_OK, o;
    cli_begin(&c, "verify", verify_help);
    c.issuer_from_cfg = true;
    while ((o = cli_getopt(&c, argc, argv, lo)) != -1) {
        if ((rc = cli_common_opt(&c, o, optarg, argv)) == CLI_CONTINUE) continue;
        if (rc != CLI_NOT_COMMON) goto out;
        switch (o) {
        case OPT_JWKS:
            a.jwks = optarg;
            break;
        case OPT_ISSUER:
            cli_flag(&c, "issuer", optarg);
            break;
        case OPT_AUDIENCE:
            a.audience = optarg;
            break;
        case OPT_TYP:
            a.typ = optarg;
            break;
        case OPT_ALG:
            a.algs = optarg;
            break;
        default:
            break;
        }
    }
    rc = CLI_OK;
    if (optind != argc - 1) {
        /* never echo an operand: it may be a token */
        rc =
            cli_usage(&c, optind < argc ? "expects exactly one TOKEN" : "TOKEN (or -) is required");
        goto out;
    }
    a.token = argv[optind];
    if (!a.jwks) {
        rc = cli_usage(&c, "--jwks URL|FILE is required");
        goto out;
    }
    if (!a.audience || !*a.audience) {
        rc = cli_usage(&c, "--audience is required (RFC 9068 §4: a resource server checks aud)");
        goto out;
    }
    if ((rc = cli_load_cfg(&c, false)) != CLI_OK) goto out;
    if (!c.cfg->issuer) {
        rc = cli_usage(&c, "--issuer is required");
        goto out;
    }
    rc = verify(&c, &a);
out:
    cli_close(&c);
    return rc;
}
