/* Unit tests for src/scim/username.c: which userNames are refused, and which look-alikes
 * share a comparison key (NFKC + case folding, RFC 8265 as the reference). */
#include "testutil.h"

#include "scim/username.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static void check_accepts_and_refuses(void **state)
{
    static const char *const ok[] = {
        "alice", "alice@example.com", "Bob Smith", "josé", "Ærøskøbing", "李雷", "o'brien",
        "a", "user.name+tag@sub.example.co.uk",
    };
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        idp_error e = {0};
        if (username_check(ok[i], &e) != IDP_OK) fail_msg("refused '%s': %s", ok[i], e.msg);
    }
    static const char *const bad[] = {
        "", "alice ", " alice", "\talice", "alice\n", "ali\x01" "ce", "al\x7f" "ice",
        "ali\xe2\x80\x8b" "ce", /* U+200B zero width space (Cf) */
        "\xe2\x80\xae" "ecila", /* U+202E right-to-left override (Cf) */
        "alice\xe3\x80\x80",    /* U+3000 ideographic space at the end */
        "ali\xe2\x80\xa8" "ce", /* U+2028 line separator */
        "\xff" "alice", "ali\xc0\xaf" "ce", /* not UTF-8 / overlong */
        "\xed\xa0\x80",         /* a surrogate */
        "\xee\x80\x80",         /* U+E000 private use */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        idp_error e = {0};
        if (username_check(bad[i], &e) != IDP_ERR_INVALID) fail_msg("accepted case %zu", i);
        assert_true(e.msg[0] != '\0');
    }
    char longname[USERNAME_MAX_BYTES + 2];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    assert_int_equal(username_check(longname, NULL), IDP_ERR_INVALID);
    longname[USERNAME_MAX_BYTES] = '\0';
    assert_int_equal(username_check(longname, NULL), IDP_OK);
}

static void same_key(const char *a, const char *b, bool want)
{
    char *ka = username_key(a), *kb = username_key(b);
    assert_non_null(ka);
    assert_non_null(kb);
    if ((strcmp(ka, kb) == 0) != want) fail_msg("'%s' vs '%s': keys '%s' / '%s'", a, b, ka, kb);
    free(ka);
    free(kb);
}

static void keys_fold_look_alikes(void **state)
{
    same_key("alice", "ALICE", true);
    same_key("alice", "\xef\xbd\x81lice", true);          /* full-width a (U+FF41) */
    same_key("ALICE", "\xef\xbc\xa1LICE", true);          /* full-width A (U+FF21) */
    same_key("jos\xc3\xa9", "jose\xcc\x81", true);       /* precomposed vs combining acute */
    same_key("stra\xc3\x9f" "e", "STRASSE", true);       /* full case folding: ß -> ss */
    same_key("\xef\xac\x81" "nance", "finance", true);   /* ligature fi (U+FB01) */
    same_key("alice", "alicia", false);
    same_key("alice", "al1ce", false);
    same_key("alice", "\xd0\xb0lice", false); /* Cyrillic а is another letter: not folded */
    assert_null(username_key("\xff"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(check_accepts_and_refuses),
        cmocka_unit_test(keys_fold_look_alikes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
