"""The lmms-eval plugin with a Tarsier2 checkpoint: the family's frame default, the family in the run protocol, and
the same tokens as the processor + model called directly with the official prompt."""

import pytest
from _lmms_harness import write_clip

from lmms_tasks import run_protocol


@pytest.fixture(scope="module")
def tarsier2_checkpoint(tmp_path_factory):
    from tarsier_hf.testing_tarsier2 import save_tiny_tarsier2_checkpoint

    return save_tiny_tarsier2_checkpoint(tmp_path_factory.mktemp("tarsier2") / "official", seed=7)


@pytest.mark.slow  # three model loads and two 16-frame generations
def test_tarsier2_checkpoint_runs_with_its_own_defaults(tarsier2_checkpoint, tmp_path):
    import torch

    from lmms_tasks.models.tarsier import Tarsier, _simple_prompt
    from tarsier_hf import Tarsier2ForConditionalGeneration, Tarsier2Processor

    model = Tarsier(pretrained=str(tarsier2_checkpoint), max_new_tokens="5", dtype="float32")
    assert model.num_frames == 16 and model.family == "tarsier2"
    settings = run_protocol.model_settings()
    assert settings["family"] == "tarsier2" and settings["num_frames"] == 16 and settings["square_mode"] is None
    assert Tarsier(pretrained=str(tarsier2_checkpoint), num_frames="4").num_frames == 4

    clip = write_clip(tmp_path / "clip.mp4", seed=3, num_frames=20, size=56)
    text = model._generate(
        [_simple_prompt("<video>\nDescribe the video in detail.", [str(clip)])],
        {"max_new_tokens": 5, "do_sample": False},
    )

    processor = Tarsier2Processor.from_pretrained(tarsier2_checkpoint)
    direct = Tarsier2ForConditionalGeneration.from_pretrained(tarsier2_checkpoint)
    inputs = processor(text="Describe the video in detail.", videos=[str(clip)], return_tensors="pt")
    assert inputs["image_grid_thw"].tolist() == [[16, 4, 4]]
    with torch.inference_mode():
        out = direct.generate(**inputs, max_new_tokens=5, do_sample=False)
    expected = processor.decode(out[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True).strip()
    assert text == [expected]
