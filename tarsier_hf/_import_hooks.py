"""Run a function right after a module is first imported, without importing it ourselves.

Used where importing the module now would be too slow (``tarsier --help`` must not load transformers) or could
re-enter a module that is still initialising (lmms-eval's task index), yet work must happen as soon as it loads.
"""

from __future__ import annotations

import importlib.abc
import sys
from collections.abc import Callable


def call_after_import(module_name: str, callback: Callable[[object], None]) -> None:
    """``callback(module)`` once ``module_name`` has executed: at once if it is already imported, else right after
    its first import (the import then returns only after the callback)."""
    module = sys.modules.get(module_name)
    if module is not None:
        callback(module)
        return
    sys.meta_path.insert(0, _CallAfterImport(module_name, callback))


class _CallAfterImport(importlib.abc.MetaPathFinder):
    """Finds ``module_name`` through the remaining finders and wraps its loader; removes itself at first use."""

    def __init__(self, module_name: str, callback: Callable[[object], None]):
        self.module_name = module_name
        self.callback = callback

    def find_spec(self, fullname, path, target=None):
        if fullname != self.module_name:
            return None
        sys.meta_path.remove(self)
        for finder in sys.meta_path:
            find_spec = getattr(finder, "find_spec", None)
            spec = find_spec(fullname, path, target) if find_spec else None
            if spec is not None:
                break
        else:
            return None
        if spec.loader is not None and hasattr(spec.loader, "exec_module"):
            spec.loader = _CallbackLoader(spec.loader, self.callback)
        return spec


class _CallbackLoader(importlib.abc.Loader):
    def __init__(self, loader, callback):
        self._loader = loader
        self._callback = callback

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        self._callback(module)

    def __getattr__(self, name):
        return getattr(self._loader, name)
