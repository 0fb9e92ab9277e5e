/* idpd audit tail — the hash-chained audit events (DESIGN §9): print the last N, oldest first,
 * or (--verify) recompute the whole chain from its first event (seq 1, or the first event after
 * a pruning checkpoint, oauth/audit_checkpoint.h) and name the first broken event.
 * idpd audit prune — prune events past cfg audit_retention / audit_max_events behind a
 * checkpoint (idpd serve does the same hourly). */
#include "cli/cli.h"

#include "core/mem.h"
#include "core/timeutil.h"
#include "oauth/audit_checkpoint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char audit_help[] =
    "Usage: idpd audit tail|prune [options]\n"
    "  tail          print the last audit events, or verify the chain\n"
    "  prune         delete events past audit_retention / audit_max_events behind a checkpoint\n"
    "Run 'idpd audit tail --help' for its options.\n";

static const char prune_help[] =
    "Usage: idpd audit prune [--json]\n"
    "Deletes the audit events older than audit_retention and the oldest beyond\n"
    "audit_max_events, after appending a checkpoint event MACed with a key derived from the\n"
    "master key, so that 'idpd audit tail --verify' verifies the rest of the chain.\n"
    "Prints \"pruned N events through seq P (checkpoint at seq C)\" or \"nothing to prune\".\n"
    "JSON: {\"pruned\",\"through\",\"checkpoint_seq\"}\n" CLI_COMMON_HELP;

static const char tail_help[] =
    "Usage: idpd audit tail [-n N] [--json] [--verify]\n"
    "Prints the last N events (default 20, at most 10000), oldest first.\n"
    "  -n N               number of events\n"
    "  --verify           recompute the hash chain over ALL events; exit 1 naming the first\n"
    "                     broken seq, else print \"audit chain ok (N events)\"; after pruning\n"
    "                     the chain starts at a checkpoint, whose MAC is checked (master key)\n"
    "JSON: [{\"seq\",\"time\",\"actor\",\"action\",\"target_type\",\"target_id\","
    "\"before_version\",\"after_version\",\"detail\",\"hash\"}]\n" CLI_COMMON_HELP;

enum { OPT_VERIFY = CLI_OPT_FIRST_CMD };

#define TAIL_DEFAULT 20
#define TAIL_MAX 10000
#define VERIFY_PAGE 500

/* RFC 3339 UTC with milliseconds ("2026-11-23T08:00:00.123Z") into out[25]. */
static void format_ms(int64_t ms, char out[25])
{
    char s[21];
    int64_t sec = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
    time_format_rfc3339(sec, s);
    snprintf(out, 25, "%.19s.%03dZ", s, (int)(ms - sec * 1000));
}

static void hex32(const unsigned char h[32], char out[65])
{
    static const char hx[] = "0123456789abcdef";
    for (size_t i = 0; i < 32; i++) {
        out[2 * i] = hx[h[i] >> 4];
        out[2 * i + 1] = hx[h[i] & 15];
    }
    out[64] = '\0';
}

static json_t *event_json(const store_audit *ev)
{
    char t[25], h[65];
    format_ms(ev->time_ms, t);
    hex32(ev->hash, h);
    json_t *detail = NULL;
    if (ev->detail) detail = json_loads(ev->detail, JSON_DECODE_ANY, NULL);
    if (!detail && ev->detail) detail = json_string(ev->detail); /* not JSON: show as text */
    json_t *o = json_pack(
        "{s:I, s:s, s:s, s:s, s:s?, s:s?, s:I, s:I, s:o, s:s}", "seq", (json_int_t)ev->seq, "time",
        t, "actor", ev->actor ? ev->actor : "", "action", ev->action ? ev->action : "",
        "target_type", ev->target_type, "target_id", ev->target_id, "before_version",
        (json_int_t)ev->before_version, "after_version", (json_int_t)ev->after_version, "detail",
        detail ? detail : json_null(), "hash", h);
    if (!o) abort();
    if (!json_object_get(o, "target_type")) json_object_set_new(o, "target_type", json_null());
    if (!json_object_get(o, "target_id")) json_object_set_new(o, "target_id", json_null());
    return o;
}

static void print_event(const store_audit *ev)
{
    char t[25];
    format_ms(ev->time_ms, t);
    printf("%-6lld %s %-24s %-14s %s/%s v%lld->v%lld %s\n", (long long)ev->seq, t,
           ev->actor ? ev->actor : "", ev->action ? ev->action : "",
           ev->target_type ? ev->target_type : "-", ev->target_id ? ev->target_id : "-",
           (long long)ev->before_version, (long long)ev->after_version,
           ev->detail ? ev->detail : "");
}

static int cmp_seq(const void *a, const void *b)
{
    int64_t x = ((const store_audit *)a)->seq, y = ((const store_audit *)b)->seq;
    return (x > y) - (x < y);
}

static int do_tail(cli *c, long n)
{
    store_audit *rows = NULL;
    size_t cnt = 0;
    idp_error e = {0};
    if (c->st->ops->audit_last(c->st, (size_t)n, &rows, &cnt, &e) != IDP_OK)
        return cli_fail_err(c, &e);
    qsort(rows, cnt, sizeof *rows, cmp_seq); /* oldest first whatever order the store used */
    if (c->json) {
        json_t *a = json_array();
        for (size_t i = 0; i < cnt; i++)
            json_array_append_new(a, event_json(&rows[i]));
        cli_print_json(a);
    } else {
        for (size_t i = 0; i < cnt; i++)
            print_event(&rows[i]);
    }
    store_audit_list_free(rows, cnt);
    return CLI_OK;
}

/* Checks one event against its predecessor's hash: 0 ok, else a reason. */
static const char *check_event(const store_audit *ev, const unsigned char prev[32])
{
    unsigned char h[32];
    if (memcmp(ev->prev_hash, prev, 32) != 0) return "prev_hash does not match the previous event";
    store_audit_hash(ev, h);
    if (memcmp(h, ev->hash, 32) != 0) return "hash does not match the event's content";
    return NULL;
}

/* Where a pruned chain must be anchored: its first event (seq start > 1) links to start_prev,
 * which a checkpoint with a valid MAC must name as the hash of seq start - 1. */
typedef struct anchor {
    int64_t start;
    unsigned char start_prev[32];
    int64_t checkpoint; /* seq of the checkpoint that anchors it, 0 while none */
} anchor;

/* A checkpoint met on the walk: its MAC must verify; it anchors the start when it names it. */
static const char *check_checkpoint(cli *c, const store_audit *ev, anchor *an)
{
    int64_t through = 0;
    unsigned char head[32];
    idp_error e = {0};
    /* the master key is only needed once there is a checkpoint */
    if (!c->kek && kek_load(c->cfg->master_key_file, &c->kek, &e) != IDP_OK)
        return "checkpoint found but the master key cannot be loaded to check its MAC";
    if (audit_checkpoint_check(c->kek, ev, &through, head, NULL) != IDP_OK)
        return "checkpoint is malformed or its MAC does not verify (forged or altered)";
    if (an->start > 1 && through == an->start - 1 && memcmp(head, an->start_prev, 32) == 0)
        an->checkpoint = ev->seq;
    return NULL;
}

static int verify_report(cli *c, int64_t total, const anchor *an, int64_t broken, const char *why)
{
    if (c->json) {
        json_t *o = why ? json_pack("{s:b, s:I, s:I, s:s}", "ok", 0, "events", (json_int_t)total,
                                    "broken_seq", (json_int_t)broken, "reason", why)
                        : json_pack("{s:b, s:I}", "ok", 1, "events", (json_int_t)total);
        if (!why && an->checkpoint)
            json_object_set_new(o, "checkpoint",
                                json_pack("{s:I, s:I}", "seq", (json_int_t)an->checkpoint,
                                          "pruned_through", (json_int_t)(an->start - 1)));
        cli_print_json(o);
    }
    if (why) return cli_fail(c, "audit chain broken at seq %lld: %s", (long long)broken, why);
    if (!c->json && an->checkpoint)
        printf("audit chain ok (%lld events; events 1..%lld pruned, checkpoint at seq %lld)\n",
               (long long)total, (long long)(an->start - 1), (long long)an->checkpoint);
    else if (!c->json)
        printf("audit chain ok (%lld events)\n", (long long)total);
    return CLI_OK;
}

/* Walks every event from the first, in pages; CLI_OK or CLI_FAIL naming the first broken seq. */
static int do_verify(cli *c)
{
    unsigned char prev[32] = {0}; /* the first event links to 32 zero bytes */
    int64_t after = -1, total = 0, broken = 0;
    anchor an = {.start = 1};
    const char *why = NULL;
    idp_error e = {0};
    for (;;) {
        store_audit *rows = NULL;
        size_t n = 0;
        if (c->st->ops->audit_list(c->st, after < 0 ? 0 : after, VERIFY_PAGE, &rows, &n, &e) !=
            IDP_OK)
            return cli_fail_err(c, &e);
        if (after < 0 && n > 0 && rows[0].seq > 1) { /* pruned: starts after a checkpoint */
            an.start = rows[0].seq;
            memcpy(an.start_prev, rows[0].prev_hash, 32);
            memcpy(prev, rows[0].prev_hash, 32);
            after = rows[0].seq - 1;
        }
        if (after < 0) after = 0;
        for (size_t i = 0; i < n && !why; i++) {
            if (rows[i].seq != after + 1)
                why = "seq is not the successor of the previous event (an event is missing)";
            else if (!(why = check_event(&rows[i], prev)) && rows[i].action &&
                     strcmp(rows[i].action, AUDIT_CHECKPOINT_ACTION) == 0)
                why = check_checkpoint(c, &rows[i], &an);
            if (why) {
                broken = rows[i].seq;
                break;
            }
            memcpy(prev, rows[i].hash, 32);
            after = rows[i].seq;
            total++;
        }
        store_audit_list_free(rows, n);
        if (why || n < VERIFY_PAGE) break;
    }
    if (!why && an.start > 1 && !an.checkpoint) {
        why = "the events before it were removed without a checkpoint";
        broken = an.start;
    }
    return verify_report(c, total, &an, broken, why);
}

static int do_prune(cli *c)
{
    audit_prune_result r;
    idp_error e = {0};
    if (audit_checkpoint_prune(c->st, c->kek, time_now_ms(), c->cfg->audit_retention,
                               c->cfg->audit_max_events, &r, &e) != IDP_OK)
        return cli_fail_err(c, &e);
    if (c->json)
        cli_print_json(json_pack("{s:I, s:I, s:I}", "pruned", (json_int_t)r.pruned, "through",
                                 (json_int_t)r.through, "checkpoint_seq",
                                 (json_int_t)r.checkpoint_seq));
    else if (r.pruned)
        printf("pruned %lld events through seq %lld (checkpoint at seq %lld)\n",
               (long long)r.pruned, (long long)r.through, (long long)r.checkpoint_seq);
    else
        printf("nothing to prune\n");
    return CLI_OK;
}

/* -n N: 1..TAIL_MAX decimal. */
static bool parse_count(const char *s, long *out)
{
    char *end = NULL;
    if (!s || *s < '0' || *s > '9') return false;
    long long v = strtoll(s, &end, 10);
    if (*end || v < 1 || v > TAIL_MAX) return false;
    *out = (long)v;
    return true;
}

int cli_audit_main(int argc, char **argv)
{
    static const struct option lo[] = {
        CLI_COMMON_OPTIONS, {"verify", no_argument, NULL, OPT_VERIFY}, {0, 0, 0, 0}};
    const char *sub = argc > 1 ? argv[1] : NULL;
    if (!sub || !strcmp(sub, "--help") || !strcmp(sub, "-h")) {
        fputs(audit_help, sub ? stdout : stderr);
        return sub ? CLI_OK : CLI_USAGE;
    }
    bool prune = !strcmp(sub, "prune");
    if (strcmp(sub, "tail") && !prune) {
        fprintf(stderr, "idpd audit: unknown subcommand %s\n%s", cli_printable(sub), audit_help);
        return CLI_USAGE;
    }
    cli c;
    long n = TAIL_DEFAULT;
    bool verify = false;
    int rc = CLI_OK, o;
    cli_begin(&c, prune ? "audit prune" : "audit tail", prune ? prune_help : tail_help);
    opterr = 0; /* as cli_getopt, plus the short option -n */
    while ((o = getopt_long(argc - 1, argv + 1, ":hn:", lo, NULL)) != -1) {
        if ((rc = cli_common_opt(&c, o, optarg, argv + 1)) == CLI_CONTINUE) continue;
        if (rc != CLI_NOT_COMMON) goto out;
        if (prune) {
            rc = cli_usage(&c, "unknown option %s", cli_printable(argv[optind]));
            goto out;
        }
        if (o == OPT_VERIFY) {
            verify = true;
        } else if (o == 'n') {
            if (!parse_count(optarg, &n)) {
                rc = cli_usage(&c, "-n: must be a number from 1 to %d", TAIL_MAX);
                goto out;
            }
        }
    }
    rc = CLI_OK;
    if (optind < argc - 1) {
        rc = cli_usage(&c, "unexpected argument %s", cli_printable(argv[1 + optind]));
        goto out;
    }
    if ((rc = cli_load_cfg(&c, true)) != CLI_OK || (rc = cli_open(&c, prune)) != CLI_OK) goto out;
    rc = prune ? do_prune(&c) : verify ? do_verify(&c) : do_tail(&c, n);
out:
    cli_close(&c);
    return rc;
}
