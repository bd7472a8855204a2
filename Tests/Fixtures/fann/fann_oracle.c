/*
 * The reference for bpc's FANN import: builds small networks with libdoublefann, saves each with
 * fann_save into the folder given as the only argument, and prints fann_run's outputs for a few
 * fixed inputs, one line per input:
 *
 *     NAME.net: x1 x2 ... -> y1 y2 ...
 *
 * with every number in %.17g, so that the test can compare bpc's predictions with FANN's own.
 * Weights come from rand() after srand(SEED), so the saved files are the same on every run with
 * the same C library. Build: cc fann_oracle.c -ldoublefann -lm
 */
#include <doublefann.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *folder;

static void save_and_run(struct fann *ann, const char *name, unsigned seed)
{
    char path[4096];
    unsigned i, j, k;
    srand(seed);
    fann_randomize_weights(ann, -1.0, 1.0);
    snprintf(path, sizeof path, "%s/%s.net", folder, name);
    if (fann_save(ann, path) != 0) {
        fprintf(stderr, "cannot save %s\n", path);
        exit(1);
    }
    for (k = 0; k < 4; k++) {
        fann_type input[16];
        fann_type *output;
        unsigned inputs = fann_get_num_input(ann);
        for (i = 0; i < inputs; i++) input[i] = (double)((int)((k * 7 + i * 3) % 11) - 5) / 4.0;
        output = fann_run(ann, input);
        printf("%s.net:", name);
        for (i = 0; i < inputs; i++) printf(" %.17g", input[i]);
        printf(" ->");
        for (j = 0; j < fann_get_num_output(ann); j++) printf(" %.17g", output[j]);
        printf("\n");
    }
}

int main(int argc, char **argv)
{
    struct fann *ann;
    if (argc != 2) {
        fprintf(stderr, "usage: fann_oracle FOLDER\n");
        return 2;
    }
    folder = argv[1];

    /* Standard 2-3-1 with FANN's default steepness 0.5: sigmoid(2 * 0.5 * sum) is bpc's sigmoid. */
    ann = fann_create_standard(3, 2, 3, 1);
    fann_set_activation_function_hidden(ann, FANN_SIGMOID);
    fann_set_activation_function_output(ann, FANN_SIGMOID);
    save_and_run(ann, "standard", 1);
    fann_destroy(ann);

    /* tanh hidden layer at steepness 0.25 and a linear output at steepness 1. */
    ann = fann_create_standard(3, 3, 4, 2);
    fann_set_activation_function_hidden(ann, FANN_SIGMOID_SYMMETRIC);
    fann_set_activation_steepness_hidden(ann, 0.25);
    fann_set_activation_function_output(ann, FANN_LINEAR);
    fann_set_activation_steepness_output(ann, 1.0);
    save_and_run(ann, "tanh_linear", 2);
    fann_destroy(ann);

    /* Every neuron connected to every neuron of every earlier layer. */
    ann = fann_create_shortcut(3, 2, 3, 1);
    fann_set_activation_function_hidden(ann, FANN_SIGMOID_SYMMETRIC);
    fann_set_activation_function_output(ann, FANN_SIGMOID);
    save_and_run(ann, "shortcut", 3);
    fann_destroy(ann);

    /* Half of the possible connections. */
    ann = fann_create_sparse(0.5f, 3, 4, 5, 2);
    fann_set_activation_function_hidden(ann, FANN_SIGMOID_SYMMETRIC);
    fann_set_activation_function_output(ann, FANN_SIGMOID_SYMMETRIC);
    save_and_run(ann, "sparse", 4);
    fann_destroy(ann);

    /* Four layers, steepness 1 in the hidden layers. */
    ann = fann_create_standard(4, 3, 5, 4, 2);
    fann_set_activation_function_hidden(ann, FANN_SIGMOID_SYMMETRIC);
    fann_set_activation_steepness_hidden(ann, 1.0);
    fann_set_activation_function_output(ann, FANN_SIGMOID);
    save_and_run(ann, "deep", 5);
    fann_destroy(ann);

    /* Steepness 0.3 and 0.7: the folded weights are rounded, so the importer warns. */
    ann = fann_create_standard(3, 2, 3, 1);
    fann_set_activation_function_hidden(ann, FANN_SIGMOID_SYMMETRIC);
    fann_set_activation_steepness_hidden(ann, 0.3);
    fann_set_activation_function_output(ann, FANN_SIGMOID);
    fann_set_activation_steepness_output(ann, 0.7);
    save_and_run(ann, "inexact_steepness", 6);
    fann_destroy(ann);

    /* Gaussian hidden units, which bpc has no activation for. */
    ann = fann_create_standard(3, 2, 2, 1);
    fann_set_activation_function_hidden(ann, FANN_GAUSSIAN);
    fann_set_activation_function_output(ann, FANN_SIGMOID);
    save_and_run(ann, "gaussian", 7);
    fann_destroy(ann);

    /* The same standard network in FANN's fixed-point format. */
    {
        char path[4096];
        ann = fann_create_standard(3, 2, 3, 1);
        srand(1);
        fann_randomize_weights(ann, -1.0, 1.0);
        snprintf(path, sizeof path, "%s/fixed.net", folder);
        if (fann_save_to_fixed(ann, path) < 0) {
            fprintf(stderr, "cannot save %s\n", path);
            return 1;
        }
        fann_destroy(ann);
    }
    return 0;
}
