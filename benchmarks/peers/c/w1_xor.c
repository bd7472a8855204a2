/* W1 xor-online, hand-written scalar C in binary64: 2-2-1 sigmoid with biases, binary
 * cross-entropy (so the output delta is y - t), SGD with batch 1, learning rate 0.5, the four
 * XOR samples in order, 10,000 epochs = 40,000 updates, from the parameters in w1-init.json.
 *
 *     w1_xor GENERATED/w1-init.json
 *
 * Built with -DW1_WITH_LOSS (w1_xor_loss, "hand C -O3 (loss per sample)") it also does the
 * rest of what bpc's training loop does: each update adds the sample's binary cross-entropy,
 * computed stably from the output's pre-activation a as t softplus(-a) + (1 - t) softplus(a)
 * with softplus(x) = max(x, 0) + log1p(exp(-|x|)), to its epoch's sum, and every epoch's mean
 * loss is kept (bpc's per-epoch loss history).
 */
#include "bench.h"

#define EPOCHS 10000
#define LR 0.5

typedef struct {
    double wh[2][2], bh[2], wo[2], bo; /* wh[i][k]: x_k -> h_i */
} Params;

static const double X[4][2] = {{0, 0}, {0, 1}, {1, 0}, {1, 1}};
static const double T[4] = {0, 1, 1, 0};

static double sigmoid(double a) { return 1.0 / (1.0 + exp(-a)); }

#ifdef W1_WITH_LOSS
#define PEER "hand C -O3 (loss per sample)"
static double history[EPOCHS]; /* the mean training loss of every epoch */
static double softplus(double x) { return fmax(x, 0.0) + log1p(exp(-fabs(x))); }
#else
#define PEER "hand C -O3"
#endif

static double forward(const Params *p, const double *x, double h[2]) {
    for (int i = 0; i < 2; i++) h[i] = sigmoid(p->wh[i][0] * x[0] + p->wh[i][1] * x[1] + p->bh[i]);
    return sigmoid(p->wo[0] * h[0] + p->wo[1] * h[1] + p->bo);
}

/* The timed loop: 40,000 textbook online updates. */
static void train(Params *p) {
    for (int epoch = 0; epoch < EPOCHS; epoch++) {
#ifdef W1_WITH_LOSS
        double loss = 0;
#endif
        for (int s = 0; s < 4; s++) {
            double h[2];
#ifdef W1_WITH_LOSS
            for (int i = 0; i < 2; i++)
                h[i] = sigmoid(p->wh[i][0] * X[s][0] + p->wh[i][1] * X[s][1] + p->bh[i]);
            double a = p->wo[0] * h[0] + p->wo[1] * h[1] + p->bo;
            double y = sigmoid(a);
            loss += T[s] * softplus(-a) + (1 - T[s]) * softplus(a);
#else
            double y = forward(p, X[s], h);
#endif
            double dy = y - T[s]; /* BCE with a sigmoid output */
            double dh0 = p->wo[0] * dy * h[0] * (1 - h[0]);
            double dh1 = p->wo[1] * dy * h[1] * (1 - h[1]);
            p->wo[0] -= LR * dy * h[0];
            p->wo[1] -= LR * dy * h[1];
            p->bo -= LR * dy;
            p->wh[0][0] -= LR * dh0 * X[s][0];
            p->wh[0][1] -= LR * dh0 * X[s][1];
            p->bh[0] -= LR * dh0;
            p->wh[1][0] -= LR * dh1 * X[s][0];
            p->wh[1][1] -= LR * dh1 * X[s][1];
            p->bh[1] -= LR * dh1;
        }
#ifdef W1_WITH_LOSS
        history[epoch] = loss / 4;
#endif
    }
}

int main(int argc, char **argv) {
    if (argc != 2) die("usage: w1_xor w1-init.json", NULL);
    char *text = read_file(argv[1], NULL);
    size_t n;
    Params init;
    double *v = json_numbers(text, "w_hidden", &n);
    if (n != 4) die("w_hidden needs 4 numbers", NULL);
    memcpy(init.wh, v, sizeof init.wh);
    v = json_numbers(text, "b_hidden", &n);
    if (n != 2) die("b_hidden needs 2 numbers", NULL);
    memcpy(init.bh, v, sizeof init.bh);
    v = json_numbers(text, "w_out", &n);
    if (n != 2) die("w_out needs 2 numbers", NULL);
    memcpy(init.wo, v, sizeof init.wo);
    v = json_numbers(text, "b_out", &n);
    if (n != 1) die("b_out needs 1 number", NULL);
    init.bo = v[0];

    int repeats = bench_repeats();
    double times[repeats];
    Params p;
    for (int r = 0; r < repeats; r++) {
        p = init;
        /* The barrier keeps the compiler from hoisting work across the clock reads. */
        __asm__ volatile("" ::: "memory");
        double t0 = now_seconds();
        train(&p);
        __asm__ volatile("" : : "r"(&p) : "memory");
        times[r] = now_seconds() - t0;
    }
    double loss = 0;
    int correct = 0;
    for (int s = 0; s < 4; s++) {
        double h[2], y = forward(&p, X[s], h);
        loss -= T[s] * log(y) + (1 - T[s]) * log(1 - y);
        correct += (y >= 0.5) == (T[s] >= 0.5);
    }
#ifdef W1_WITH_LOSS
    char note[160];
    snprintf(note, sizeof note, "scalar binary64, libm exp, log1p; BCE per sample, epoch means kept "
             "(first %.6g, last %.6g)", history[0], history[EPOCHS - 1]);
#else
    const char *note = "scalar binary64, libm exp";
#endif
    print_result("W1", PEER, 4.0 * EPOCHS, "updates/s", median(times, repeats), repeats,
                 loss / 4, correct / 4.0, COMPILER_VERSION, note);
    return 0;
}
