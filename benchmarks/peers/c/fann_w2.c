/* W2 digits-mlp with FANN 2.2 (libfloatfann: binary32): 64 -> hidden tanh layers -> 10 from
 * fann_create_standard, learning rate 0.1, no momentum, 50 epochs over the 1797 samples in
 * order, Xavier-uniform initial weights (copied into ann->weights), biases 0.
 *
 * Where FANN cannot express the workload exactly:
 *  - no softmax: the outputs are FANN_SIGMOID (logistic) units trained on squared error
 *    against the one-hot targets (FANN_ERRORFUNC_LINEAR), not identity units under softmax
 *    cross-entropy. (Identity outputs on squared error diverge at learning rate 0.1 on the
 *    wide variant; logistic outputs are FANN's usual classifier and train well on both.)
 *  - no mini-batches of 32: FANN_TRAIN_INCREMENTAL updates after every sample (batch 1, what
 *    we run, one fann_train call per sample), FANN_TRAIN_BATCH only after a whole epoch.
 * So its loss is not comparable (final_loss is null; the note gives its mean squared error);
 * its training accuracy is. Hidden units are FANN_SIGMOID_SYMMETRIC with steepness 1 = tanh.
 *
 *     fann_w2 digits.csv WORKLOAD HIDDEN...      e.g. fann_w2 digits.csv W2 64
 */
#include "bench.h"
#include <floatfann.h>
#include <stdint.h>

#define EPOCHS 50

static uint64_t rng_state = 1;
static double uniform01(void) { /* splitmix64 */
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return (double)((z ^ (z >> 31)) >> 11) * 0x1.0p-53;
}

static unsigned layers[8];
static int n_layers;

static struct fann *make(const fann_type *weights) {
    struct fann *ann = fann_create_standard_array((unsigned)n_layers, layers);
    fann_set_activation_function_hidden(ann, FANN_SIGMOID_SYMMETRIC);
    fann_set_activation_steepness_hidden(ann, 1.0f); /* tanh(a) */
    fann_set_activation_function_output(ann, FANN_SIGMOID);
    fann_set_activation_steepness_output(ann, 0.5f); /* 1 / (1 + exp(-a)) */
    fann_set_training_algorithm(ann, FANN_TRAIN_INCREMENTAL);
    fann_set_learning_rate(ann, 0.1f);
    fann_set_learning_momentum(ann, 0.0f);
    fann_set_train_error_function(ann, FANN_ERRORFUNC_LINEAR);
    /* fann_set_weight_array searches every connection per weight (quadratic); struct fann is
     * public and ann->weights is in connection order, so copy the weights in directly. */
    if (weights) memcpy(ann->weights, weights, ann->total_connections * sizeof *weights);
    return ann;
}

int main(int argc, char **argv) {
    if (argc < 4) die("usage: fann_w2 digits.csv WORKLOAD HIDDEN...", NULL);
    const char *workload = argv[2];
    int rows, cols;
    double *data = read_csv(argv[1], &rows, &cols);
    n_layers = argc - 3 + 2;
    if (n_layers > 8) die("too many layers", NULL);
    layers[0] = 64;
    for (int l = 1; l < n_layers - 1; l++) layers[l] = (unsigned)atoi(argv[2 + l]);
    layers[n_layers - 1] = (unsigned)(cols - 64);
    int no = cols - 64;
    fann_type *X = malloc((size_t)rows * 64 * sizeof *X), *T = malloc((size_t)rows * no * sizeof *T);
    for (int s = 0; s < rows; s++)
        for (int c = 0; c < cols; c++) {
            if (c < 64) X[(size_t)s * 64 + c] = (fann_type)data[(size_t)s * cols + c];
            else T[(size_t)s * no + c - 64] = (fann_type)data[(size_t)s * cols + c];
        }

    /* Xavier-uniform weights in FANN's own connection order; bias connections start at 0.
     * fann_get_connection_array tells each connection's neurons; bias neurons are the last
     * neuron of each layer (a layer's first neuron + its size). */
    struct fann *proto = make(NULL);
    unsigned n_conn = fann_get_total_connections(proto);
    struct fann_connection *conn = malloc(n_conn * sizeof *conn);
    fann_get_connection_array(proto, conn);
    unsigned first[9];
    first[0] = 0;
    for (int l = 0; l < n_layers; l++) first[l + 1] = first[l] + layers[l] + 1;
    fann_type *w0 = malloc(n_conn * sizeof *w0);
    for (unsigned c = 0; c < n_conn; c++) {
        int l = 0;
        while (conn[c].from_neuron >= first[l + 1]) l++;
        int is_bias = conn[c].from_neuron == first[l] + layers[l];
        double limit = sqrt(6.0 / (layers[l] + layers[l + 1]));
        w0[c] = is_bias ? 0.0f : (fann_type)((2 * uniform01() - 1) * limit);
    }
    fann_destroy(proto);

    int repeats = bench_repeats();
    double times[repeats];
    struct fann *ann = NULL;
    for (int r = 0; r < repeats; r++) {
        if (ann) fann_destroy(ann);
        ann = make(w0);
        double t0 = now_seconds();
        for (int epoch = 0; epoch < EPOCHS; epoch++)
            for (int s = 0; s < rows; s++) fann_train(ann, X + (size_t)s * 64, T + (size_t)s * no);
        times[r] = now_seconds() - t0;
    }
    double mse = 0;
    int correct = 0;
    for (int s = 0; s < rows; s++) {
        fann_type *y = fann_run(ann, X + (size_t)s * 64), *t = T + (size_t)s * no;
        int best = 0, label = 0;
        for (int c = 0; c < no; c++) {
            mse += 0.5 * (y[c] - t[c]) * (y[c] - t[c]);
            if (y[c] > y[best]) best = c;
            if (t[c] > t[label]) label = c;
        }
        correct += best == label;
    }
    char note[400];
    int off = snprintf(note, sizeof note, "binary32, layers 64");
    for (int l = 1; l < n_layers; l++) off += snprintf(note + off, sizeof note - off, "-%u", layers[l]);
    snprintf(note + off, sizeof note - off,
             "; no softmax: logistic outputs on squared error (mean half squared error %.4g); "
             "batch 1 (FANN_TRAIN_INCREMENTAL), not 32", mse / rows);
    print_result(workload, "FANN 2.2 (incremental)", (double)rows * EPOCHS, "samples/s", median(times, repeats),
                 repeats, NAN, (double)correct / rows, "libfann 2.2.0 (floatfann), " COMPILER_VERSION, note);
    fann_destroy(ann);
    return 0;
}
