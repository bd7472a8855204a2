/* W3 sparse-dag, hand-written C over a CSR fan-in table in binary32: what a careful C
 * programmer would write for this network, the practical limit for a compiler of it.
 *
 * Units are numbered as in w3-dag.json: 0..15 inputs, 16..2015 tanh hidden units with bias,
 * 2016..2019 identity outputs; every edge goes from a lower to a higher number, so the
 * numbering is a topological order. Loss: half squared error; SGD with the mean gradient of
 * each batch of samples taken in order (the textbook updates).
 *
 *   batch 1 (W3a): forward over the fan-in lists, then one backward sweep that scatters each
 *     unit's delta to its sources and updates its incoming weights in the same pass (each
 *     weight is read once by the backward pass, before it is updated, so this is exact).
 *   batch B (W3b): the same sweeps over [unit][lane] tiles of 64 samples, so the inner loops
 *     run over the batch lanes and vectorise; a short last batch is padded with zero deltas.
 *
 *     w3_csr w3-dag.json w3-data.csv BATCH EPOCHS WORKLOAD
 *
 * Built twice: plain -O3 -march=native (tanhf from libm, one call per value), and with
 * -ffast-math, where gcc calls glibc's vector tanhf (libmvec) and reassociates sums.
 */
#include "bench.h"

#ifndef PEER_NAME
#define PEER_NAME "hand C CSR -O3"
#endif
#define LANES 64 /* the batched kernel's tile width: batches up to 64 */
#define LR 0.01f

static int n_in, n_hid, n_out, n_units, n_edges;
static int *first;     /* first[j - n_in] .. first[j - n_in + 1]: unit j's incoming edges */
static int *src;       /* source unit of each edge */
static float *w0, *b0; /* initial weights and biases (biases of hidden units) */
static float *w, *b;   /* the trained parameters */

static int is_hidden(int j) { return j < n_in + n_hid; }

/* ---- batch 1 ------------------------------------------------------------------------- */

static void forward1(const float *x, float *z) {
    memcpy(z, x, (size_t)n_in * sizeof *z);
    for (int j = n_in; j < n_units; j++) {
        int e0 = first[j - n_in], e1 = first[j - n_in + 1];
        float a = is_hidden(j) ? b[j - n_in] : 0.0f;
        for (int e = e0; e < e1; e++) a += w[e] * z[src[e]];
        z[j] = is_hidden(j) ? tanhf(a) : a;
    }
}

static void train1(const float *X, const float *T, int samples, int epochs) {
    float *z = malloc((size_t)n_units * sizeof *z), *g = malloc((size_t)n_units * sizeof *g);
    for (int epoch = 0; epoch < epochs; epoch++) {
        for (int s = 0; s < samples; s++) {
            forward1(X + (size_t)s * n_in, z);
            memset(g, 0, (size_t)n_units * sizeof *g);
            for (int o = 0; o < n_out; o++) {
                int j = n_in + n_hid + o;
                g[j] = z[j] - T[(size_t)s * n_out + o];
            }
            for (int j = n_units - 1; j >= n_in; j--) {
                float d = is_hidden(j) ? g[j] * (1.0f - z[j] * z[j]) : g[j];
                int e0 = first[j - n_in], e1 = first[j - n_in + 1];
                for (int e = e0; e < e1; e++) {
                    g[src[e]] += w[e] * d;
                    w[e] -= LR * d * z[src[e]];
                }
                if (is_hidden(j)) b[j - n_in] -= LR * d;
            }
        }
    }
    free(z);
    free(g);
}

/* ---- batch of up to 64 lanes ---------------------------------------------------------- */

static void forward_tile(const float *X, int s0, int nb, float (*Z)[LANES]) {
    for (int i = 0; i < n_in; i++)
        for (int k = 0; k < LANES; k++) Z[i][k] = k < nb ? X[(size_t)(s0 + k) * n_in + i] : 0.0f;
    for (int j = n_in; j < n_units; j++) {
        float acc[LANES];
        float bias = is_hidden(j) ? b[j - n_in] : 0.0f;
        for (int k = 0; k < LANES; k++) acc[k] = bias;
        for (int e = first[j - n_in]; e < first[j - n_in + 1]; e++) {
            const float we = w[e], *zs = Z[src[e]];
            for (int k = 0; k < LANES; k++) acc[k] += we * zs[k];
        }
        if (is_hidden(j))
            for (int k = 0; k < LANES; k++) Z[j][k] = tanhf(acc[k]);
        else
            memcpy(Z[j], acc, sizeof acc);
    }
}

static void trainB(const float *X, const float *T, int samples, int epochs, int batch) {
    float (*Z)[LANES] = aligned_alloc(64, (size_t)n_units * sizeof *Z);
    float (*G)[LANES] = aligned_alloc(64, (size_t)n_units * sizeof *G);
    for (int epoch = 0; epoch < epochs; epoch++) {
        for (int s0 = 0; s0 < samples; s0 += batch) {
            int nb = samples - s0 < batch ? samples - s0 : batch;
            float scale = LR / (float)nb; /* the mean gradient of the batch */
            forward_tile(X, s0, nb, Z);
            memset(G, 0, (size_t)n_units * sizeof *G);
            for (int o = 0; o < n_out; o++) {
                int j = n_in + n_hid + o;
                for (int k = 0; k < nb; k++) G[j][k] = Z[j][k] - T[(size_t)(s0 + k) * n_out + o];
            }
            for (int j = n_units - 1; j >= n_in; j--) {
                float d[LANES];
                if (is_hidden(j))
                    for (int k = 0; k < LANES; k++) d[k] = G[j][k] * (1.0f - Z[j][k] * Z[j][k]);
                else
                    memcpy(d, G[j], sizeof d);
                for (int e = first[j - n_in]; e < first[j - n_in + 1]; e++) {
                    float *gs = G[src[e]];
                    const float *zs = Z[src[e]], we = w[e];
                    /* Eight partial sums in a fixed order: vectorises without -ffast-math. */
                    float part[8] = {0};
                    for (int k = 0; k < LANES; k += 8)
                        for (int l = 0; l < 8; l++) {
                            gs[k + l] += we * d[k + l];
                            part[l] += d[k + l] * zs[k + l];
                        }
                    float gw = ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7]));
                    w[e] = we - scale * gw;
                }
                if (is_hidden(j)) {
                    float db = 0;
                    for (int k = 0; k < LANES; k++) db += d[k];
                    b[j - n_in] -= scale * db;
                }
            }
        }
    }
    free(Z);
    free(G);
}

/* Mean half squared error over the data at the current parameters (outside the timing). */
static double mean_loss(const float *X, const float *T, int samples) {
    float *z = malloc((size_t)n_units * sizeof *z);
    double total = 0;
    for (int s = 0; s < samples; s++) {
        forward1(X + (size_t)s * n_in, z);
        for (int o = 0; o < n_out; o++) {
            double diff = (double)z[n_in + n_hid + o] - T[(size_t)s * n_out + o];
            total += 0.5 * diff * diff;
        }
    }
    free(z);
    return total / samples;
}

int main(int argc, char **argv) {
    if (argc != 6) die("usage: w3_csr w3-dag.json w3-data.csv BATCH EPOCHS WORKLOAD", NULL);
    int batch = atoi(argv[3]), epochs = atoi(argv[4]);
    const char *workload = argv[5];
    if (batch < 1 || batch > LANES || epochs < 1) die("BATCH must be 1..64 and EPOCHS >= 1", NULL);

    char *text = read_file(argv[1], NULL);
    size_t n;
    n_in = (int)json_numbers(text, "inputs", &n)[0];
    n_hid = (int)json_numbers(text, "hidden", &n)[0];
    n_out = (int)json_numbers(text, "outputs", &n)[0];
    n_units = n_in + n_hid + n_out;
    double *edges = json_numbers(text, "edges", &n);
    n_edges = (int)(n / 2);
    double *weights = json_numbers(text, "weights", &n);
    if ((int)n != n_edges) die("one weight per edge expected", NULL);
    double *biases = json_numbers(text, "biases", &n);
    if ((int)n != n_hid) die("one bias per hidden unit expected", NULL);

    /* CSR by destination: the generator lists edges in order of destination already. */
    first = calloc((size_t)(n_hid + n_out + 1), sizeof *first);
    src = malloc((size_t)n_edges * sizeof *src);
    w0 = malloc((size_t)n_edges * sizeof *w0);
    w = malloc((size_t)n_edges * sizeof *w);
    b0 = malloc((size_t)n_hid * sizeof *b0);
    b = malloc((size_t)n_hid * sizeof *b);
    for (int e = 0; e < n_edges; e++) {
        int s = (int)edges[2 * e], d = (int)edges[2 * e + 1];
        if (s >= d || d < n_in || d >= n_units || (e && d < (int)edges[2 * e - 1]))
            die("edges must go forward and be sorted by destination", NULL);
        src[e] = s;
        first[d - n_in + 1]++;
        w0[e] = (float)weights[e];
    }
    for (int j = 0; j < n_hid + n_out; j++) first[j + 1] += first[j];
    for (int j = 0; j < n_hid; j++) b0[j] = (float)biases[j];

    int rows, cols;
    double *data = read_csv(argv[2], &rows, &cols);
    if (cols != n_in + n_out) die("data columns must be inputs then outputs", argv[2]);
    float *X = malloc((size_t)rows * n_in * sizeof *X), *T = malloc((size_t)rows * n_out * sizeof *T);
    for (int s = 0; s < rows; s++) {
        for (int i = 0; i < n_in; i++) X[(size_t)s * n_in + i] = (float)data[(size_t)s * cols + i];
        for (int o = 0; o < n_out; o++) T[(size_t)s * n_out + o] = (float)data[(size_t)s * cols + n_in + o];
    }

    int repeats = bench_repeats();
    double times[repeats];
    for (int r = 0; r < repeats; r++) {
        memcpy(w, w0, (size_t)n_edges * sizeof *w);
        memcpy(b, b0, (size_t)n_hid * sizeof *b);
        double t0 = now_seconds();
        if (batch == 1) train1(X, T, rows, epochs); else trainB(X, T, rows, epochs, batch);
        times[r] = now_seconds() - t0;
    }
    char note[160];
    snprintf(note, sizeof note, "binary32, batch %d, %d epochs, CSR fan-in, %s", batch, epochs,
             batch == 1 ? "fused scatter+update backward" : "64-lane tiles");
    print_result(workload, PEER_NAME, (double)n_edges * rows * epochs, "edge-samples/s",
                 median(times, repeats), repeats, mean_loss(X, T, rows), -1, COMPILER_VERSION, note);
    return 0;
}
