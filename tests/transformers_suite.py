"""Import transformers' own ``ModelTesterMixin`` for the installed transformers version.

transformers does not ship its test suite in the wheel, and we do not vendor it: the common tests come from that
version's source distribution on PyPI, fetched once (``pip download``) into a cache directory (override with
``TARSIER_TRANSFORMERS_TESTS_CACHE``; ``.ci/run`` pre-fetches it during installation so the test run itself needs no
network). The sdist carries ``tests/test_*_common.py`` but not the ``tests/generation`` and ``tests/exporters``
packages that ``test_modeling_common.py`` imports its base mixins from; those two are given empty stand-ins here,
so generation and torch.export tests of transformers are not run (our own generation tests cover ``generate``).
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
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "--dest", str(directory),
               f"transformers=={transformers.__version__}"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
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


def load_model_tester_mixin():
    directory = cache_dir()
    extract_tests(fetch_sdist(directory), directory)
    if str(directory) not in sys.path:
        sys.path.insert(0, str(directory))
    return importlib.import_module(f"{PACKAGE}.test_modeling_common")


if __name__ == "__main__":  # used by .ci/run to pre-fetch
    print(load_model_tester_mixin().__file__)
