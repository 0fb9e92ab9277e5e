/* idpd verify — offline verification of a JWT access token against a JWKS (a file or an
 * http(s) URL): signature with an algorithm allow-list (RFC 8725 §3.1), typ (RFC 9068 §4),
 * exp/nbf/iat with leeway, iss and aud (RFC 7519 §4.1). Prints the claims; never the token. */
#include "cli/cli.h"

#include "core/buf.h"
#include "core/mem.h"
#include "fetch/fetch.h"
#include "jose/jwk.h"
#include "jose/jws.h"
#include "proto/token_verify.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define JWKS_MAX (1024u * 1024u) /* a JWKS larger than this is refused */

static const char verify_help[] =
    "Usage: idpd verify --jwks URL|FILE --issuer ISS --audience AUD [--typ TYP] [--alg A,B]\n"
    "                   TOKEN|-\n"
    "Verifies a JWT access token (TOKEN, or read from stdin when '-') and prints its claims.\n"
    "  --jwks URL|FILE    the issuer's JWKS: an http(s) URL (TLS verified) or a file\n"
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

/* ---- loading the JWKS ----------------------------------------------------------------- */

/* The JWKS at url into out (capped at out->max): TLS verified, at most 3 redirects. */
static idp_err fetch_url(const char *url, idp_buf *out, idp_error *e)
{
    static const fetch_opts o = {.timeout_ms = 15000,
                                 .connect_timeout_ms = 5000,
                                 .max_redirects = 3,
                                 .allow_http = true,
                                 .user_agent = "idpd-verify"};
    fetch_resp r;
    idp_error fe = {0};
    idp_err rc = fetch_get(url, &o, out, &r, &fe);
    if (rc == IDP_ERR_TOO_LARGE) return IDP_FAIL(e, rc, "JWKS larger than %u bytes", JWKS_MAX);
    if (rc) return IDP_FAIL(e, rc, "cannot fetch the JWKS: %s", fe.msg);
    if (r.status != 200)
        return IDP_FAIL(e, IDP_ERR_IO, "cannot fetch the JWKS: HTTP status %ld", r.status);
    return IDP_OK;
}

/* RFC 7517 §5: an unusable member is ignored, and said so on stderr (never used). */
static void report_skipped(void *ctx, size_t index, const char *kid, const char *reason)
{
    char safe[80];
    snprintf(safe, sizeof safe, "%s", cli_printable(kid));
    fprintf(stderr, "idpd verify: ignoring JWKS member %zu%s%s%s: %s\n", index,
            *kid ? " (kid " : "", safe, *kid ? ")" : "", reason);
}

static idp_err load_jwks(const char *src, jwks **out, idp_error *e)
{
    idp_buf b;
    buf_init(&b, JWKS_MAX);
    bool url = !strncmp(src, "https://", 8) || !strncmp(src, "http://", 7);
    idp_err rc = url ? fetch_url(src, &b, e) : cli_read_file(src, &b, e);
    if (!rc) {
        idp_error pe = {0};
        rc = jwks_from_json_report(b.data ? b.data : "", b.len, report_skipped, NULL, out, &pe);
        if (rc) {
            IDP_FAIL(e, rc, "the JWKS is not usable: %s", pe.msg);
        } else if (jwks_count(*out) == 0) {
            jwks_unref(*out);
            *out = NULL;
            rc = IDP_FAIL(e, IDP_ERR_JOSE_KEY, "the JWKS has no usable key");
        }
    }
    buf_free(&b);
    return rc;
}

/* ---- checks --------------------------------------------------------------------------- */

static int parse_algs(cli *c, const char *list, unsigned *mask)
{
    *mask = 0;
    for (const char *p = list; *p;) {
        size_t l = strcspn(p, ", ");
        jws_alg a = jws_alg_from_name(p, l);
        if (a == JWS_ALG_INVALID)
            return cli_usage(c, "--alg: unknown algorithm (use ES256, RS256, PS256, EdDSA)");
        *mask |= JWS_ALG_BIT(a);
        p += l;
        p += strspn(p, ", ");
    }
    return *mask ? CLI_OK : cli_usage(c, "--alg: empty list");
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
    jwks *keys = NULL;
    json_t *claims = NULL;
    idp_error e = {0};
    idp_buf tok;
    unsigned mask = 0;
    int rc = CLI_OK;
    buf_init(&tok, JWS_MAX_LEN + 2);
    if ((rc = parse_algs(c, a->algs ? a->algs : "ES256,RS256,PS256,EdDSA", &mask)) != CLI_OK)
        goto out;
    if (!strcmp(a->token, "-")) {
        if ((rc = read_stdin_token(c, &tok)) != CLI_OK) goto out;
    } else if (buf_puts(&tok, a->token)) {
        rc = cli_fail(c, "token too large");
        goto out;
    }
    if (load_jwks(a->jwks, &keys, &e) != IDP_OK) {
        rc = cli_fail_err(c, &e);
        goto out;
    }
    token_verify_opts vo = {.keys = keys,
                            .algs = mask,
                            .typ = a->typ && !*a->typ ? NULL : (a->typ ? a->typ : "at+jwt"),
                            .issuer = c->cfg->issuer,
                            .audiences = &a->audience,
                            .naudiences = 1,
                            .leeway = c->cfg->leeway,
                            .require_exp = true};
    idp_err r = token_verify(tok.data, tok.len, &vo, &claims, &e);
    if (r != IDP_OK) {
        /* e.msg describes the check, never the token */
        const char *why = token_verify_reason(r);
        if (e.msg[0] && strcasecmp(e.msg, why))
            rc = cli_fail(c, "%s (%s)", why, e.msg);
        else
            rc = cli_fail(c, "%s", why);
        goto out;
    }
    cli_print_json(claims);
    claims = NULL;
out:
    json_decref(claims);
    jwks_unref(keys);
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
    (void)fetch_init(NULL); /* a failure shows at the first fetch; a JWKS file needs none */
    rc = verify(&c, &a);
    fetch_cleanup();
out:
    cli_close(&c);
    return rc;
}
