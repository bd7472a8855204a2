"""The test oracle for bpc's ONNX interop: checks a model with the onnx package and runs it with
onnxruntime, so that bpc's answers are compared with the reference implementations.

    python oracle.py REQUEST.json

REQUEST: {"model": "path.onnx", "feeds": {"input name": [[row], ...], ...}}, or a list of
those (answered by a list, in one process: starting onnxruntime takes most of a second).
Each feed is converted to the element type the model declares for that input. Prints one JSON
object: {"checker": "ok" or the checker's message, "outputs": {"output name": [[row], ...]},
"inputs": [[name, element type name, shape]], "outputs_info": [[name, element type name, shape]],
"metadata": {key: value}, "opset": N} (outputs is absent when onnxruntime fails: "error" says why).
"""
import json
import sys

import numpy as np
import onnx
import onnxruntime as ort


def shape_of(value_info):
    dims = []
    for dim in value_info.type.tensor_type.shape.dim:
        dims.append(dim.dim_value if dim.HasField("dim_value") else dim.dim_param)
    return dims


def answer(request):
    model = onnx.load(request["model"])
    result = {}
    try:
        onnx.checker.check_model(model, full_check=True)
        result["checker"] = "ok"
    except Exception as error:  # the checker's message is what the test shows
        result["checker"] = str(error)
    elem = onnx.TensorProto.DataType.Name
    result["inputs"] = [[i.name, elem(i.type.tensor_type.elem_type), shape_of(i)] for i in model.graph.input]
    result["outputs_info"] = [[o.name, elem(o.type.tensor_type.elem_type), shape_of(o)] for o in model.graph.output]
    result["metadata"] = {p.key: p.value for p in model.metadata_props}
    result["opset"] = max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=0)
    try:
        options = ort.SessionOptions()
        options.log_severity_level = 3
        session = ort.InferenceSession(request["model"], options, providers=["CPUExecutionProvider"])
        feeds = {}
        for declared in session.get_inputs():
            dtype = np.float32 if declared.type == "tensor(float)" else np.float64
            feeds[declared.name] = np.asarray(request["feeds"][declared.name], dtype=dtype)
        names = [o.name for o in session.get_outputs()]
        values = session.run(names, feeds)
        result["outputs"] = {name: np.asarray(value, dtype=np.float64).tolist() for name, value in zip(names, values)}
    except Exception as error:
        result["error"] = str(error)
    return result


def main():
    request = json.load(open(sys.argv[1]))
    if isinstance(request, list):
        json.dump([answer(each) for each in request], sys.stdout)
    else:
        json.dump(answer(request), sys.stdout)


main()
