/* Feeds anyhost_wire.h every truncation of valid records, and records
 * with lengths that lie, each in a buffer of exactly its size so that
 * AddressSanitizer reports any read past the end. Exits non-zero on a
 * wrong answer; ASan aborts on a bad read. */
#include <stdio.h>
#include <stdlib.h>

#include "anyhost_wire.h"

static int failures;

#define CHECK(cond, ...)                    \
    do {                                    \
        if (!(cond)) {                      \
            fprintf(stderr, __VA_ARGS__);   \
            fputc('\n', stderr);            \
            failures++;                     \
        }                                   \
    } while (0)

static void put_op(ah_packer *w, char op, const char *k, const char *v)
{
    ah_put_bytes(w, &op, 1);
    ah_put_cstr(w, k);
    ah_put_cstr(w, v);
}

static void put_response(ah_packer *w)
{
    put_op(w, 'S', "", "404");
    put_op(w, 'H', "Content-Type", "text/plain");
    put_op(w, 'E', "WWW-Authenticate", "Basic realm=\"x\"");
    put_op(w, 'B', "", "Hello!");
    put_op(w, 'h', "X-Gone", "");
}

/* read_all reads every op of b[0..n) from an exact-size copy: the number
 * of ops, or -1 if the reader said truncated. */
static int read_all(const char *b, size_t n, int *ops)
{
    char *copy = malloc(n ? n : 1);
    const char *p, *end;
    ah_op o;
    int rc;
    memcpy(copy, b, n);
    p = copy;
    end = copy + n;
    *ops = 0;
    while ((rc = ah_next_op(&p, end, &o)) > 0) {
        CHECK(o.k >= copy && o.k + o.kl <= end && o.v >= copy && o.v + o.vl <= end, "op outside the record");
        (*ops)++;
    }
    CHECK(rc < 0 || p == end, "the end was reported before the record's end");
    free(copy);
    return rc;
}

int main(void)
{
    ah_packer w = {NULL, 0};
    size_t size, cut, boundaries[8];
    int ops, nb = 0, rc;
    char *rec;

    /* Measuring and writing agree, into a buffer of exactly the size. */
    put_response(&w);
    size = w.n;
    rec = malloc(size);
    w.p = rec;
    w.n = 0;
    put_response(&w);
    CHECK(w.n == size, "measured %zu, wrote %zu", size, w.n);

    rc = read_all(rec, size, &ops);
    CHECK(rc == 0 && ops == 5, "whole record: rc %d, %d ops", rc, ops);

    /* Op boundaries: the prefixes that are whole records themselves. */
    {
        const char *p = rec, *end = rec + size;
        ah_op o;
        boundaries[nb++] = 0;
        while (ah_next_op(&p, end, &o) > 0)
            boundaries[nb++] = (size_t)(p - rec);
    }
    for (cut = 0; cut < size; cut++) {
        int whole = 0, i;
        for (i = 0; i < nb; i++)
            whole |= boundaries[i] == cut;
        rc = read_all(rec, cut, &ops);
        CHECK(whole ? rc == 0 : rc < 0, "record cut at %zu of %zu: rc %d", cut, size, rc);
    }

    /* Lengths that lie: larger than the record, up to UINT32_MAX. */
    {
        uint32_t lies[] = {7, 1000, 0x7fffffff, 0xffffffff};
        size_t i;
        for (i = 0; i < sizeof lies / sizeof lies[0]; i++) {
            char b[1 + 4 + 4 + 2];
            b[0] = 'B';
            memset(b + 1, 0, 4);
            memcpy(b + 5, &lies[i], 4);
            b[9] = 'x';
            b[10] = 'y';
            CHECK(read_all(b, sizeof b, &ops) < 0, "value length %u accepted", lies[i]);
            memcpy(b + 1, &lies[i], 4);
            CHECK(read_all(b, sizeof b, &ops) < 0, "key length %u accepted", lies[i]);
        }
    }
    free(rec);
    if (failures) {
        fprintf(stderr, "%d failures\n", failures);
        return 1;
    }
    printf("ok\n");
    return 0;
}
