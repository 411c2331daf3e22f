"""What the kernels know about a value and LLVM cannot prove: an index that is never negative.

numba indexes an array by a signed integer as Python does, ``a[-1]`` being the last element: each
index by a value LLVM cannot prove non-negative (one read from an array, a slot or a node of a
free list) costs a test and a correction. :func:`nonneg` tells LLVM the value is not negative
(``llvm.assume``), and the correction goes. The caller must be right: a negative value would index
before the array.
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic


@intrinsic
def nonneg(typingctx, x):
    """``x``, known not to be negative (see the module docstring)."""
    if not isinstance(x, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        value = args[0]
        assume = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [ir.IntType(1)]), "llvm.assume")
        builder.call(assume, [builder.icmp_signed(">=", value, value.type(0))])
        return value

    return x(x), codegen
