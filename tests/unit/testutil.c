#include "testutil.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *tu_vector_path(const char *rel)
{
    /* tests/unit/meson.build sets IDPD_VECTORS to the repository's tests/vectors */
    const char *base = getenv("IDPD_VECTORS");
    if (!base || !*base) base = "tests/vectors";
    size_t n = strlen(base) + strlen(rel) + 2;
    char *p = malloc(n);
    snprintf(p, n, "%s/%s", base, rel);
    return p;
}

char *tu_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)sz + 1);
    size_t r = fread(buf, 1, (size_t)sz, f);
    fclose(f);
    buf[r] = '\0';
    if (len) *len = r;
    return buf;
}

json_t *tu_load_vector_json(const char *rel)
{
    char *p = tu_vector_path(rel);
    json_error_t je;
    json_t *v = json_load_file(p, 0, &je);
    if (!v) {
        /* fail_msg does not return: report from a stack copy so the failure path leaks nothing */
        char where[1024];
        snprintf(where, sizeof where, "%s", p);
        free(p);
        fail_msg("cannot load vector %s: %s", where, je.text);
    }
    free(p);
    return v;
}

char *tu_tmpdir(void)
{
    const char *t = getenv("TMPDIR");
    char tmpl[4096];
    snprintf(tmpl, sizeof tmpl, "%s/idpd-test-XXXXXX", t ? t : "/tmp");
    char *d = mkdtemp(tmpl);
    assert_non_null(d);
    return strdup(d);
}

void tu_rmtree(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) tu_rmtree(p);
        else unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

static char *slurp_fd(int fd)
{
    char *b = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&b, &len);
    char chunk[4096];
    ssize_t n;
    lseek(fd, 0, SEEK_SET);
    while ((n = read(fd, chunk, sizeof chunk)) > 0)
        fwrite(chunk, 1, (size_t)n, m);
    fclose(m);
    return b;
}

run_out run_argv(cmd_fn fn, const char *const *args)
{
    char *argv[48];
    int argc = 0;
    for (; args[argc]; argc++) {
        assert_true(argc < 47);
        argv[argc] = strdup(args[argc]);
    }
    argv[argc] = NULL;
    FILE *fo = tmpfile(), *fe = tmpfile();
    fflush(stdout);
    fflush(stderr);
    int so = dup(1), se = dup(2);
    dup2(fileno(fo), 1);
    dup2(fileno(fe), 2);
    run_out r = {0};
    r.rc = fn(argc, argv);
    fflush(stdout);
    fflush(stderr);
    dup2(so, 1);
    dup2(se, 2);
    close(so);
    close(se);
    r.out = slurp_fd(fileno(fo));
    r.err = slurp_fd(fileno(fe));
    fclose(fo);
    fclose(fe);
    for (int i = 0; i < argc; i++)
        free(argv[i]);
    return r;
}

void run_free(run_out *r)
{
    free(r->out);
    free(r->err);
}
