"""Writes the ONNX import fixtures under Tests/Fixtures/onnx/ (run once; CI does not run it):

    python scripts/onnx/make-fixtures.py

Needs numpy, onnx, onnxruntime, torch (CPU) and onnxscript (for PyTorch's default exporter).
The models come from the three places bpc's importer reads: PyTorch's exporters (small MLPs
trained here with a fixed seed, and the default dynamo exporter's patterns and external data),
onnx.helper (one model per supported op and attribute), and hand-broken copies the importer
must reject.
expected.json holds onnxruntime's outputs for fixed inputs, so that the Swift tests compare
bpc with onnxruntime without Python.
"""
import json
import os

import numpy as np
import onnx
import onnxruntime as ort
import torch
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
OUT = os.path.join(ROOT, "Tests", "Fixtures", "onnx")
OPSET = 17
rng = np.random.default_rng(20240601)


def save(model, name):
    path = os.path.join(OUT, name)
    onnx.save(model, path)
    assert os.path.getsize(path) < 50_000, name
    return path


def graph_model(nodes, inputs, outputs, initializers, name, opset=OPSET):
    graph = helper.make_graph(nodes, name, inputs, outputs, initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="bpc make-fixtures")
    model.ir_version = 8
    return model


def weights(name, *shape, dtype=np.float32, scale=0.8):
    return numpy_helper.from_array((rng.standard_normal(shape) * scale).astype(dtype), name)


def run(path, rows, dtype):
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    feed = np.asarray(rows, dtype=dtype)
    (output,) = session.run(None, {session.get_inputs()[0].name: feed})
    return np.asarray(output, dtype=np.float64).reshape(len(rows), -1).tolist()


def trained_torch_models():
    """Two MLPs trained on an iris-like set (three Gaussian clusters in 4-D)."""
    torch.manual_seed(7)
    centres = torch.tensor([[5.0, 3.4, 1.5, 0.2], [5.9, 2.8, 4.3, 1.3], [6.6, 3.0, 5.6, 2.0]])
    labels = torch.arange(3).repeat_interleave(50)
    features = centres[labels] + 0.3 * torch.randn(150, 4)

    classifier = torch.nn.Sequential()
    classifier.add_module("fc1", torch.nn.Linear(4, 8))
    classifier.add_module("act1", torch.nn.ReLU())
    classifier.add_module("fc2", torch.nn.Linear(8, 8))
    classifier.add_module("act2", torch.nn.Tanh())
    classifier.add_module("fc3", torch.nn.Linear(8, 3))
    optimiser = torch.optim.Adam(classifier.parameters(), lr=0.02)
    for _ in range(300):
        optimiser.zero_grad()
        loss = torch.nn.functional.cross_entropy(classifier(features), labels)
        loss.backward()
        optimiser.step()
    exported = torch.nn.Sequential(classifier, torch.nn.Softmax(dim=-1)).eval()

    regressor = torch.nn.Sequential()
    regressor.add_module("hidden", torch.nn.Linear(4, 6))
    regressor.add_module("leaky", torch.nn.LeakyReLU())  # slope 0.01, bpc's leaky_relu
    regressor.add_module("dropout", torch.nn.Dropout(0.25))
    regressor.add_module("out", torch.nn.Linear(6, 2))
    targets = torch.stack([features[:, 2] - features[:, 0], features[:, 1] * 0.5], dim=1)
    optimiser = torch.optim.Adam(regressor.parameters(), lr=0.02)
    for _ in range(300):
        optimiser.zero_grad()
        loss = torch.nn.functional.mse_loss(regressor(features), targets)
        loss.backward()
        optimiser.step()
    regressor.eval()

    example = features[:2]
    for model, name, output in ((exported, "torch_iris_softmax.onnx", "probabilities"),
                                (regressor, "torch_regression.onnx", "prediction")):
        torch.onnx.export(model, (example,), os.path.join(OUT, name), input_names=["features"], output_names=[output],
                          dynamic_axes={"features": {0: "batch"}, output: {0: "batch"}}, opset_version=OPSET,
                          dynamo=False)
    return features[::37].tolist()


def helper_models():
    """Models written with onnx.helper, each exercising ops and attributes the exporters vary."""
    f, d = TensorProto.FLOAT, TensorProto.DOUBLE
    models = {}

    # A binary classifier as Keras-through-tf2onnx writes it: MatMul then Add, final Sigmoid.
    models["matmul_add_sigmoid.onnx"] = graph_model(
        [helper.make_node("MatMul", ["x", "W1"], ["m1"], name="dense/MatMul"),
         helper.make_node("Add", ["m1", "b1"], ["a1"], name="dense/BiasAdd"),
         helper.make_node("Relu", ["a1"], ["h1"], name="dense/Relu"),
         helper.make_node("MatMul", ["h1", "W2"], ["m2"], name="dense_1/MatMul"),
         helper.make_node("Add", ["b2", "m2"], ["a2"], name="dense_1/BiasAdd"),
         helper.make_node("Sigmoid", ["a2"], ["y"], name="dense_1/Sigmoid")],
        [helper.make_tensor_value_info("x", f, ["N", 3])], [helper.make_tensor_value_info("y", f, ["N", 1])],
        [weights("W1", 3, 5), weights("b1", 5), weights("W2", 5, 1), weights("b2", 1)], "keras_like")

    # Gemm with transB = 0, alpha and beta, a [1, M] bias; LeakyRelu with the default slope,
    # written out; a bias given by a Constant node; Gemm with transB = 1 and no C.
    models["gemm_alpha_beta.onnx"] = graph_model(
        [helper.make_node("Gemm", ["x", "B1", "C1"], ["g1"], name="g1", alpha=0.5, beta=2.0, transB=0),
         helper.make_node("LeakyRelu", ["g1"], ["l1"], name="leaky", alpha=0.01),
         helper.make_node("Constant", [], ["C2"], name="c2",
                          value=numpy_helper.from_array(np.array([0.25, -0.5], dtype=np.float32))),
         helper.make_node("Gemm", ["l1", "B2"], ["g2"], name="g2", transB=1),
         helper.make_node("Add", ["g2", "C2"], ["y"], name="bias2")],
        [helper.make_tensor_value_info("x", f, ["N", 4])], [helper.make_tensor_value_info("y", f, ["N", 2])],
        [weights("B1", 4, 6), weights("C1", 1, 6), weights("B2", 2, 6)], "gemm")

    models["softplus.onnx"] = graph_model(
        [helper.make_node("Gemm", ["x", "B1", "C1"], ["g1"], name="fc1", transB=1),
         helper.make_node("Softplus", ["g1"], ["s1"], name="soft"),
         helper.make_node("Dropout", ["s1"], ["d1"], name="drop"),  # inference: passes its input through
         helper.make_node("Gemm", ["d1", "B2", "C2"], ["y"], name="fc2", transB=1)],
        [helper.make_tensor_value_info("x", f, ["N", 2])], [helper.make_tensor_value_info("y", f, ["N", 2])],
        [weights("B1", 3, 2), weights("C1", 3), weights("B2", 2, 3), weights("C2", 2)], "softplus")

    # A [N, 2, 2] input flattened row-major, then a Reshape to [-1, 4] that changes nothing.
    models["flatten.onnx"] = graph_model(
        [helper.make_node("Flatten", ["image"], ["flat"], name="flatten", axis=1),
         helper.make_node("Gemm", ["flat", "B1", "C1"], ["g1"], name="fc1", transB=1),
         helper.make_node("Tanh", ["g1"], ["t1"], name="tanh1"),
         helper.make_node("Reshape", ["t1", "shape"], ["r1"], name="reshape"),
         helper.make_node("Gemm", ["r1", "B2", "C2"], ["y"], name="fc2", transB=1)],
        [helper.make_tensor_value_info("image", f, ["N", 2, 2])], [helper.make_tensor_value_info("y", f, ["N", 3])],
        [weights("B1", 4, 4), weights("C1", 4), numpy_helper.from_array(np.array([-1, 4], dtype=np.int64), "shape"),
         weights("B2", 3, 4), weights("C2", 3)], "flatten")

    # A residual block: h2 = tanh(fc2(h1)) + h1, whose sum is a new layer of identity units;
    # an activation on realized units (h1 is used twice), an Identity, units + constant.
    models["residual.onnx"] = graph_model(
        [helper.make_node("Gemm", ["x", "B1", "C1"], ["g1"], name="fc1", transB=1),
         helper.make_node("Relu", ["g1"], ["h1"], name="relu1"),
         helper.make_node("Gemm", ["h1", "B2", "C2"], ["g2"], name="fc2", transB=1),
         helper.make_node("Tanh", ["g2"], ["t2"], name="tanh2"),
         helper.make_node("Add", ["t2", "h1"], ["s"], name="skip"),
         helper.make_node("Sigmoid", ["h1"], ["gate"], name="gate"),
         helper.make_node("Identity", ["gate"], ["gate2"], name="same"),
         helper.make_node("Add", ["gate2", "shift"], ["shifted"], name="shift"),
         helper.make_node("Add", ["s", "shifted"], ["s2"], name="merge"),
         helper.make_node("Gemm", ["s2", "B3", "C3"], ["y"], name="fc3", transB=1),
         helper.make_node("Identity", ["y"], ["out"], name="out")],
        [helper.make_tensor_value_info("x", f, ["N", 3])], [helper.make_tensor_value_info("out", f, ["N", 2])],
        [weights("B1", 4, 3), weights("C1", 4), weights("B2", 4, 4), weights("C2", 4), weights("shift", 4),
         weights("B3", 2, 4), weights("C3", 2)], "residual")

    # binary64 throughout (weights, input and arithmetic), ending in a softmax over three classes.
    models["double_softmax.onnx"] = graph_model(
        [helper.make_node("MatMul", ["x", "W1"], ["m1"], name="layer_a"),
         helper.make_node("Add", ["m1", "b1"], ["a1"], name="bias_a"),
         helper.make_node("Tanh", ["a1"], ["h1"], name="tanh_a"),
         helper.make_node("Gemm", ["h1", "W2", "b2"], ["logits"], name="layer_b", transB=1, beta=0.75),
         helper.make_node("Softmax", ["logits"], ["p"], name="softmax", axis=-1)],
        [helper.make_tensor_value_info("x", d, ["N", 3])], [helper.make_tensor_value_info("p", d, ["N", 3])],
        [weights("W1", 3, 4, dtype=np.float64), weights("b1", 4, dtype=np.float64),
         weights("W2", 3, 4, dtype=np.float64), weights("b2", 3, dtype=np.float64)], "double")
    for model in models.values():
        onnx.checker.check_model(model, full_check=True)
    return models


def invalid_models():
    """Models the importer must reject, each with one thing wrong."""
    f = TensorProto.FLOAT
    x = helper.make_tensor_value_info("x", f, ["N", 2])
    y = helper.make_tensor_value_info("y", f, ["N", 2])
    gemm = helper.make_node("Gemm", ["x", "B", "C"], ["g"], name="fc1", transB=1)
    base = [weights("B", 2, 2), weights("C", 2)]
    models = {}
    models["invalid_conv.onnx"] = graph_model(
        [gemm, helper.make_node("Conv", ["g", "K"], ["y"], name="conv1")], [x], [y], base + [weights("K", 2, 2, 1)], "conv")
    models["invalid_leaky_alpha.onnx"] = graph_model(
        [gemm, helper.make_node("LeakyRelu", ["g"], ["y"], name="leaky1", alpha=0.2)], [x], [y], base, "leaky")
    # Two outputs holding the same units: bpc's output units are distinct.
    models["invalid_two_outputs.onnx"] = graph_model(
        [helper.make_node("Gemm", ["x", "B", "C"], ["h"], name="fc1", transB=1), helper.make_node("Relu", ["h"], ["y"], name="relu1"),
         helper.make_node("Identity", ["y"], ["g"], name="same")], [x],
        [y, helper.make_tensor_value_info("g", f, ["N", 2])], base, "two")
    models["invalid_gather_index.onnx"] = graph_model(
        [gemm, helper.make_node("Gather", ["g", "columns"], ["y"], name="pick", axis=1)], [x], [y],
        base + [numpy_helper.from_array(np.array([1, 2], dtype=np.int64), "columns")], "gather")
    models["invalid_concat_axis.onnx"] = graph_model(
        [gemm, helper.make_node("Concat", ["g", "x"], ["c"], name="rows", axis=0),
         helper.make_node("Relu", ["c"], ["y"], name="relu1")], [x], [y], base, "concat")
    external = weights("B", 2, 2)
    external.ClearField("raw_data")
    external.ClearField("float_data")
    external.data_location = TensorProto.EXTERNAL
    external.external_data.add(key="location", value="weights.bin")
    models["invalid_external_data.onnx"] = graph_model(
        [gemm, helper.make_node("Relu", ["g"], ["y"], name="relu1")], [x], [y], [external, weights("C", 2)], "external")
    short = weights("B", 2, 2)
    short.raw_data = short.raw_data[:12]
    models["invalid_initializer_size.onnx"] = graph_model(
        [gemm, helper.make_node("Relu", ["g"], ["y"], name="relu1")], [x], [y], [short, weights("C", 2)], "short")
    models["invalid_weight_shape.onnx"] = graph_model(
        [gemm, helper.make_node("Relu", ["g"], ["y"], name="relu1")], [x], [y], [weights("B", 2, 3), weights("C", 2)], "shape")
    models["invalid_order.onnx"] = graph_model(
        [helper.make_node("Relu", ["g"], ["y"], name="relu1"), gemm], [x], [y], base, "order")
    models["invalid_float16.onnx"] = graph_model(
        [gemm, helper.make_node("Relu", ["g"], ["y"], name="relu1")], [x], [y],
        [weights("B", 2, 2, dtype=np.float16), weights("C", 2)], "half")
    nan = numpy_helper.from_array(np.array([0.5, np.nan], dtype=np.float32), "C")
    models["invalid_nan_bias.onnx"] = graph_model(
        [gemm, helper.make_node("Relu", ["g"], ["y"], name="relu1")], [x], [y], [weights("B", 2, 2), nan], "nan")
    models["invalid_domain.onnx"] = graph_model(
        [gemm, helper.make_node("Gelu", ["g"], ["y"], name="gelu1", domain="com.microsoft")], [x], [y], base, "domain")
    return models


def hostile_models():
    """Models whose sizes would make a careless reader allocate, overflow or trap."""
    f = TensorProto.FLOAT
    x = helper.make_tensor_value_info("x", f, ["N", 2])
    y = helper.make_tensor_value_info("y", f, ["N", 2])
    gemm = helper.make_node("Gemm", ["x", "B"], ["y"], name="fc1", transB=1)
    models = {}
    huge = weights("B", 2, 2)
    del huge.dims[:]
    huge.dims.extend([2 ** 62, 4])
    models["dims_overflow.onnx"] = graph_model([gemm], [x], [y], [huge], "overflow")
    negative = weights("B", 2, 2)
    del negative.dims[:]
    negative.dims.extend([-2, -2])
    models["negative_dims.onnx"] = graph_model([gemm], [x], [y], [negative], "negative")
    models["huge_input.onnx"] = graph_model(
        [helper.make_node("Flatten", ["x"], ["f"], name="flat"), helper.make_node("Relu", ["f"], ["y"], name="relu")],
        [helper.make_tensor_value_info("x", f, ["N", 100000, 100000])], [y], [], "huge")
    models["reshape_overflow.onnx"] = graph_model(
        [helper.make_node("Reshape", ["x", "shape"], ["r"], name="reshape"), helper.make_node("Relu", ["r"], ["y"], name="relu")],
        [x], [y], [numpy_helper.from_array(np.array([0, 2 ** 62, 2 ** 62, -1], dtype=np.int64), "shape")], "reshape")
    cycle = [helper.make_node("Relu", ["b"], ["a"], name="first"), helper.make_node("Add", ["a", "x"], ["b"], name="second"),
             helper.make_node("Identity", ["b"], ["y"], name="out")]
    models["cycle.onnx"] = graph_model(cycle, [x], [y], [], "cycle")
    return models


def multi_input_model():
    """Two inputs concatenated, as Keras' Concatenate and PyTorch's torch.cat write them, and
    two outputs selected from one layer with Gather (a negative index included). Its own
    random generator, so that the models above keep their weights."""
    f = TensorProto.FLOAT
    own = np.random.default_rng(20240602)

    def w(name, *shape):
        return numpy_helper.from_array((own.standard_normal(shape) * 0.8).astype(np.float32), name)

    model = graph_model(
        [helper.make_node("Concat", ["a", "b"], ["ab"], name="join", axis=1),
         helper.make_node("Gemm", ["ab", "B1", "C1"], ["g1"], name="fc1", transB=1),
         helper.make_node("Relu", ["g1"], ["h1"], name="relu1"),
         helper.make_node("Gemm", ["h1", "B2", "C2"], ["g2"], name="fc2", transB=1),
         helper.make_node("Gather", ["g2", "first_columns"], ["first"], name="pick_first", axis=1),
         helper.make_node("Gather", ["g2", "last_column"], ["last"], name="pick_last", axis=-1)],
        [helper.make_tensor_value_info("a", f, ["N", 2]), helper.make_tensor_value_info("b", f, ["N", 3])],
        [helper.make_tensor_value_info("first", f, ["N", 2]), helper.make_tensor_value_info("last", f, ["N", 1])],
        [w("B1", 4, 5), w("C1", 4), w("B2", 3, 4), w("C2", 3),
         numpy_helper.from_array(np.array([0, 1], dtype=np.int64), "first_columns"),
         numpy_helper.from_array(np.array([-1], dtype=np.int32), "last_column")], "multi_input")
    onnx.checker.check_model(model, full_check=True)
    name = "multi_input.onnx"
    path = save(model, name)
    rows = (own.standard_normal((4, 5)) * 1.5).astype(np.float32).astype(np.float64)
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    first, last = session.run(["first", "last"], {"a": rows[:, :2].astype(np.float32), "b": rows[:, 2:].astype(np.float32)})
    outputs = np.concatenate([first, last], axis=1).astype(np.float64).tolist()
    # Several inputs and outputs: the rows are the inputs side by side, the outputs likewise.
    return {"file": name, "precision": "float", "input": "a", "output": "first", "shape": [5], "inputs": rows.tolist(),
            "outputs": outputs, "input_names": ["a", "b"], "input_widths": [2, 3], "output_names": ["first", "last"]}


def export_default(model, rows, name):
    """Exports `model` as a user would with PyTorch 2.5+'s default exporter (dynamo=True):
    `torch.onnx.export(model, (x,), "m.onnx")`, nothing else. Its shapes are fixed, the batch
    included, so the example is the test rows themselves; it writes weights over a few hundred
    bytes into `m.onnx.data`, and an empty `m.onnx.data` when there are none, which is removed."""
    path = os.path.join(OUT, name)
    data = path + ".data"
    if os.path.exists(data):
        os.remove(data)
    torch.onnx.export(model.eval(), (torch.tensor(rows, dtype=torch.float32),), path)
    # The exporter records each node's Python stack trace, with this checkout's absolute path:
    # dropped, so that the fixtures are the same wherever they are made (the tensors it keeps
    # in the .data file stay there: they are not loaded, so onnx.save does not rewrite them).
    exported = onnx.load(path, load_external_data=False)
    for node in exported.graph.node:
        kept = [p for p in node.metadata_props if p.key != "pkg.torch.onnx.stack_trace"]
        del node.metadata_props[:]
        node.metadata_props.extend(kept)
    onnx.save(exported, path)
    external = [t for t in exported.graph.initializer if t.data_location == TensorProto.EXTERNAL]
    if not external and os.path.exists(data) and os.path.getsize(data) == 0:
        os.remove(data)
    assert os.path.getsize(path) < 50_000 and (not os.path.exists(data) or os.path.getsize(data) < 50_000), name
    return path


def default_exporter_models():
    """What PyTorch's default (dynamo) exporter writes for the modules a user trial found
    refused: weights in external data, nn.SiLU as Mul(x, Sigmoid(x)), nn.Softplus as
    Where(Greater(x, 20), x, Softplus(x)), a final LogSoftmax (NLLLoss), and nodes named
    generically (`node_linear_1`), so that the layers are named after the weights (`0.weight`).
    BatchNorm1d after a Linear, which the dynamo exporter folds itself, comes from the
    TorchScript exporter (dynamo=False), without input or output names. Own seeds, so that the
    models above keep their weights."""
    torch.manual_seed(11)
    own = np.random.default_rng(20240603)
    entries = []

    def add(model, name, rows, log_softmax=False):
        path = export_default(model, rows, name)
        item = entry(name, "float", [len(rows[0])], rows, run(path, rows, np.float32))
        if log_softmax:
            item["log_softmax"] = True
        entries.append(item)

    def rows(count, width, scale=1.5):
        return (own.standard_normal((count, width)) * scale).astype(np.float32).astype(np.float64).tolist()

    # 8-32-3: both weight matrices (1024 and 384 bytes) go to torch_external_data.onnx.data.
    external = torch.nn.Sequential(torch.nn.Linear(8, 32), torch.nn.ReLU(), torch.nn.Linear(32, 3))
    add(external, "torch_external_data.onnx", rows(5, 8))

    class SiLUNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = torch.nn.Linear(3, 4)
            self.act = torch.nn.SiLU()
            self.fc2 = torch.nn.Linear(4, 2)

        def forward(self, x):
            return self.fc2(self.act(self.fc1(x)))

    add(SiLUNet(), "torch_silu.onnx", rows(5, 3))

    # Inputs large enough that some pre-activations pass softplus' threshold 20 and some not.
    class SoftplusNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = torch.nn.Sequential(torch.nn.Linear(2, 4), torch.nn.Softplus(), torch.nn.Linear(4, 2))

        def forward(self, x):
            return self.layers(x)

    softplus = SoftplusNet()
    with torch.no_grad():
        softplus.layers[0].weight.mul_(8.0)
    softplus_rows = rows(6, 2, scale=4.0)
    pre = softplus.layers[0](torch.tensor(softplus_rows, dtype=torch.float32))
    assert (pre > 20).any() and (pre < 20).any(), "the softplus fixture must cross the threshold"
    add(softplus, "torch_softplus.onnx", softplus_rows)

    classifier = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.Tanh(), torch.nn.Linear(5, 3), torch.nn.LogSoftmax(dim=1))
    add(classifier, "torch_log_softmax.onnx", rows(5, 4), log_softmax=True)

    # BatchNorm1d after a Linear with a bias and after one without, with running statistics
    # that are not the initial 0 and 1 (which the exporter would share with other tensors).
    normalised = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.BatchNorm1d(6), torch.nn.Tanh(),
                                     torch.nn.Linear(6, 5, bias=False), torch.nn.BatchNorm1d(5), torch.nn.ReLU(),
                                     torch.nn.Linear(5, 2))
    with torch.no_grad():
        for norm in (normalised[1], normalised[4]):
            norm.running_mean.uniform_(-0.5, 0.5)
            norm.running_var.uniform_(0.5, 2.0)
            norm.weight.uniform_(0.5, 1.5)
            norm.bias.uniform_(-0.5, 0.5)
    normalised.eval()
    batch_rows = rows(5, 4)
    name = "torch_batchnorm.onnx"
    path = os.path.join(OUT, name)
    torch.onnx.export(normalised, (torch.tensor(batch_rows, dtype=torch.float32),), path, dynamo=False)
    assert any(n.op_type == "BatchNormalization" for n in onnx.load(path).graph.node), "the TorchScript exporter kept BatchNorm"
    assert os.path.getsize(path) < 50_000, name
    entries.append(entry(name, "float", [4], batch_rows, run(path, batch_rows, np.float32)))
    return entries


def double_batchnorm_model():
    """BatchNormalization in binary64 after MatMul + Add and after a MatMul alone, where the
    folded weights must agree with onnxruntime's two steps to 1e-12."""
    d = TensorProto.DOUBLE
    own = np.random.default_rng(20240604)

    def w(name, *shape, low=None, high=None):
        values = own.uniform(low, high, shape) if low is not None else own.standard_normal(shape) * 0.8
        return numpy_helper.from_array(values.astype(np.float64), name)

    model = graph_model(
        [helper.make_node("MatMul", ["x", "W1"], ["m1"], name="dense/MatMul"),
         helper.make_node("Add", ["m1", "b1"], ["a1"], name="dense/BiasAdd"),
         helper.make_node("BatchNormalization", ["a1", "s1", "t1", "mean1", "var1"], ["n1"], name="dense/norm", epsilon=1e-3),
         helper.make_node("Relu", ["n1"], ["h1"], name="dense/Relu"),
         helper.make_node("MatMul", ["h1", "W2"], ["m2"], name="out/MatMul"),
         helper.make_node("BatchNormalization", ["m2", "s2", "t2", "mean2", "var2"], ["y"], name="out/norm")],
        [helper.make_tensor_value_info("x", d, ["N", 3])], [helper.make_tensor_value_info("y", d, ["N", 2])],
        [w("W1", 3, 4), w("b1", 4), w("s1", 4, low=0.5, high=1.5), w("t1", 4), w("mean1", 4), w("var1", 4, low=0.2, high=2.0),
         w("W2", 4, 2), w("s2", 2, low=0.5, high=1.5), w("t2", 2), w("mean2", 2), w("var2", 2, low=0.2, high=2.0)],
        "double_batchnorm")
    onnx.checker.check_model(model, full_check=True)
    name = "double_batchnorm.onnx"
    path = save(model, name)
    rows = (own.standard_normal((4, 3)) * 1.5).tolist()
    return entry(name, "double", [3], rows, run(path, rows, np.float64))


def external_data_models():
    """Models whose external data the importer must refuse to read, each with one thing
    wrong, next to hostile/external_weights.data (16 bytes: a 2 x 2 FLOAT matrix)."""
    f = TensorProto.FLOAT
    x = helper.make_tensor_value_info("x", f, ["N", 2])
    y = helper.make_tensor_value_info("y", f, ["N", 2])
    with open(os.path.join(OUT, "hostile", "external_weights.data"), "wb") as file:
        file.write(np.array([[0.5, -1.0], [2.0, 0.25]], dtype=np.float32).tobytes())

    def model(name, dims=(2, 2), **entries):
        tensor = TensorProto(name="B", data_type=f, dims=list(dims))
        tensor.data_location = TensorProto.EXTERNAL
        for key, value in entries.items():
            tensor.external_data.add(key=key, value=str(value))
        return graph_model([helper.make_node("Gemm", ["x", "B"], ["y"], name="fc1", transB=1)], [x], [y], [tensor], name)

    return {
        # The data file of torch_external_data.onnx, one folder up: it exists, and must not be read.
        "external_parent.onnx": model("parent", location="../torch_external_data.onnx.data", offset=0, length=16),
        "external_absolute.onnx": model("absolute", location="/etc/passwd", offset=0, length=16),
        "external_offset.onnx": model("offset", location="external_weights.data", offset=4096, length=16),
        "external_past_end.onnx": model("past_end", location="external_weights.data", offset=8, length=16),
        "external_length.onnx": model("length", location="external_weights.data", offset=0, length=12),
        # 16 GB by its dims: refused by the file's size before anything is allocated.
        "external_huge.onnx": model("huge", dims=(2 ** 30, 4), location="external_weights.data"),
    }


def entry(name, precision, shape, inputs, outputs):
    model = onnx.load(os.path.join(OUT, name))
    return {"file": name, "precision": precision, "input": model.graph.input[0].name,
            "output": model.graph.output[0].name, "shape": shape, "inputs": inputs, "outputs": outputs}


def main():
    expected = {"models": []}
    rows = trained_torch_models()
    for name in ("torch_iris_softmax.onnx", "torch_regression.onnx"):
        path = os.path.join(OUT, name)
        assert os.path.getsize(path) < 50_000, name
        expected["models"].append(entry(name, "float", [4], rows, run(path, rows, np.float32)))
    widths = {"matmul_add_sigmoid.onnx": [3], "gemm_alpha_beta.onnx": [4], "softplus.onnx": [2],
              "flatten.onnx": [2, 2], "residual.onnx": [3], "double_softmax.onnx": [3]}
    for name, model in helper_models().items():
        path = save(model, name)
        double = model.graph.input[0].type.tensor_type.elem_type == TensorProto.DOUBLE
        shape = widths[name]
        # Inputs exact in the model's precision, so that bpc and onnxruntime see the same numbers.
        inputs = (rng.standard_normal((4, *shape)) * 1.5).astype(np.float64 if double else np.float32).astype(np.float64).tolist()
        outputs = run(path, inputs, np.float64 if double else np.float32)
        flat = np.asarray(inputs).reshape(4, -1).tolist()
        expected["models"].append(entry(name, "double" if double else "float", shape, flat, outputs))
    expected["models"].append(multi_input_model())
    expected["models"] += default_exporter_models()
    expected["models"].append(double_batchnorm_model())
    for name, model in invalid_models().items():
        save(model, name)
    os.makedirs(os.path.join(OUT, "hostile"), exist_ok=True)
    for name, model in hostile_models().items():
        save(model, os.path.join("hostile", name))
    for name, model in external_data_models().items():
        save(model, os.path.join("hostile", name))
    with open(os.path.join(OUT, "expected.json"), "w") as file:
        json.dump(expected, file, indent=1)
        file.write("\n")


main()
