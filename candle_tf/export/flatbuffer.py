"""Reading a ``.tflite`` flatbuffer: operator counts and multiply-accumulates."""

import collections

import numpy as np
from tensorflow.lite.python import schema_py_generated as tflite_schema
from tensorflow.lite.python import schema_util

_BUILTIN_OP_NAMES = {code: name for name, code in vars(tflite_schema.BuiltinOperator).items()
                     if not name.startswith("_")}


# Filter elements behind one output element, from the filter tensor's shape.
_MACS_PER_OUTPUT = {
    "CONV_2D": lambda kernel: np.prod(kernel[1:]),            # (out, kh, kw, in)
    "DEPTHWISE_CONV_2D": lambda kernel: np.prod(kernel[1:3]),  # (1, kh, kw, out)
    "FULLY_CONNECTED": lambda kernel: kernel[-1],              # (out, in)
}


def _parse(flatbuffer: bytes):
    buffer = bytearray(flatbuffer)
    if not tflite_schema.Model.ModelBufferHasIdentifier(buffer, 0):
        raise ValueError(
            "flatbuffer is not a TFLite model (no 'TFL3' identifier); pass the bytes "
            "returned by convert_to_lce or read from a .tflite file in binary mode.")
    return tflite_schema.Model.GetRootAs(buffer, 0)


def _op_names(model) -> list:
    names = []
    for i in range(model.OperatorCodesLength()):
        opcode = model.OperatorCodes(i)
        code = schema_util.get_builtin_code_from_operator_code(opcode)
        if code == tflite_schema.BuiltinOperator.CUSTOM:
            names.append(opcode.CustomCode().decode("utf-8"))
        else:
            names.append(_BUILTIN_OP_NAMES.get(code, f"BUILTIN_{code}"))
    return names


def _operators(flatbuffer: bytes):
    """(op name, operator, subgraph) of every operator, over all subgraphs."""
    model = _parse(flatbuffer)
    names = _op_names(model)
    for s in range(model.SubgraphsLength()):
        subgraph = model.Subgraphs(s)
        for j in range(subgraph.OperatorsLength()):
            operator = subgraph.Operators(j)
            yield names[operator.OpcodeIndex()], operator, subgraph


def count_tflite_ops(flatbuffer: bytes) -> collections.Counter:
    """Counts the operators of a .tflite flatbuffer by name, over all subgraphs.

    Builtin ops are named as in the TFLite schema ("CONV_2D", "FULLY_CONNECTED"),
    custom ops by their custom code ("LceBconv2d", "LceQuantize").
    """
    return collections.Counter(name for name, _, _ in _operators(flatbuffer))


def _shape(subgraph, tensor_index: int) -> np.ndarray:
    return subgraph.Tensors(tensor_index).ShapeAsNumpy()


def float_macs(flatbuffer: bytes) -> int:
    """Multiply-accumulates of the float CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED ops
    for one input (the flatbuffer's static shapes, batch 1).

    Counted as larq does: output elements times the filter elements behind each one.
    Binary ``LceBconv2d`` ops are not included.
    """
    total = 0
    for name, operator, subgraph in _operators(flatbuffer):
        if name in _MACS_PER_OUTPUT:
            outputs = np.prod(_shape(subgraph, operator.Outputs(0)))
            kernel = _shape(subgraph, operator.Inputs(1))
            total += int(outputs) * int(_MACS_PER_OUTPUT[name](kernel))
    return total
