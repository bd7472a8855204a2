/* W1 xor-online with FANN 2.2 (libdoublefann: binary64): a 2-2-1 network from
 * fann_create_standard, sigmoid hidden and output units, FANN_TRAIN_INCREMENTAL (one fann_train
 * call per sample = one update), learning rate 0.5, no momentum, the four samples in order,
 * 10,000 epochs, starting from the parameters in w1-init.json (set with fann_set_weight).
 *
 * Where FANN differs from the workload (it cannot express it exactly):
 *  - FANN trains on squared error only: its output delta is (y - t) * sigmoid'(a), not the
 *    binary cross-entropy delta y - t, so its trajectory and final loss differ from bpc's;
 *    we use FANN_ERRORFUNC_LINEAR (plain squared error) rather than its default tanh-shaped one.
 *  - FANN's sigmoid derivative clips y into [0.01, 0.99].
 * The work per update (one forward, one backward, one update of 9 parameters) is the same.
 *
 *     fann_w1 w1-init.json
 */
#include "bench.h"
#include <doublefann.h>

#define EPOCHS 10000

static const fann_type X[4][2] = {{0, 0}, {0, 1}, {1, 0}, {1, 1}};
static const fann_type T[4][1] = {{0}, {1}, {1}, {0}};

/* A fresh network with the shared initial parameters. FANN numbers neurons layer by layer,
 * each layer ending with its bias neuron: inputs 0, 1 (bias 2), hidden 3, 4 (bias 5), output 6. */
static struct fann *make(const double *wh, const double *bh, const double *wo, double bo) {
    struct fann *ann = fann_create_standard(3, 2, 2, 1);
    fann_set_activation_function_hidden(ann, FANN_SIGMOID);
    fann_set_activation_function_output(ann, FANN_SIGMOID);
    /* FANN's sigmoid is 1 / (1 + exp(-2 s a)): steepness 0.5 is the logistic function. */
    fann_set_activation_steepness_hidden(ann, 0.5);
    fann_set_activation_steepness_output(ann, 0.5);
    fann_set_training_algorithm(ann, FANN_TRAIN_INCREMENTAL);
    fann_set_learning_rate(ann, 0.5f);
    fann_set_learning_momentum(ann, 0.0f);
    fann_set_train_error_function(ann, FANN_ERRORFUNC_LINEAR);
    for (int i = 0; i < 2; i++) {
        for (int k = 0; k < 2; k++) fann_set_weight(ann, (unsigned)k, (unsigned)(3 + i), wh[2 * i + k]);
        fann_set_weight(ann, 2, (unsigned)(3 + i), bh[i]);
        fann_set_weight(ann, (unsigned)(3 + i), 6, wo[i]);
    }
    fann_set_weight(ann, 5, 6, bo);
    return ann;
}

int main(int argc, char **argv) {
    if (argc != 2) die("usage: fann_w1 w1-init.json", NULL);
    char *text = read_file(argv[1], NULL);
    size_t n;
    double *wh = json_numbers(text, "w_hidden", &n), *bh = json_numbers(text, "b_hidden", &n);
    double *wo = json_numbers(text, "w_out", &n), *bo = json_numbers(text, "b_out", &n);

    /* Check that the weights landed where we meant: the network's output before training. */
    struct fann *check = make(wh, bh, wo, bo[0]);
    double h0 = 1 / (1 + exp(-(wh[0] + bh[0]))), h1 = 1 / (1 + exp(-(wh[2] + bh[1])));
    double want = 1 / (1 + exp(-(wo[0] * h0 + wo[1] * h1 + bo[0])));
    fann_type in[2] = {1, 0};
    if (fabs(fann_run(check, in)[0] - want) > 1e-9) die("FANN neuron numbering is not as assumed", NULL);
    fann_destroy(check);

    int repeats = bench_repeats();
    double times[repeats];
    struct fann *ann = NULL;
    for (int r = 0; r < repeats; r++) {
        if (ann) fann_destroy(ann);
        ann = make(wh, bh, wo, bo[0]);
        double t0 = now_seconds();
        for (int epoch = 0; epoch < EPOCHS; epoch++)
            for (int s = 0; s < 4; s++) fann_train(ann, (fann_type *)X[s], (fann_type *)T[s]);
        times[r] = now_seconds() - t0;
    }
    double loss = 0;
    int correct = 0;
    for (int s = 0; s < 4; s++) {
        double y = fann_run(ann, (fann_type *)X[s])[0], t = T[s][0];
        loss -= t * log(y) + (1 - t) * log(1 - y);
        correct += (y >= 0.5) == (t >= 0.5);
    }
    print_result("W1", "FANN 2.2 (incremental)", 4.0 * EPOCHS, "updates/s", median(times, repeats), repeats,
                 loss / 4, correct / 4.0, "libfann 2.2.0 (doublefann), " COMPILER_VERSION,
                 "binary64; FANN trains squared error (delta (y-t)*sigmoid'), not BCE; final_loss is BCE of its outputs");
    fann_destroy(ann);
    return 0;
}
