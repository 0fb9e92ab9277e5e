/* idpd federation status|refresh|test — the trusted upstream issuers' key caches seen from the
 * command line (issue 12, docs/FEDERATION.md). The CLI is another process than the server: status
 * reads the rows the servers store after every fetch attempt; refresh fetches now through the
 * registry's own fetch path (fed_registry_refresh_once) and bumps the store generation so running servers
 * take the new set; test is a dry run of fed_verify, the subject mapping and the policy. */
#include "cli/cli.h"

#include "core/jsonx.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "federation/fed_registry.h"
#include "federation/fed_subject.h"
#include "federation/fed_verify.h"
#include "fetch/fetch.h"
#include "oauth/policy_admin.h"
#include "policy/policy_fed.h"
#include "policy/policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char federation_help[] =
    "Usage: idpd federation <status|refresh|test> [options]\n"
    "  status [NAME]        each trusted upstream issuer of the active policy: key state\n"
    "                       (ok, stale, failing, unfetched), kids, last success, last error,\n"
    "                       next refresh (as the servers last stored them)\n"
    "  refresh NAME         fetch the issuer's keys now, store them; running servers take them\n"
    "  test NAME TOKEN      dry run: every verification step, the mapped claims, the local\n"
    "                       subject and the policy's roles and permissions (nothing written,\n"
    "                       no jti consumed); TOKEN '-' reads it from stdin\n"
    "Options:\n"
    "  --use USE            test: access_token (default), id_token, jwt or assertion\n"
    "  --audience URI       test: an expected aud (repeatable; default: the use's default)\n"
    CLI_COMMON_HELP
    "Exit codes: 0 ok (test: accepted), 1 failure (test: refused), 2 usage error.\n";

enum { OPT_USE = CLI_OPT_FIRST_CMD, OPT_AUDIENCE };
#define MAX_AUDIENCES 8

typedef struct fargs {
    const char *use;
    const char *aud[MAX_AUDIENCES];
    size_t naud;
} fargs;

static json_t *time_json(int64_t ms)
{
    if (ms <= 0) return json_null();
    char t[21];
    time_format_rfc3339(ms / 1000, t);
    return json_string(t);
}

static const char *time_text(int64_t ms, char out[21])
{
    if (ms <= 0) return "never";
    time_format_rfc3339(ms / 1000, out);
    return out;
}

static int load_active(cli *c, policy **out)
{
    int rc = cli_open(c, false);
    if (rc) return rc;
    idp_error e = {0};
    if (policy_admin_load(c->st, 0, c->cfg->policy_env, out, &e) != IDP_OK)
        return cli_fail_err(c, &e);
    if (!*out) return cli_fail(c, "no policy has been applied");
    return CLI_OK;
}

static const fed_issuer *find_issuer(cli *c, const policy *p, const char *name, int *rc)
{
    const fed_issuer *is = policy_fed_by_name(p, name);
    *rc = is ? CLI_OK
             : cli_fail(c, "no issuer %s in the active policy (federation.issuers)",
                        cli_printable(name));
    return is;
}

/* ---- status -------------------------------------------------------------------------------- */

static json_t *status_json(cli *c, const fed_issuer *is)
{
    store_fed_status row = {0};
    idp_error e = {0};
    bool have = c->st->ops->fed_status_get(c->st, is->issuer, &row, &e) == IDP_OK;
    const char *state = have ? row.state : "unfetched";
    /* the row says what the server saw then: a set past stale_if_error is failing now */
    if (have && (!strcmp(state, "ok") || !strcmp(state, "stale")) &&
        time_now_ms() - row.last_success >= is->jwks.stale_if_error_s * 1000)
        state = "failing";
    json_t *kids = NULL;
    if (have && jsonx_parse(row.kids, strlen(row.kids), 0, 0, false, &kids, &e) != IDP_OK)
        kids = NULL;
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(is->name));
    json_object_set_new(o, "issuer", json_string(is->issuer));
    json_object_set_new(o, "state", json_string(state));
    json_object_set_new(o, "kids", kids ? kids : json_array());
    json_object_set_new(o, "last_success", time_json(have ? row.last_success : 0));
    json_object_set_new(o, "last_attempt", time_json(have ? row.last_attempt : 0));
    json_object_set_new(o, "last_error",
                        have && row.last_error[0] ? json_string(row.last_error) : json_null());
    json_object_set_new(o, "next_refresh", time_json(have ? row.next_refresh : 0));
    store_fed_status_clear(&row);
    return o;
}

static int do_status(cli *c, const char *name)
{
    policy *p = NULL;
    int rc = load_active(c, &p);
    if (rc) return rc;
    json_t *list = json_array();
    if (name) {
        const fed_issuer *is = find_issuer(c, p, name, &rc);
        if (is) json_array_append_new(list, status_json(c, is));
    } else {
        for (size_t i = 0; i < policy_fed_count(p); i++)
            json_array_append_new(list, status_json(c, policy_fed_at(p, i)));
    }
    if (rc == CLI_OK) {
        if (c->json) {
            json_t *doc = json_object();
            json_object_set_new(doc, "issuers", list);
            list = NULL;
            cli_print_json(doc);
        } else if (json_array_size(list) == 0) {
            printf("no federation issuers in the active policy\n");
        } else {
            size_t i;
            json_t *o;
            json_array_foreach(list, i, o) {
                printf("%s %s\n  state: %s\n  kids:", json_string_value(json_object_get(o, "name")),
                       json_string_value(json_object_get(o, "issuer")),
                       json_string_value(json_object_get(o, "state")));
                size_t k;
                json_t *kid;
                json_array_foreach(json_object_get(o, "kids"), k, kid)
                    printf(" %s", json_is_string(kid) ? json_string_value(kid) : "(none)");
                const char *le = json_string_value(json_object_get(o, "last_error"));
                const char *ls = json_string_value(json_object_get(o, "last_success"));
                const char *nr = json_string_value(json_object_get(o, "next_refresh"));
                printf("%s\n  last success: %s\n  last error: %s\n  next refresh: %s\n",
                       json_array_size(json_object_get(o, "kids")) ? "" : " (none)",
                       ls ? ls : "never", le ? le : "none", nr ? nr : "-");
            }
        }
    }
    json_decref(list);
    policy_free(p);
    return rc;
}

/* ---- refresh ------------------------------------------------------------------------------- */

static int do_refresh(cli *c, const char *name)
{
    policy *p = NULL;
    int rc = load_active(c, &p);
    if (rc) return rc;
    const fed_issuer *is = find_issuer(c, p, name, &rc);
    if (is) {
        (void)fetch_init(NULL);
        jwks_cache_status s;
        idp_error e = {0};
        idp_err r = fed_registry_refresh_once(c->st, is, true, &s, &e);
        if (r != IDP_OK) {
            rc = cli_fail(c, "%s: %s", is->name, e.msg);
        } else if (c->json) {
            json_t *o = status_json(c, is);
            json_object_set_new(o, "refreshed", json_true());
            cli_print_json(o);
        } else {
            char t[21];
            printf("%s: fetched %zu key(s); next refresh %s\n", is->name, s.nkeys,
                   time_text(s.next_refresh_ms, t));
        }
        jwks_cache_status_clear(&s);
    }
    policy_free(p);
    return rc;
}

/* ---- test ---------------------------------------------------------------------------------- */

static idp_err test_keys(void *ctx, const fed_issuer *is, const char *kid, jwks **out,
                         idp_error *err)
{
    (void)is;
    (void)kid;
    jwks *set = ctx;
    *out = NULL;
    if (!set) return IDP_FAIL(err, IDP_ERR_UNAVAILABLE, "no key set for this issuer");
    *out = jwks_ref(set);
    return IDP_OK;
}

/* The stored set, or (none stored) one fetched now through the registry's path. */
static jwks *keys_for(cli *c, const fed_issuer *is, const char **source)
{
    store_fed_jwks sj = {0};
    idp_error e = {0};
    jwks *set = NULL;
    if (c->st->ops->fed_jwks_get(c->st, is->issuer, &sj, &e) == IDP_OK &&
        time_now_ms() - sj.fetched_at < is->jwks.stale_if_error_s * 1000 && /* as the server */
        jwks_from_json(sj.body, strlen(sj.body), &set, &e) == IDP_OK) {
        *source = "stored";
    } else {
        (void)fetch_init(NULL);
        jwks_cache_status s;
        if (fed_registry_refresh_once(c->st, is, false, &s, &e) == IDP_OK) {
            set = s.keys ? jwks_ref(s.keys) : NULL;
            *source = "fetched";
        } else {
            fprintf(stderr, "idpd %s: %s: no stored keys and the fetch failed: %s\n", c->cmd,
                    is->name, e.msg);
            *source = "none";
        }
        jwks_cache_status_clear(&s);
    }
    store_fed_jwks_clear(&sj);
    return set;
}

static bool use_of(const char *s, fed_use *out)
{
    static const struct {
        const char *name;
        fed_use use;
    } uses[] = {{"access_token", FED_USE_ACCESS_TOKEN},
                {"id_token", FED_USE_ID_TOKEN},
                {"jwt", FED_USE_JWT},
                {"assertion", FED_USE_ASSERTION}};
    for (size_t i = 0; i < sizeof uses / sizeof *uses; i++)
        if (!strcmp(s, uses[i].name)) {
            *out = uses[i].use;
            return true;
        }
    return false;
}

static json_t *strings_json(const char *const *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(a, json_string(v[i]));
    return a;
}

static int read_token(cli *c, const char *arg, idp_buf *out)
{
    buf_init(out, FED_VERIFY_MAX_LEN + 2);
    if (strcmp(arg, "-") != 0) {
        if (buf_puts(out, arg)) return cli_fail(c, "the token is larger than %u bytes",
                                                FED_VERIFY_MAX_LEN);
        return CLI_OK;
    }
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, stdin)) > 0)
        if (buf_append(out, chunk, n)) break; /* too large: fed_verify says so */
    while (out->len && (out->data[out->len - 1] == '\n' || out->data[out->len - 1] == '\r' ||
                        out->data[out->len - 1] == ' '))
        out->len--;
    return CLI_OK;
}

static int do_test(cli *c, const fargs *a, const char *name, const char *tokarg)
{
    fed_use use = FED_USE_ACCESS_TOKEN;
    if (a->use && !use_of(a->use, &use))
        return cli_usage(c, "--use must be access_token, id_token, jwt or assertion");
    policy *p = NULL;
    int rc = load_active(c, &p);
    if (rc) return rc;
    const fed_issuer *is = find_issuer(c, p, name, &rc);
    if (!is) {
        policy_free(p);
        return rc;
    }
    idp_buf tok;
    if ((rc = read_token(c, tokarg, &tok)) != CLI_OK) {
        buf_free(&tok);
        policy_free(p);
        return rc;
    }
    const char *source = "none";
    jwks *set = keys_for(c, is, &source);
    /* assertions name idpd itself: its issuer and token endpoint, as the grant expects */
    char *tep = NULL;
    const char *auds[MAX_AUDIENCES + 2];
    size_t naud = a->naud;
    for (size_t i = 0; i < a->naud; i++) auds[i] = a->aud[i];
    if (use == FED_USE_ASSERTION && naud == 0 && c->cfg->issuer) {
        size_t il = strlen(c->cfg->issuer);
        tep = xmalloc(il + sizeof "/token");
        memcpy(tep, c->cfg->issuer, il);
        memcpy(tep + il, "/token", sizeof "/token");
        auds[naud++] = c->cfg->issuer;
        auds[naud++] = tep;
    }
    fed_verify_in in = {.token = tok.data ? tok.data : "",
                        .len = tok.len,
                        .use = use,
                        .policy = p,
                        .keys = test_keys,
                        .keys_ctx = set,
                        .audiences = naud ? auds : NULL,
                        .naudiences = naud};
    fed_verified v = {0};
    fed_reason why = FED_ACCEPTED;
    idp_error e = {0};
    idp_err vr = fed_verify(&in, &v, &why, &e);
    bool accepted = vr == IDP_OK;
    json_t *doc = json_object();
    json_object_set_new(doc, "issuer", json_string(is->name));
    json_object_set_new(doc, "keys", json_string(source));
    json_t *steps = json_array();
    int failed = accepted ? -1 : fed_verify_step_of(why);
    for (size_t i = 0; i < fed_verify_nsteps; i++) {
        const char *r = accepted || (failed >= 0 && (int)i < failed) ? "pass"
                        : (int)i == failed                        ? "fail"
                                                                  : "not_reached";
        if (!accepted && failed < 0) r = "not_reached";
        json_t *st = json_object();
        json_object_set_new(st, "step", json_string(fed_verify_steps[i].name));
        json_object_set_new(st, "result", json_string(r));
        if ((int)i == failed) json_object_set_new(st, "reason", json_string(fed_verify_reason_name(why)));
        if ((int)i == failed) json_object_set_new(st, "detail", json_string(e.msg));
        json_array_append_new(steps, st);
    }
    json_object_set_new(doc, "steps", steps);
    fed_subject fs = {0};
    policy_grant g = {0};
    if (accepted) {
        fed_reason sw = FED_ACCEPTED;
        idp_error se = {0};
        json_object_set_new(doc, "upstream_subject", json_string(v.subject));
        if (fed_subject_resolve(c->st, &v, false, &fs, &sw, &se) != IDP_OK) {
            accepted = false;
            why = sw;
            json_object_set_new(doc, "subject_error", json_string(se.msg));
        } else {
            json_object_set(doc, "claims", fs.mapped ? fs.mapped : json_object());
            json_t *sub = json_object();
            json_object_set_new(sub, "sub", json_string(fs.sub));
            json_object_set_new(sub, "local", json_boolean(fs.local));
            json_object_set_new(sub, "would_create", json_boolean(fs.created));
            if (fs.local && fs.user.user_name)
                json_object_set_new(sub, "user_name", json_string(fs.user.user_name));
            json_object_set_new(doc, "subject", sub);
            policy_subject ps = fed_subject_policy(&fs, &v);
            const char *scope = jsonx_str(v.claims, "scope");
            if (policy_evaluate(p, &ps, scope, NULL, &g, &se) != IDP_OK) {
                accepted = false;
                why = FED_R_SCOPE;
                json_object_set_new(doc, "policy_error", json_string(se.msg));
            } else {
                json_t *pol = json_object();
                json_object_set_new(pol, "version", json_integer(policy_version(p)));
                json_object_set_new(pol, "requested_scope", scope ? json_string(scope) : json_null());
                json_object_set_new(pol, "scopes", strings_json(g.scopes, g.nscopes));
                json_object_set_new(pol, "dropped", strings_json(g.dropped, g.ndropped));
                json_object_set_new(pol, "roles", strings_json(g.roles, g.nroles));
                json_object_set_new(pol, "permissions", strings_json(g.permissions, g.nperms));
                json_object_set_new(doc, "policy", pol);
            }
        }
    }
    json_object_set_new(doc, "accepted", json_boolean(accepted));
    json_object_set_new(doc, "result", json_string(accepted ? "accepted" : fed_verify_reason_name(why)));
    if (c->json) {
        cli_print_json(json_incref(doc));
    } else {
        printf("%s: %s (keys: %s)\n", is->name,
               accepted ? "ACCEPTED" : "REFUSED", source);
        size_t i;
        json_t *st;
        json_array_foreach(json_object_get(doc, "steps"), i, st) {
            const char *d = json_string_value(json_object_get(st, "detail"));
            printf("  %-12s %s%s%s\n", json_string_value(json_object_get(st, "step")),
                   json_string_value(json_object_get(st, "result")), d ? ": " : "", d ? d : "");
        }
        if (json_object_get(doc, "subject_error"))
            printf("  subject      fail: %s\n",
                   json_string_value(json_object_get(doc, "subject_error")));
        if (json_object_get(doc, "subject")) {
            char *cl = jsonx_dump(json_object_get(doc, "claims"));
            printf("  claims       %s\n  subject      %s%s\n", cl ? cl : "{}", fs.sub,
                   fs.local ? " (local user)" : fs.created ? " (would be created)" : "");
            free(cl);
        }
        json_t *pol = json_object_get(doc, "policy");
        if (pol) {
            char *r = jsonx_dump(json_object_get(pol, "roles"));
            char *pm = jsonx_dump(json_object_get(pol, "permissions"));
            char *sc = jsonx_dump(json_object_get(pol, "scopes"));
            printf("  policy v%lld  roles %s permissions %s scopes %s\n",
                   (long long)policy_version(p), r, pm, sc);
            free(r);
            free(pm);
            free(sc);
        }
    }
    json_decref(doc);
    policy_grant_clear(&g);
    fed_subject_clear(&fs);
    fed_verify_clear(&v);
    jwks_unref(set);
    free(tep);
    buf_free(&tok);
    policy_free(p);
    return accepted ? CLI_OK : CLI_FAIL;
}

int cli_federation_main(int argc, char **argv)
{
    static const struct option lo[] = {CLI_COMMON_OPTIONS,
                                       {"use", required_argument, NULL, OPT_USE},
                                       {"audience", required_argument, NULL, OPT_AUDIENCE},
                                       {0, 0, 0, 0}};
    const char *sub = argc > 1 ? argv[1] : NULL;
    if (!sub || !strcmp(sub, "--help") || !strcmp(sub, "-h")) {
        fputs(federation_help, sub ? stdout : stderr);
        return sub ? CLI_OK : CLI_USAGE;
    }
    int lo_ops, hi_ops;
    if (!strcmp(sub, "status")) lo_ops = 0, hi_ops = 1;
    else if (!strcmp(sub, "refresh")) lo_ops = hi_ops = 1;
    else if (!strcmp(sub, "test")) lo_ops = hi_ops = 2;
    else {
        fprintf(stderr, "idpd federation: unknown subcommand %s\n%s", cli_printable(sub),
                federation_help);
        return CLI_USAGE;
    }
    cli c;
    fargs a = {0};
    char cmd[40];
    snprintf(cmd, sizeof cmd, "federation %s", sub);
    cli_begin(&c, cmd, federation_help);
    int o, rc = CLI_OK;
    while ((o = cli_getopt(&c, argc - 1, argv + 1, lo)) != -1) {
        if ((rc = cli_common_opt(&c, o, optarg, argv + 1)) == CLI_CONTINUE) continue;
        if (rc != CLI_NOT_COMMON) goto out;
        switch (o) {
        case OPT_USE: a.use = optarg; break;
        case OPT_AUDIENCE:
            if (a.naud == MAX_AUDIENCES) {
                rc = cli_usage(&c, "at most %d --audience", MAX_AUDIENCES);
                goto out;
            }
            a.aud[a.naud++] = optarg;
            break;
        default: rc = cli_usage(&c, "unknown option"); goto out;
        }
    }
    int nops = argc - 1 - optind;
    char **ops = argv + 1 + optind;
    if (nops < lo_ops || nops > hi_ops) {
        rc = cli_usage(&c, "%s expects %s", sub,
                       !strcmp(sub, "test") ? "NAME and TOKEN"
                       : hi_ops == 1 && lo_ops == 1 ? "NAME"
                                                     : "at most one NAME");
        goto out;
    }
    if ((a.use || a.naud) && strcmp(sub, "test") != 0) {
        rc = cli_usage(&c, "--use and --audience are options of test");
        goto out;
    }
    if ((rc = cli_load_cfg(&c, true)) != CLI_OK) goto out;
    if (!strcmp(sub, "status")) rc = do_status(&c, nops ? ops[0] : NULL);
    else if (!strcmp(sub, "refresh")) rc = do_refresh(&c, ops[0]);
    else rc = do_test(&c, &a, ops[0], ops[1]);
out:
    cli_close(&c);
    return rc;
}
