"""The explicit fetch of transformers' common tests (tests/transformers_suite.py): needs PyPI, so it runs only when
asked (``TARSIER_RUN_NETWORK_TESTS=1``); every other test reads the cache the install step filled."""

import os

import pytest
import transformers
import transformers_suite


def test_without_a_cache_nothing_is_found_and_nothing_is_fetched(tmp_path, monkeypatch):
    monkeypatch.setenv("TARSIER_TRANSFORMERS_TESTS_CACHE", str(tmp_path))
    assert transformers_suite.cached_package() is None
    assert transformers_suite.load_cached_model_tester_mixin() is None
    assert list(tmp_path.iterdir()) == []  # no download was attempted


@pytest.mark.network
@pytest.mark.skipif(
    os.environ.get("TARSIER_RUN_NETWORK_TESTS") != "1", reason="needs PyPI: set TARSIER_RUN_NETWORK_TESTS=1 to run"
)
def test_fetch_extracts_the_common_tests_of_the_installed_version(tmp_path, monkeypatch):
    monkeypatch.setenv("TARSIER_TRANSFORMERS_TESTS_CACHE", str(tmp_path))
    package = transformers_suite.fetch()
    assert package == tmp_path / transformers.__version__ / transformers_suite.PACKAGE
    assert transformers_suite.cached_package() == package
    assert (package / "test_modeling_common.py").is_file() and (package / "generation" / "test_utils.py").is_file()
