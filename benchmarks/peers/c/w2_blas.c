/* W2 digits-mlp, hand-written C with OpenBLAS sgemm in binary32: a layered tanh MLP with
 * identity outputs and softmax cross-entropy, SGD with batches of 32 samples in order
 * (the last batch of 1797 % 32 = 5), learning rate 0.1, 50 epochs, Xavier-uniform weights
 * (its own seeded generator: the values differ from bpc's, the distribution does not).
 *
 * One batch: Z_l = A_(l-1) W_l^T + b_l (sgemm), A_l = tanh(Z_l); D_L = (softmax(Z_L) - T) / B;
 * D_(l-1) = (D_l W_l) * (1 - A_(l-1)^2) (sgemm, before W_l changes); W_l -= lr D_l^T A_(l-1)
 * (one sgemm with alpha = -lr, beta = 1); b_l -= lr * column sums of D_l.
 *
 *     w2_blas digits.csv WORKLOAD THREADS HIDDEN...     e.g. w2_blas digits.csv W2 1 64
 *
 * Built twice: plain -O3 -march=native (tanhf/expf from libm per value) and -ffast-math
 * (gcc vectorises them with glibc's libmvec).
 */
#include "bench.h"
#include <cblas.h>
#include <stdint.h>

#ifndef PEER_NAME
#define PEER_NAME "C+OpenBLAS -O3"
#endif
#define BATCH 32
#define EPOCHS 50
#define LR 0.1f
#define MAXL 8

static int L;            /* layers of weights */
static int size[MAXL + 1]; /* size[0] = 64 inputs ... size[L] = 10 outputs */
static float *W[MAXL + 1], *Bv[MAXL + 1], *W0[MAXL + 1];
static float *A[MAXL + 1], *D[MAXL + 1]; /* per-batch activations and deltas, [BATCH][size] */

/* splitmix64: a small seeded generator for the Xavier weights. */
static uint64_t rng_state = 1;
static double uniform01(void) {
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return (double)((z ^ (z >> 31)) >> 11) * 0x1.0p-53;
}

/* Forward one batch of nb rows starting at X; leaves the softmax probabilities in A[L]. */
static void forward(const float *X, int nb) {
    A[0] = (float *)X;
    for (int l = 1; l <= L; l++) {
        int n = size[l], m = size[l - 1];
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nb, n, m, 1.0f, A[l - 1], m, W[l], m, 0.0f, A[l], n);
        float *z = A[l];
        const float *bias = Bv[l];
        if (l < L) {
            for (int r = 0; r < nb; r++)
                for (int c = 0; c < n; c++) z[r * n + c] = tanhf(z[r * n + c] + bias[c]);
        } else {
            for (int r = 0; r < nb; r++) {
                float *row = z + r * n, mx = -INFINITY, sum = 0;
                for (int c = 0; c < n; c++) { row[c] += bias[c]; mx = row[c] > mx ? row[c] : mx; }
                for (int c = 0; c < n; c++) { row[c] = expf(row[c] - mx); sum += row[c]; }
                for (int c = 0; c < n; c++) row[c] /= sum;
            }
        }
    }
}

static void train(const float *X, const float *T, int samples) {
    for (int epoch = 0; epoch < EPOCHS; epoch++) {
        for (int s0 = 0; s0 < samples; s0 += BATCH) {
            int nb = samples - s0 < BATCH ? samples - s0 : BATCH;
            forward(X + (size_t)s0 * size[0], nb);
            int no = size[L];
            float inv = 1.0f / (float)nb; /* mean gradient of the batch */
            for (int i = 0; i < nb * no; i++) D[L][i] = (A[L][i] - T[(size_t)s0 * no + i]) * inv;
            for (int l = L; l >= 1; l--) {
                int n = size[l], m = size[l - 1];
                if (l > 1) { /* delta of the layer below, with W_l before its update */
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nb, m, n, 1.0f, D[l], n, W[l], m, 0.0f, D[l - 1], m);
                    for (int i = 0; i < nb * m; i++) D[l - 1][i] *= 1.0f - A[l - 1][i] * A[l - 1][i];
                }
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, n, m, nb, -LR, D[l], n, A[l - 1], m, 1.0f, W[l], m);
                for (int c = 0; c < n; c++) {
                    float db = 0;
                    for (int r = 0; r < nb; r++) db += D[l][r * n + c];
                    Bv[l][c] -= LR * db;
                }
            }
        }
    }
}

int main(int argc, char **argv) {
    if (argc < 5) die("usage: w2_blas digits.csv WORKLOAD THREADS HIDDEN...", NULL);
    const char *workload = argv[2];
    int threads = atoi(argv[3]);
    openblas_set_num_threads(threads);
    L = argc - 4 + 1;
    if (L > MAXL) die("too many layers", NULL);

    int rows, cols;
    double *data = read_csv(argv[1], &rows, &cols);
    size[0] = 64;
    for (int l = 1; l < L; l++) size[l] = atoi(argv[3 + l]);
    size[L] = cols - 64;
    float *X = malloc((size_t)rows * 64 * sizeof *X), *T = malloc((size_t)rows * size[L] * sizeof *T);
    for (int s = 0; s < rows; s++)
        for (int c = 0; c < cols; c++) {
            if (c < 64) X[(size_t)s * 64 + c] = (float)data[(size_t)s * cols + c];
            else T[(size_t)s * size[L] + c - 64] = (float)data[(size_t)s * cols + c];
        }

    for (int l = 1; l <= L; l++) {
        int n = size[l], m = size[l - 1];
        double limit = sqrt(6.0 / (m + n)); /* Glorot uniform: fan-in m, fan-out n */
        W0[l] = malloc((size_t)n * m * sizeof(float));
        W[l] = malloc((size_t)n * m * sizeof(float));
        Bv[l] = malloc((size_t)n * sizeof(float));
        for (int i = 0; i < n * m; i++) W0[l][i] = (float)((2 * uniform01() - 1) * limit);
        A[l] = malloc((size_t)BATCH * n * sizeof(float));
        D[l] = malloc((size_t)BATCH * n * sizeof(float));
    }
    D[0] = NULL;

    int repeats = bench_repeats();
    double times[repeats];
    for (int r = 0; r < repeats; r++) {
        for (int l = 1; l <= L; l++) {
            memcpy(W[l], W0[l], (size_t)size[l] * size[l - 1] * sizeof(float));
            memset(Bv[l], 0, (size_t)size[l] * sizeof(float));
        }
        double t0 = now_seconds();
        train(X, T, rows);
        times[r] = now_seconds() - t0;
    }

    /* Training-set loss and accuracy after the last repeat (outside the timing). */
    double loss = 0;
    int correct = 0, no = size[L];
    for (int s0 = 0; s0 < rows; s0 += BATCH) {
        int nb = rows - s0 < BATCH ? rows - s0 : BATCH;
        forward(X + (size_t)s0 * 64, nb);
        for (int r = 0; r < nb; r++) {
            const float *p = A[L] + r * no, *t = T + (size_t)(s0 + r) * no;
            int best = 0, label = 0;
            for (int c = 0; c < no; c++) {
                if (t[c] > 0) loss -= t[c] * log(fmax(p[c], 1e-30));
                if (p[c] > p[best]) best = c;
                if (t[c] > t[label]) label = c;
            }
            correct += best == label;
        }
    }
    char note[200], version[200];
    int off = snprintf(note, sizeof note, "binary32, batch %d, %d threads, layers 64", BATCH, threads);
    for (int l = 1; l <= L; l++) off += snprintf(note + off, sizeof note - off, "-%d", size[l]);
    snprintf(version, sizeof version, "%s, %s", COMPILER_VERSION, openblas_get_config());
    char peer[120];
    /* OpenBLAS 0.3.21 does not know every new CPU and may pick older kernels; the harness
     * also runs with OPENBLAS_CORETYPE forced, and the peer's name says so. */
    const char *core = getenv("OPENBLAS_CORETYPE");
    snprintf(peer, sizeof peer, "%s (%d thread%s%s%s)", PEER_NAME, threads, threads == 1 ? "" : "s",
             core ? ", kernels " : "", core ? core : "");
    print_result(workload, peer, (double)rows * EPOCHS, "samples/s", median(times, repeats), repeats,
                 loss / rows, (double)correct / rows, version, note);
    return 0;
}
