/* W4 floor: a bare loop over libyaml's parser events on a spec file, counting them and doing
 * nothing else. Any tool that reads a YAML spec through libyaml must at least do this, so its
 * time and memory are the floor for bpc's parse + compile. It streams the file with
 * yaml_parser_set_input_file, as bpc does.
 *
 *     yaml_events FILE [EDGES]
 *
 * Prints one W4 line with the in-process median over BENCH_REPEATS parses and the peak RSS of
 * the process; the harness also times the whole process with tools/measure.py.
 */
#include "bench.h"
#include <sys/resource.h>
#include <sys/stat.h>
#include <yaml.h>

static long count_events(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) die("cannot open", path);
    yaml_parser_t parser;
    yaml_event_t event;
    if (!yaml_parser_initialize(&parser)) die("yaml_parser_initialize failed", NULL);
    yaml_parser_set_input_file(&parser, f);
    long events = 0;
    for (;;) {
        if (!yaml_parser_parse(&parser, &event)) die("YAML error", parser.problem);
        events++;
        int done = event.type == YAML_STREAM_END_EVENT;
        yaml_event_delete(&event);
        if (done) break;
    }
    yaml_parser_delete(&parser);
    fclose(f);
    return events;
}

int main(int argc, char **argv) {
    if (argc < 2) die("usage: yaml_events FILE [EDGES]", NULL);
    struct stat st;
    if (stat(argv[1], &st)) die("cannot stat", argv[1]);
    int repeats = bench_repeats();
    double times[repeats];
    long events = 0;
    for (int r = 0; r < repeats; r++) {
        double t0 = now_seconds();
        events = count_events(argv[1]);
        times[r] = now_seconds() - t0;
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    int major, minor, patch;
    yaml_get_version(&major, &minor, &patch);
    printf("{\"workload\": \"W4\", \"peer\": \"libyaml event loop (in-process)\", \"edges\": %s, "
           "\"file_bytes\": %lld, \"events\": %ld, \"median_seconds\": %.6g, \"peak_rss_bytes\": %ld, "
           "\"repeats\": %d, \"version\": \"libyaml %d.%d.%d, %s\"}\n",
           argc > 2 ? argv[2] : "null", (long long)st.st_size, events, median(times, repeats),
           ru.ru_maxrss * 1024L, repeats, major, minor, patch, COMPILER_VERSION);
    return 0;
}
