/* idpd policy check|apply|history|show|diff|rollback|explain — the versioned permission policy
 * (DESIGN §7, docs/POLICY.md). check needs no data directory; the others work on the store, and a
 * running server picks an applied or rolled-back version up within a second (or at once on
 * SIGHUP). Every change is audited with actor "cli". */
#include "cli/cli.h"

#include "core/mem.h"
#include "core/timeutil.h"
#include "keys/keyset.h"
#include "oauth/policy_admin.h"
#include "policy/policy_fed.h"
#include "policy/policy_routes.h"
#include "policy/policy.h"
#include "verify/token_verify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char policy_help[] =
    "Usage: idpd policy <check|apply|history|show|diff|rollback|explain> [options]\n"
    "  check FILE            validate a policy document; every error as FILE:LINE: message\n"
    "  apply FILE            validate, store as a new version and activate it\n"
    "  history               list the versions (newest first) and which one is active\n"
    "  show [N]              print the document of version N (default: the active one)\n"
    "  diff A B              what changes from A to B (version numbers or files)\n"
    "  rollback N            activate version N again\n"
    "  explain --user U|--client C|--issuer I --subject SUB [--groups G,..] --scope S\n"
    "          [--resource R]\n"
    "                        which bindings, roles and permissions grant or deny S\n"
    "  explain --route METHOD URL [--token JWT | --scope S]\n"
    "                        which routes: rule matches a request, what it requires\n"
    "Run 'idpd policy <subcommand> --help' for the options of each.\n";

static const char sub_help_text[] =
    "Usage: idpd policy check FILE [--env E]\n"
    "       idpd policy apply FILE [--env E] [--comment TEXT]\n"
    "       idpd policy history | show [N] | diff A B | rollback N\n"
    "       idpd policy explain (--user USERNAME | --client CLIENT_ID) --scope S [--resource URI]\n"
    "       idpd policy explain --issuer NAME --subject SUB [--groups G1,G2] [--user USERNAME]\n"
    "                           --scope S [--resource URI]\n"
    "       idpd policy explain --route METHOD URL [--token JWT | --scope \"S1 S2\"]\n"
    "  --route METHOD     with the request URL as operand (/path?q or http(s)://host/path):\n"
    "                     the routes: rule /forward-auth applies (docs/POLICY.md \"Routes\")\n"
    "  --token JWT        with --route: an access token of ours (verified with the store's\n"
    "                     keys; revocation is not checked here): does it meet the rule?\n"
    "  --scope S          with --route: a token with these scopes (space-separated)\n"
    "  --env E            environment overlay to check against (default: policy_env)\n"
    "  --comment TEXT     recorded with the new version\n"
    "  --issuer NAME      a federation issuer of the policy (federation.issuers[].name)\n"
    "  --subject SUB      the upstream subject (the issuer's subject_claim)\n"
    "  --groups G1,G2     upstream group values, mapped by the issuer's `groups` claim rule\n"
    "  --user USERNAME    with --issuer: the local user the subject is linked to\n" CLI_COMMON_HELP;

enum {
    OPT_ENV = CLI_OPT_FIRST_CMD,
    OPT_COMMENT,
    OPT_USER,
    OPT_CLIENT,
    OPT_SCOPE,
    OPT_RESOURCE,
    OPT_ISSUER,
    OPT_SUBJECT,
    OPT_GROUPS,
    OPT_ROUTE,
    OPT_TOKEN
};

typedef struct pargs {
    const char *env, *comment, *user, *client, *scope, *resource;
    const char *issuer, *subject, *groups;
    const char *route, *token; /* explain --route METHOD, --token JWT */
} pargs;

static int read_doc(cli *c, const char *file, idp_buf *b)
{
    idp_error e = {0};
    buf_init(b, POLICY_MAX_BYTES + 1);
    if (cli_read_file(file, b, &e) != IDP_OK) {
        buf_free(b);
        return cli_fail_err(c, &e);
    }
    return CLI_OK;
}

static const char *env_of(const cli *c, const pargs *p)
{
    return p->env ? p->env : c->cfg->policy_env;
}

static int print_diags(const cli *c, const char *file, const policy_diags *d, const idp_error *e)
{
    idp_buf out;
    buf_init(&out, 0);
    policy_diags_format(d, file, &out);
    if (c->json) {
        json_t *errs = json_array();
        for (size_t i = 0; i < d->n; i++)
            json_array_append_new(errs, json_pack("{s:s, s:i, s:s}", "file", file, "line",
                                                  d->items[i].line, "message", d->items[i].msg));
        cli_print_json(json_pack("{s:b, s:o}", "ok", 0, "errors", errs));
    } else {
        fputs(buf_cstr(&out), stderr);
    }
    buf_free(&out);
    return cli_fail(c, "%s: %s", cli_printable(file), e->msg[0] ? e->msg : "invalid policy");
}

static int do_check(cli *c, const pargs *p, const char *file)
{
    idp_buf b;
    int rc = read_doc(c, file, &b);
    if (rc) return rc;
    policy *pol = NULL;
    policy_diags d = {0};
    idp_error e = {0};
    if (policy_load(b.data ? b.data : "", b.len, env_of(c, p), &pol, &d, &e) != IDP_OK) {
        rc = print_diags(c, file, &d, &e);
    } else if (c->json) {
        cli_print_json(json_pack("{s:b, s:s, s:I}", "ok", 1, "sha256", policy_sha256(pol), "scopes",
                                 (json_int_t)policy_scope_count(pol)));
    } else {
        printf("%s: ok (sha256 %s, %zu scopes)\n", file, policy_sha256(pol), policy_scope_count(pol));
    }
    policy_free(pol);
    policy_diags_free(&d);
    buf_free(&b);
    return rc;
}

static int do_apply(cli *c, const pargs *p, const char *file)
{
    idp_buf b;
    int rc = read_doc(c, file, &b);
    if (rc) return rc;
    if ((rc = cli_open(c, false)) != CLI_OK) {
        buf_free(&b);
        return rc;
    }
    policy_diags d = {0};
    idp_error e = {0};
    int64_t v = 0;
    bool same = false;
    if (policy_admin_apply(c->st, b.data ? b.data : "", b.len, env_of(c, p), "cli", p->comment, &v,
                           &same, &d, &e) != IDP_OK) {
        rc = d.n ? print_diags(c, file, &d, &e) : cli_fail_err(c, &e);
    } else if (c->json) {
        cli_print_json(json_pack("{s:I, s:b}", "version", (json_int_t)v, "changed", !same));
    } else if (same) {
        printf("unchanged: version %lld is already active with this document\n", (long long)v);
    } else {
        printf("applied: version %lld is active\n", (long long)v);
    }
    policy_diags_free(&d);
    buf_free(&b);
    return rc;
}

static int do_history(cli *c)
{
    store_policy *rows = NULL;
    size_t n = 0;
    int64_t active = 0;
    idp_error e = {0};
    int rc = cli_open(c, false);
    if (rc) return rc;
    if (c->st->ops->policy_list(c->st, &rows, &n, &e) != IDP_OK ||
        c->st->ops->policy_active(c->st, &active, &e) != IDP_OK)
        return cli_fail_err(c, &e);
    if (c->json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(
                arr, json_pack("{s:I, s:s, s:I, s:I, s:s, s:s?, s:b}", "version",
                               (json_int_t)rows[i].version, "sha256", rows[i].sha256, "created_at",
                               (json_int_t)rows[i].created_at, "activated_at",
                               (json_int_t)rows[i].activated_at, "actor",
                               rows[i].actor ? rows[i].actor : "", "comment", rows[i].comment,
                               "active", rows[i].version == active));
        cli_print_json(arr);
    } else {
        printf("%-8s %-20s %-20s %-12s %s\n", "VERSION", "CREATED", "ACTIVATED", "ACTOR", "SHA256");
        for (size_t i = 0; i < n; i++) {
            char t1[21], t2[21] = "-";
            time_format_rfc3339(rows[i].created_at, t1);
            if (rows[i].activated_at) time_format_rfc3339(rows[i].activated_at, t2);
            printf("%-8lld %-20s %-20s %-12s %.16s%s\n", (long long)rows[i].version, t1, t2,
                   rows[i].actor ? rows[i].actor : "", rows[i].sha256,
                   rows[i].version == active ? "  (active)" : "");
        }
    }
    store_policy_list_free(rows, n);
    return CLI_OK;
}

/* "N" -> a stored version; anything else -> a file. */
static int load_operand(cli *c, const pargs *p, const char *arg, policy **out)
{
    char *end = NULL;
    long long v = strtoll(arg, &end, 10);
    idp_error e = {0};
    if (*arg && !*end && v > 0) {
        int rc = c->st ? CLI_OK : cli_open(c, false);
        if (rc) return rc;
        if (policy_admin_load(c->st, v, env_of(c, p), out, &e) != IDP_OK) return cli_fail_err(c, &e);
        return CLI_OK;
    }
    idp_buf b;
    int rc = read_doc(c, arg, &b);
    if (rc) return rc;
    policy_diags d = {0};
    if (policy_load(b.data ? b.data : "", b.len, env_of(c, p), out, &d, &e) != IDP_OK)
        rc = print_diags(c, arg, &d, &e);
    policy_diags_free(&d);
    buf_free(&b);
    return rc;
}

static int do_show(cli *c, const char *arg)
{
    int64_t v = 0;
    idp_error e = {0};
    int rc = cli_open(c, false);
    if (rc) return rc;
    if (arg) {
        char *end = NULL;
        v = strtoll(arg, &end, 10);
        if (*end || v <= 0) return cli_usage(c, "show: N must be a version number");
    } else if (c->st->ops->policy_active(c->st, &v, &e) != IDP_OK) {
        return cli_fail_err(c, &e);
    }
    if (v == 0) return cli_fail(c, "no policy has been applied");
    store_policy row = {0};
    if (c->st->ops->policy_get(c->st, v, &row, &e) != IDP_OK) return cli_fail_err(c, &e);
    if (c->json)
        cli_print_json(json_pack("{s:I, s:s, s:s}", "version", (json_int_t)row.version, "sha256",
                                 row.sha256, "document", row.document));
    else
        fputs(row.document, stdout);
    store_policy_clear(&row);
    return CLI_OK;
}

static int do_diff(cli *c, const pargs *p, const char *a, const char *b)
{
    policy *pa = NULL, *pb = NULL;
    int rc = load_operand(c, p, a, &pa);
    if (!rc) rc = load_operand(c, p, b, &pb);
    if (!rc) {
        idp_buf out;
        idp_error e = {0};
        buf_init(&out, 0);
        if (policy_diff(pa, pb, &out, &e) != IDP_OK) {
            rc = cli_fail_err(c, &e);
        } else if (c->json) {
            json_t *lines = json_array();
            for (const char *q = buf_cstr(&out); *q;) {
                size_t n = strcspn(q, "\n");
                json_array_append_new(lines, json_stringn(q, n));
                q += n + (q[n] == '\n');
            }
            cli_print_json(json_pack("{s:o}", "changes", lines));
        } else {
            fputs(out.len ? buf_cstr(&out) : "no differences\n", stdout);
        }
        buf_free(&out);
    }
    policy_free(pa);
    policy_free(pb);
    return rc;
}

static int do_rollback(cli *c, const pargs *p, const char *arg)
{
    char *end = NULL;
    long long v = strtoll(arg, &end, 10);
    if (!*arg || *end || v <= 0) return cli_usage(c, "rollback: N must be a version number");
    int rc = cli_open(c, false);
    if (rc) return rc;
    idp_error e = {0};
    if (policy_admin_rollback(c->st, v, env_of(c, p), "cli", &e) != IDP_OK) return cli_fail_err(c, &e);
    if (c->json)
        cli_print_json(json_pack("{s:I}", "version", (json_int_t)v));
    else
        printf("rolled back: version %lld is active\n", v);
    return CLI_OK;
}

/* --issuer: the upstream payload {subject_claim: SUB, <from of the `groups` rule>: [G...]} through
 * the issuer's claim mapping. *mapped (owned) is the mapped `groups` claim as an array (empty
 * when the issuer has no `groups` rule or drops every value); *upstream (owned) the --groups. */
static idp_err explain_fed_groups(const fed_issuer *is, const pargs *p, json_t **upstream,
                                  json_t **mapped, idp_error *e)
{
    *upstream = json_array();
    *mapped = json_array();
    for (const char *g = p->groups; g && *g;) {
        size_t n = strcspn(g, ",");
        if (n) json_array_append_new(*upstream, json_stringn(g, n));
        g += n + (g[n] == ',');
    }
    json_t *payload = json_object(), *out = NULL;
    json_object_set_new(payload, is->subject_claim, json_string(p->subject));
    for (size_t i = 0; i < is->nclaims; i++) {
        const fed_claim_rule *r = &is->claims[i];
        if (strcmp(r->name, "groups")) continue;
        json_object_set(payload, r->from, *upstream);
        if (r->only_if) json_object_set_new(payload, r->only_if, json_true());
    }
    idp_err rc = policy_fed_map_claims(is, payload, &out, e);
    json_decref(payload);
    if (rc != IDP_OK) return rc;
    const json_t *g = json_object_get(out, "groups");
    if (json_is_string(g)) json_array_append(*mapped, (json_t *)g);
    for (size_t i = 0; json_is_array(g) && i < json_array_size(g); i++)
        if (json_is_string(json_array_get(g, i)))
            json_array_append(*mapped, json_array_get(g, i));
    json_decref(out);
    return IDP_OK;
}

/* The claims of --token, verified as an access token of ours with the store's current keys
 * (the strict path /forward-auth uses; revocation is the server's, not checked here). */
static int route_token_claims(cli *c, const char *tok, json_t **claims)
{
    keyset *ks = NULL;
    idp_error e = {0};
    if (keyset_load(c->st, c->kek, &ks, &e) != IDP_OK) return cli_fail_err(c, &e);
    token_verify_opts vo = token_verify_access(keyset_public(ks), c->cfg->issuer, c->cfg->leeway);
    idp_err rc = token_verify(tok, strlen(tok), &vo, claims, &e);
    keyset_unref(ks);
    if (rc != IDP_OK)
        return cli_fail(c, "the token is not valid: %s (401 invalid_token at /forward-auth)",
                        token_verify_reason(rc));
    return CLI_OK;
}

/* explain --route METHOD URL: the matching rule of the active policy and what it requires. */
static int do_explain_route(cli *c, const pargs *p, const char *url)
{
    if (p->user || p->client || p->issuer || p->subject || p->groups || p->resource)
        return cli_usage(c, "explain --route takes only --token or --scope");
    if (p->token && p->scope) return cli_usage(c, "explain --route: --token or --scope, not both");
    int rc = cli_open(c, p->token != NULL);
    if (rc) return rc;
    policy *pol = NULL;
    idp_error e = {0};
    if (policy_admin_load(c->st, 0, env_of(c, p), &pol, &e) != IDP_OK) return cli_fail_err(c, &e);
    if (!pol) return cli_fail(c, "no policy has been applied");
    json_t *claims = NULL, *out = NULL;
    if (p->token && (rc = route_token_claims(c, p->token, &claims)) != CLI_OK) goto done;
    if (p->scope) claims = json_pack("{s:s}", "scope", p->scope);
    if (policy_route_explain(pol, p->route, url, claims, &out, &e) != IDP_OK) {
        rc = cli_fail(c, "cannot explain %s %s: %s", cli_printable(p->route), cli_printable(url),
                      e.msg);
        goto done;
    }
    if (c->json) {
        cli_print_json(out);
        out = NULL;
        goto done;
    }
    const json_t *m = json_object_get(out, "match");
    const char *host = json_string_value(json_object_get(out, "host"));
    printf("policy version %lld: %s %s%s%s\n", (long long)policy_version(pol), p->route,
           host ? host : "", json_string_value(json_object_get(out, "path")),
           host ? "" : " (any host)");
    if (!json_is_object(m)) {
        printf("  no rule matches: denied (403)\n");
        goto done;
    }
    const char *mh = json_string_value(json_object_get(m, "host"));
    printf("  rule %lld (line %lld): host %s, path %s, methods %s\n",
           (long long)json_integer_value(json_object_get(m, "rule")),
           (long long)json_integer_value(json_object_get(m, "line")), mh ? mh : "*",
           json_string_value(json_object_get(m, "path")),
           json_string_value(json_object_get(m, "methods")));
    if (json_is_true(json_object_get(m, "public"))) {
        printf("  requires: nothing (public)\n");
    } else {
        static const char *const kinds[] = {"scopes", "permissions"};
        const char *sep = "";
        printf("  requires:");
        for (size_t k = 0; k < 2; k++) {
            const json_t *a = json_object_get(m, kinds[k]);
            if (!json_array_size(a)) continue;
            printf("%s %s", sep, kinds[k]);
            for (size_t i = 0; i < json_array_size(a); i++)
                printf(" %s", json_string_value(json_array_get(a, i)));
            sep = ";";
        }
        const char *aud = json_string_value(json_object_get(m, "audience"));
        if (aud) printf("%s audience %s", sep, aud);
        printf("\n");
    }
    const json_t *lacks = json_object_get(out, "lacks");
    if (claims) printf("  %s%s%s\n", json_string_value(json_object_get(out, "decision")),
                       json_is_string(lacks) ? ": " : "",
                       json_is_string(lacks) ? json_string_value(lacks) : "");
done:
    json_decref(out);
    json_decref(claims);
    policy_free(pol);
    return rc;
}

static int do_explain(cli *c, const pargs *p)
{
    if (p->issuer || p->subject || p->groups) {
        if (!p->scope || !p->issuer || !p->subject || p->client)
            return cli_usage(c, "explain --issuer needs --subject and --scope (and no --client)");
    } else if (!p->scope || (!p->user == !p->client)) {
        return cli_usage(c, "explain needs --scope and one of --user, --client or --issuer");
    }
    int rc = cli_open(c, false);
    if (rc) return rc;
    policy *pol = NULL;
    idp_error e = {0};
    if (policy_admin_load(c->st, 0, env_of(c, p), &pol, &e) != IDP_OK) return cli_fail_err(c, &e);
    if (!pol) return cli_fail(c, "no policy has been applied");
    const fed_issuer *is = NULL;
    json_t *up_groups = NULL, *map_groups = NULL;
    const char **ig = NULL;
    if (p->issuer) {
        if (!(is = policy_fed_by_name(pol, p->issuer))) {
            policy_free(pol);
            return cli_fail(c, "no issuer %s in the policy (federation.issuers)",
                            cli_printable(p->issuer));
        }
        if (explain_fed_groups(is, p, &up_groups, &map_groups, &e) != IDP_OK) {
            json_decref(up_groups);
            json_decref(map_groups);
            policy_free(pol);
            return cli_fail_err(c, &e);
        }
        ig = xcalloc(json_array_size(map_groups) + 1, sizeof *ig);
        for (size_t i = 0; i < json_array_size(map_groups); i++)
            ig[i] = json_string_value(json_array_get(map_groups, i));
    }
    char **groups = NULL;
    size_t ng = 0;
    store_user u = {0};
    policy_subject s = {.client_id = p->client};
    if (p->user) {
        idp_err r = c->st->ops->user_get_by_name(c->st, p->user, &u, &e);
        if (r == IDP_ERR_NOT_FOUND) {
            policy_free(pol);
            json_decref(up_groups);
            json_decref(map_groups);
            free(ig);
            return cli_fail(c, "no user %s", cli_printable(p->user));
        }
        if (r != IDP_OK || policy_admin_groups(c->st, u.id, &groups, &ng, &e) != IDP_OK) {
            policy_free(pol);
            store_user_clear(&u);
            json_decref(up_groups);
            json_decref(map_groups);
            free(ig);
            return cli_fail_err(c, &e);
        }
        s.user_name = u.user_name;
        s.groups = (const char *const *)groups;
        s.ngroups = ng;
        s.client_id = NULL;
    }
    if (is) {
        s.client_id = NULL;
        s.issuer_name = is->name;
        s.upstream_subject = p->subject;
        s.issuer_groups = ig;
        s.nissuer_groups = json_array_size(map_groups);
    }
    json_t *out = NULL;
    if (policy_explain(pol, &s, p->scope, p->resource, &out, &e) != IDP_OK) {
        rc = cli_fail_err(c, &e);
    } else if (c->json) {
        /* the upstream --groups next to the mapped ones policy_explain reports */
        if (is) json_object_set(json_object_get(out, "subject"), "upstream_groups", up_groups);
        cli_print_json(out);
        out = NULL;
    } else {
        json_t *reasons = json_object_get(out, "reasons");
        if (is)
            printf("policy version %lld: scope %s is %s for issuer %s subject %s\n",
                   (long long)policy_version(pol), p->scope,
                   json_is_true(json_object_get(out, "granted")) ? "GRANTED" : "DENIED", is->name,
                   cli_printable(p->subject));
        else
            printf("policy version %lld: scope %s is %s for %s %s\n",
                   (long long)policy_version(pol), p->scope,
                   json_is_true(json_object_get(out, "granted")) ? "GRANTED" : "DENIED",
                   p->user ? "user" : "client", p->user ? p->user : p->client);
        size_t i;
        json_t *r;
        if (is) {
            printf("  - upstream groups [");
            json_array_foreach(up_groups, i, r) printf("%s%s", i ? " " : "", json_string_value(r));
            printf("] map to [");
            json_array_foreach(map_groups, i, r) printf("%s%s", i ? " " : "", json_string_value(r));
            printf("]\n");
        }
        json_array_foreach(reasons, i, r) printf("  - %s\n", json_string_value(r));
    }
    json_decref(out);
    json_decref(up_groups);
    json_decref(map_groups);
    free(ig);
    policy_admin_groups_free(groups, ng);
    store_user_clear(&u);
    policy_free(pol);
    return rc;
}

int cli_policy_main(int argc, char **argv)
{
    static const struct option lo[] = {CLI_COMMON_OPTIONS,
                                       {"env", required_argument, NULL, OPT_ENV},
                                       {"comment", required_argument, NULL, OPT_COMMENT},
                                       {"user", required_argument, NULL, OPT_USER},
                                       {"client", required_argument, NULL, OPT_CLIENT},
                                       {"scope", required_argument, NULL, OPT_SCOPE},
                                       {"resource", required_argument, NULL, OPT_RESOURCE},
                                       {"issuer", required_argument, NULL, OPT_ISSUER},
                                       {"subject", required_argument, NULL, OPT_SUBJECT},
                                       {"groups", required_argument, NULL, OPT_GROUPS},
                                       {"route", required_argument, NULL, OPT_ROUTE},
                                       {"token", required_argument, NULL, OPT_TOKEN},
                                       {0, 0, 0, 0}};
    const char *sub = argc > 1 ? argv[1] : NULL;
    if (!sub || !strcmp(sub, "--help") || !strcmp(sub, "-h")) {
        fputs(policy_help, sub ? stdout : stderr);
        return sub ? CLI_OK : CLI_USAGE;
    }
    static const struct {
        const char *name;
        int operands; /* -1: 0 or 1 */
    } subs[] = {{"check", 1}, {"apply", 1}, {"history", 0}, {"show", -1},
                {"diff", 2},  {"rollback", 1}, {"explain", 0}};
    int want = -2;
    for (size_t i = 0; i < sizeof subs / sizeof *subs; i++)
        if (!strcmp(sub, subs[i].name)) want = subs[i].operands;
    if (want == -2) {
        fprintf(stderr, "idpd policy: unknown subcommand %s\n%s", cli_printable(sub), policy_help);
        return CLI_USAGE;
    }
    cli c;
    pargs p = {0};
    char cmd[40];
    snprintf(cmd, sizeof cmd, "policy %s", sub);
    cli_begin(&c, cmd, sub_help_text);
    int o, rc = CLI_OK;
    while ((o = cli_getopt(&c, argc - 1, argv + 1, lo)) != -1) {
        if ((rc = cli_common_opt(&c, o, optarg, argv + 1)) == CLI_CONTINUE) continue;
        if (rc != CLI_NOT_COMMON) goto out;
        switch (o) {
        case OPT_ENV: p.env = optarg; break;
        case OPT_COMMENT: p.comment = optarg; break;
        case OPT_USER: p.user = optarg; break;
        case OPT_CLIENT: p.client = optarg; break;
        case OPT_SCOPE: p.scope = optarg; break;
        case OPT_RESOURCE: p.resource = optarg; break;
        case OPT_ISSUER: p.issuer = optarg; break;
        case OPT_SUBJECT: p.subject = optarg; break;
        case OPT_GROUPS: p.groups = optarg; break;
        case OPT_ROUTE: p.route = optarg; break;
        case OPT_TOKEN: p.token = optarg; break;
        default: rc = cli_usage(&c, "unknown option"); goto out;
        }
    }
    int nops = argc - 1 - optind;
    char **ops = argv + 1 + optind;
    if (!strcmp(sub, "explain") && p.route) want = 1; /* explain --route METHOD URL */
    if (p.token && !p.route) {
        rc = cli_usage(&c, "--token goes with explain --route");
        goto out;
    }
    if ((want >= 0 && nops != want) || (want == -1 && nops > 1)) {
        rc = cli_usage(&c, "%s expects %s", sub,
                       want == 2 ? "two operands" : want == 1 ? "one operand" : want == 0 ? "no operand" : "at most one operand");
        goto out;
    }
    bool check = !strcmp(sub, "check");
    if ((rc = cli_load_cfg(&c, !check)) != CLI_OK) goto out;
    if (check) rc = do_check(&c, &p, ops[0]);
    else if (!strcmp(sub, "apply")) rc = do_apply(&c, &p, ops[0]);
    else if (!strcmp(sub, "history")) rc = do_history(&c);
    else if (!strcmp(sub, "show")) rc = do_show(&c, nops ? ops[0] : NULL);
    else if (!strcmp(sub, "diff")) rc = do_diff(&c, &p, ops[0], ops[1]);
    else if (!strcmp(sub, "rollback")) rc = do_rollback(&c, &p, ops[0]);
    else if (p.route) rc = do_explain_route(&c, &p, ops[0]);
    else rc = do_explain(&c, &p);
out:
    cli_close(&c);
    return rc;
}
