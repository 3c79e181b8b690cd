"""The backends of :class:`~symupdates.engine.op.MultiElemwise`, one module each.

``c`` is used by the op's thunk directly; ``numba``, ``jax`` and ``pytorch``
register dispatch functions with PyTensor's backend, each only once PyTensor
itself loads that backend (Numba, JAX and torch take seconds to import, and
``import symupdates`` should not).
"""

import importlib
import sys


class _AfterImport:
    """Run a callback once a module has been imported (a post-import hook).

    The backends' dispatch modules import Numba, JAX or torch, which take
    seconds; registering there only when PyTensor itself loads the backend
    keeps ``import symupdates`` fast.
    """

    def __init__(self, callbacks):
        self.callbacks = dict(callbacks)

    def find_spec(self, name, path=None, target=None):
        if name not in self.callbacks:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                break
        else:
            return None
        callback = self.callbacks.pop(name)
        loader = spec.loader
        exec_module = loader.exec_module

        def exec_then_register(module):
            exec_module(module)
            callback()

        loader.exec_module = exec_then_register
        return spec


def _registrar(backend):
    def register():
        importlib.import_module("%s.%s" % (__name__, backend)).register()

    return register


def register_backends():
    from .. import workarounds

    pending = {}
    for module, register in (
        ("pytensor.link.numba.dispatch", _registrar("numba")),
        ("pytensor.link.jax.dispatch", _registrar("jax")),
        ("pytensor.link.pytorch.dispatch", _registrar("pytorch")),
        # PyTensor imports its C VM when it makes the first C VM function
        ("pytensor.link.c.cvm", workarounds.cvm_frees_in_linear_time),
    ):
        if module in sys.modules:
            register()
        else:
            pending[module] = register
    if pending:
        sys.meta_path.insert(0, _AfterImport(pending))
