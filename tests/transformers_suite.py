"""transformers' own ``ModelTesterMixin`` for the installed transformers version: fetched by an explicit command,
imported from a cache by the tests.

transformers does not ship its test suite in the wheel, and we do not vendor it: the common tests come from that
version's source distribution on PyPI. Fetching needs the network and happens only when asked:

    python tests/transformers_suite.py      # pip download + extract into the cache (the install step runs it)

The cache is ``~/.cache/tarsier_hf/transformers-tests/<version>`` (override with
``TARSIER_TRANSFORMERS_TESTS_CACHE``). The tests only read it (:func:`load_cached_model_tester_mixin`): without it
``tests/test_transformers_conformance.py`` is skipped with the command to run, never a download at import time.

The sdist carries ``tests/test_*_common.py`` but not the ``tests/generation`` and ``tests/exporters`` packages that
``test_modeling_common.py`` imports its base mixins from; those two are given empty stand-ins here (imports only:
the Tarsier test class does not inherit them), so generation and torch.export tests of transformers are not run
(our own generation tests in ``test_modeling_tarsier.py`` cover ``generate``).
"""

import importlib
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import transformers

PACKAGE = "transformers_common_tests"
_STANDINS = {
    "exporters/test_export.py": "class ExportTesterMixin:\n    pass\n",
    "generation/test_utils.py": "class GenerationTesterMixin:\n    pass\n",
}


def cache_dir() -> Path:
    default = Path.home() / ".cache" / "tarsier_hf" / "transformers-tests"
    return Path(os.environ.get("TARSIER_TRANSFORMERS_TESTS_CACHE", default)) / transformers.__version__


def fetch_sdist(directory: Path) -> Path:
    existing = sorted(directory.glob(f"transformers-{transformers.__version__}.tar.gz"))
    if existing:
        return existing[0]
    directory.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--no-binary",
        ":all:",
        "--dest",
        str(directory),
        f"transformers=={transformers.__version__}",
    ]
    result = subprocess.run(command, check=False, capture_output=True, text=True, timeout=600)
    found = sorted(directory.glob(f"transformers-{transformers.__version__}.tar.gz"))
    if result.returncode != 0 or not found:
        raise RuntimeError(
            f"could not fetch transformers {transformers.__version__}'s source distribution from PyPI to run its "
            f"common model tests:\n{result.stderr[-2000:]}"
        )
    return found[0]


def extract_tests(sdist: Path, target: Path) -> Path:
    package = target / PACKAGE
    if (package / "test_modeling_common.py").exists():
        return package
    with tempfile.TemporaryDirectory(dir=target) as tmp:
        staging = Path(tmp) / PACKAGE
        staging.mkdir()
        prefix = f"transformers-{transformers.__version__}/tests/"
        with tarfile.open(sdist) as archive:
            for member in archive.getmembers():
                name = member.name.removeprefix(prefix)
                if member.isfile() and member.name.startswith(prefix) and "/" not in name and name.endswith(".py"):
                    (staging / name).write_bytes(archive.extractfile(member).read())
        (staging / "__init__.py").write_text("")
        for relative, source in _STANDINS.items():
            path = staging / relative
            path.parent.mkdir(exist_ok=True)
            (path.parent / "__init__.py").write_text("")
            path.write_text(source)
        try:
            os.replace(staging, package)
        except OSError:  # another pytest worker extracted it first
            if not (package / "test_modeling_common.py").exists():
                raise
    return package


def fetch() -> Path:
    """Download (network) and extract the common tests into the cache; returns the extracted package folder."""
    directory = cache_dir()
    return extract_tests(fetch_sdist(directory), directory)


def cached_package() -> Path | None:
    """The extracted common tests in the cache, or None when they were never fetched (no network access here)."""
    package = cache_dir() / PACKAGE
    return package if (package / "test_modeling_common.py").is_file() else None


def load_cached_model_tester_mixin():
    """Import ``test_modeling_common`` from the cache; None when it is absent (run ``fetch()`` first)."""
    package = cached_package()
    if package is None:
        return None
    if str(package.parent) not in sys.path:
        sys.path.insert(0, str(package.parent))
    return importlib.import_module(f"{PACKAGE}.test_modeling_common")


def common_tests_for(model_type: str, base_model: str, image_text_to_text_model: str):
    """``test_modeling_common`` from the cache, with ``model_type`` listed in its auto-mapping tables; skips the calling
    test module (with the command to run) when the cache is absent. Call it at module level.

    The common tests classify model classes by the names in transformers' auto mappings (a base model is not trained,
    an image-text-to-text head gets LM labels). A model living inside transformers is listed there; ours are listed in
    the test module's own copies of those tables (``base_model`` / ``image_text_to_text_model`` are class names;
    transformers' dicts themselves are left untouched).
    """
    import pytest

    common = load_cached_model_tester_mixin()
    if common is None:
        pytest.skip(
            f"transformers' common model tests are not in the cache {cache_dir()}: fetch them once "
            "with `python tests/transformers_suite.py` (needs PyPI; the README's install step runs it)",
            allow_module_level=True,
        )
    common.MODEL_MAPPING_NAMES = {**common.MODEL_MAPPING_NAMES, model_type: base_model}
    common.MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES = {
        **common.MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES,
        model_type: image_text_to_text_model,
    }
    return common


if __name__ == "__main__":  # the explicit fetch: `python tests/transformers_suite.py` (run by .ci/run's install step)
    print(fetch())
