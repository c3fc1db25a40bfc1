"""``import tarsier_hf`` is light, and registers the model types with transformers' Auto classes in either import
order (subprocesses: each needs a fresh interpreter)."""

import json
import subprocess
import sys

import pytest

CHECK_REGISTERED = """
from transformers import AutoConfig, AutoModelForImageTextToText
for model_type, model_class in (("tarsier", "TarsierForConditionalGeneration"),
                                ("tarsier2", "Tarsier2ForConditionalGeneration")):
    config = AutoConfig.for_model(model_type)
    assert AutoModelForImageTextToText._model_mapping[type(config)].__name__ == model_class, model_type
print("registered")
"""


@pytest.mark.parametrize(
    "prelude",
    [
        "import sys, tarsier_hf; assert 'transformers' not in sys.modules and 'torch' not in sys.modules",
        "import transformers, tarsier_hf",
        # a submodule first: it imports transformers while it is still running (registration must wait for it)
        "from tarsier_hf.processing_tarsier import TarsierProcessor",
        "from tarsier_hf.modeling_tarsier import TarsierForConditionalGeneration",
        "from tarsier_hf.processing_tarsier2 import Tarsier2Processor",
        "from tarsier_hf.configuration_tarsier import TarsierConfig",
    ],
    ids=["tarsier_hf-first", "transformers-first", "processing", "modeling", "processing2", "configuration"],
)
def test_auto_classes_know_tarsier_whatever_the_import_order(prelude):
    process = subprocess.run(
        [sys.executable, "-c", prelude + "\n" + CHECK_REGISTERED], capture_output=True, text=True, timeout=300
    )
    assert process.returncode == 0, process.stderr[-3000:]
    assert process.stdout.strip().endswith("registered")


def test_tarsier_convert_help_and_argument_errors_import_neither_torch_nor_transformers(tmp_path):
    script = f"""
import json, sys
from tarsier_hf.convert import main
codes = []
for argv in (["--help"], [], ["src", "dst", "--dtype", "int8"], ["/no/such", {str(tmp_path / "out")!r}]):
    try:
        codes.append(main(argv))
    except SystemExit as exit:
        codes.append(exit.code)
print(json.dumps({{"codes": codes, "heavy": sorted(m for m in ("torch", "transformers") if m in sys.modules)}}))
"""
    process = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert json.loads(process.stdout.splitlines()[-1]) == {"codes": [0, 2, 2, 1], "heavy": []}, process.stderr
    assert "tarsier-convert: error: /no/such: folder not found" in process.stderr
