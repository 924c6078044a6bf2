/*
 * gen_rows.c - writes the benchmark CSV (or NDJSON) to stdout:
 *   id,email,first_name,last_name,age,active,balance,created_at
 * bigint id, a unique e-mail, two names (last_name quoted and holding a
 * comma on every 4th row), an int, a boolean, a numeric and a timestamp;
 * about 87 bytes a row. Deterministic for a given row count and seed.
 * Usage: gen_rows ROWS [csv|ndjson] [first_id]
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const first_names[] = {"Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald",
                                          "Frances", "Ken", "Margaret", "Dennis", "Radia", "Leslie"};
static const char *const last_names[] = {"Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov",
                                         "Knuth", "Allen", "Thompson", "Hamilton", "Ritchie"};

/* xorshift64*: deterministic, fast. */
static uint64_t next_random(uint64_t *state)
{
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    return *state * 2685821657736338717ULL;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: gen_rows ROWS [csv|ndjson] [first_id]\n");
        return 2;
    }
    char *end;
    long long rows = strtoll(argv[1], &end, 10);
    if (*end || rows < 0) {
        fprintf(stderr, "gen_rows: bad row count %s\n", argv[1]);
        return 2;
    }
    int ndjson = argc > 2 && strcmp(argv[2], "ndjson") == 0;
    long long first_id = argc > 3 ? strtoll(argv[3], NULL, 10) : 1;
    static char buf[1 << 20];
    setvbuf(stdout, buf, _IOFBF, sizeof(buf));
    uint64_t state = 0x9e3779b97f4a7c15ULL;
    if (!ndjson)
        fputs("id,email,first_name,last_name,age,active,balance,created_at\n", stdout);
    for (long long i = 0; i < rows; i++) {
        long long id = first_id + i;
        uint64_t r = next_random(&state);
        const char *first = first_names[r % 12];
        const char *last = last_names[(r >> 8) % 10];
        int age = 18 + (int)((r >> 16) % 60);
        int active = (int)((r >> 24) & 1);
        long long cents = (long long)((r >> 28) % 10000000);
        int month = 1 + (int)((r >> 40) % 12), day = 1 + (int)((r >> 44) % 28);
        int hour = (int)((r >> 50) % 24), minute = (int)((r >> 55) % 60);
        if (ndjson) {
            printf("{\"id\":%lld,\"email\":\"%s.%s.%lld@example.com\",\"first_name\":\"%s\","
                   "\"last_name\":\"%s%s\",\"age\":%d,\"active\":%s,\"balance\":%lld.%02lld,"
                   "\"created_at\":\"2025-%02d-%02dT%02d:%02d:00Z\"}\n",
                   id, first, last, id, first, last, i % 4 == 0 ? ", Jr." : "", age,
                   active ? "true" : "false", cents / 100, cents % 100, month, day, hour, minute);
        } else if (i % 4 == 0) {
            printf("%lld,%s.%s.%lld@example.com,%s,\"%s, Jr.\",%d,%s,%lld.%02lld,2025-%02d-%02d %02d:%02d:00\n",
                   id, first, last, id, first, last, age, active ? "true" : "false", cents / 100,
                   cents % 100, month, day, hour, minute);
        } else {
            printf("%lld,%s.%s.%lld@example.com,%s,%s,%d,%s,%lld.%02lld,2025-%02d-%02d %02d:%02d:00\n",
                   id, first, last, id, first, last, age, active ? "true" : "false", cents / 100,
                   cents % 100, month, day, hour, minute);
        }
    }
    return fflush(stdout) == 0 ? 0 : 1;
}
