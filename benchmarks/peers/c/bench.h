/* Shared helpers of the hand-written C peers: timing, repeats, the one-line JSON result,
 * and just enough parsing to read the generated workload files (a JSON array of numbers
 * under a key, a CSV of numbers with a header). Header-only so every peer is one .c file. */
#ifndef BENCH_H
#define BENCH_H

#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline double now_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* BENCH_REPEATS (env), default 5: how often the timed loop runs, re-initialised each time. */
static inline int bench_repeats(void) {
    const char *s = getenv("BENCH_REPEATS");
    int n = s ? atoi(s) : 5;
    return n > 0 ? n : 1;
}

static inline int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median of n timings (sorts them in place). */
static inline double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static inline void die(const char *what, const char *detail) {
    fprintf(stderr, "error: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    exit(1);
}

static inline char *read_file(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) die("cannot open", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) die("cannot read", path);
    buf[n] = 0;
    fclose(f);
    if (size) *size = (size_t)n;
    return buf;
}

/* All numbers in the JSON value that follows "key": (a number or a possibly nested array),
 * flattened in document order. Our generator writes plain JSON, so scanning for the key and
 * then for the matching bracket is enough; returns a malloc'd array and its length. */
static inline double *json_numbers(const char *text, const char *key, size_t *count) {
    char pattern[128];
    snprintf(pattern, sizeof pattern, "\"%s\"", key);
    const char *p = strstr(text, pattern);
    if (!p) die("key not found in JSON", key);
    p = strchr(p + strlen(pattern), ':');
    if (!p) die("malformed JSON near", key);
    p++;
    size_t cap = 1024, n = 0;
    double *v = malloc(cap * sizeof *v);
    int depth = 0;
    for (;;) {
        while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t' || *p == ',') p++;
        if (*p == '[') { depth++; p++; continue; }
        if (*p == ']') { depth--; p++; if (depth <= 0) break; continue; }
        char *end;
        double x = strtod(p, &end);
        if (end == p) die("unexpected JSON text under", key);
        if (n == cap) v = realloc(v, (cap *= 2) * sizeof *v);
        v[n++] = x;
        p = end;
        if (depth == 0) break; /* a bare number */
    }
    *count = n;
    return v;
}

/* A CSV of numbers with one header line: returns rows*cols values row-major. */
static inline double *read_csv(const char *path, int *rows, int *cols) {
    char *text = read_file(path, NULL);
    char *p = strchr(text, '\n');
    if (!p) die("empty CSV", path);
    int c = 1;
    for (char *q = text; q < p; q++) c += *q == ',';
    p++;
    size_t cap = 1 << 16, n = 0;
    double *v = malloc(cap * sizeof *v);
    while (*p) {
        char *end;
        double x = strtod(p, &end);
        if (end == p) break;
        if (n == cap) v = realloc(v, (cap *= 2) * sizeof *v);
        v[n++] = x;
        p = end;
        while (*p == ',' || *p == '\n' || *p == '\r' || *p == ' ') p++;
    }
    free(text);
    if (n % (size_t)c) die("ragged CSV", path);
    *rows = (int)(n / (size_t)c);
    *cols = c;
    return v;
}

/* A number in JSON, or null when it is not finite. */
static inline void json_number(FILE *f, double x) {
    if (isfinite(x)) fprintf(f, "%.10g", x); else fputs("null", f);
}

/* The protocol's one line: {"workload", "peer", "throughput", "unit", "median_seconds",
 * "repeats", "final_loss", "accuracy", "version", "note"}; accuracy < 0 prints null. */
static inline void print_result(const char *workload, const char *peer, double work, const char *unit,
                         double seconds, int repeats, double final_loss, double accuracy,
                         const char *version, const char *note) {
    printf("{\"workload\": \"%s\", \"peer\": \"%s\", \"throughput\": ", workload, peer);
    json_number(stdout, work / seconds);
    printf(", \"unit\": \"%s\", \"median_seconds\": ", unit);
    json_number(stdout, seconds);
    printf(", \"repeats\": %d, \"final_loss\": ", repeats);
    json_number(stdout, final_loss);
    printf(", \"accuracy\": ");
    if (accuracy >= 0) json_number(stdout, accuracy); else fputs("null", stdout);
    printf(", \"version\": \"%s\", \"note\": \"%s\"}\n", version, note ? note : "");
    fflush(stdout);
}

#ifndef PEER_FLAGS
#define PEER_FLAGS "-O3 -march=native"
#endif
#define COMPILER_VERSION "gcc " __VERSION__ " " PEER_FLAGS

#endif
