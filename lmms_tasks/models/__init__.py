"""lmms-eval model plugins.

:func:`tarsier_manifest` is the ``lmms_eval.models`` entry point. lmms-eval 0.7 calls entry-point payloads that are
callables and expects a ``ModelManifest`` back (it would call a model class with no arguments), so the entry point
names this function rather than the class. The classes are only imported when lmms-eval builds the model.
"""

from lmms_tasks import _task_discovery


def tarsier_manifest():
    """The ``tarsier`` model (chat and simple classes) for lmms-eval; also adds this package's tasks to its index."""
    from lmms_eval.models.registry_v2 import ModelManifest

    _task_discovery.install()
    return ModelManifest(
        model_id="tarsier",
        simple_class_path="lmms_tasks.models.tarsier.Tarsier",
        chat_class_path="lmms_tasks.models.tarsier.TarsierChat",
    )
