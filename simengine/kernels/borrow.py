"""Arrays lent to a hot loop without their owner, so that numba counts no references on them.

numba counts references to an array each time an inlined helper takes it, and its pruning
removes the count only when the helper is one basic block: a helper with a branch or a loop (an
event list's insert, a bisection on a clock) pays two atomic operations per array on every call.
:func:`borrowed` returns the same array (data, shape, strides) with no owner; counting a
reference on it does nothing, and LLVM removes the calls. The caller must keep the owner alive
for as long as the borrowed array is used, and must not return or store it.
"""

from __future__ import annotations

from numba import types
from numba.core import cgutils
from numba.extending import intrinsic


@intrinsic
def borrowed(typingctx, arr):
    """``arr`` without its owner (see the module docstring)."""
    if not isinstance(arr, types.Array):
        return None

    def codegen(context, builder, signature, args):
        view = context.make_array(signature.args[0])(context, builder, value=args[0])
        view.meminfo = cgutils.get_null_value(view.meminfo.type)
        view.parent = cgutils.get_null_value(view.parent.type)
        return view._getvalue()

    return arr(arr), codegen
