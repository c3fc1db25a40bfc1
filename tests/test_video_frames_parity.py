"""The default decoding path on an ordinary H.264 MP4 is bit-identical to what it was before the frame-correctness
policy (decord, official indices): frames and ``pixel_values`` of the demo clip, as SHA-256 digests recorded with
the code of commit a424153 (decord 0.6.0, PyAV 15.1.0, Pillow 13.0.0, transformers 5.x CLIP PIL backend)."""

import hashlib
from pathlib import Path

import numpy as np
import pytest
from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

from tarsier_hf.processing_tarsier import TarsierProcessor
from tarsier_hf.testing import CLIP_MEAN, CLIP_STD, build_tiny_tokenizer
from tarsier_hf.video_io import load_frames

pytest.importorskip("decord", reason="decord is the default decoder on H.264 MP4 (installed on Linux x86_64 only)")

_REPO = Path(__file__).resolve().parents[1]
# The clip committed with the tests, else the checkout's shared data folder.
DEMO_VIDEO_CANDIDATES = (
    _REPO / "tests" / "data" / "videos" / "demo_test.mp4",
    _REPO.parent / "shared" / "data" / "videos" / "demo_test.mp4",
)
DEMO_VIDEO = next((p for p in DEMO_VIDEO_CANDIDATES if p.is_file()), None)
requires_demo = pytest.mark.skipif(
    DEMO_VIDEO is None, reason=f"demo clip demo_test.mp4 not found at {', '.join(map(str, DEMO_VIDEO_CANDIDATES))}"
)

# sha256 of load_frames(DEMO_VIDEO, n) as contiguous (n, 800, 1920, 3) uint8 bytes, before the policy change
FRAMES_SHA256 = {
    8: "2e9213afa039cb5b9312a93deee2e8a88aaff79919822cad14de9b60d6a12a09",
    16: "622d61c665fee50eec414bee43e0ec68be65b488c43b13d0e10a0712bc9e8854",
}
# sha256 of the processor's float32 pixel_values (8, 3, 336, 336), default and fast resize
PIXELS_SHA256 = {
    False: "27550cffb06b9225f67f5ce111db51da32c375a5c1c513d4e0359a82c39da778",
    True: "8201b204c42ce2f9a05a0994a09208f2dd0f32d67fec9929351b471ec7da7d97",
}


def _sha256(array) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


@requires_demo
@pytest.mark.parametrize("n, backend", [(8, "auto"), (16, "auto"), (8, "decord"), (8, "pyav")])
def test_demo_frames_unchanged(n, backend):
    frames = load_frames(DEMO_VIDEO, n, backend=backend)
    assert frames.shape == (n, 800, 1920, 3) and frames.dtype == np.uint8
    assert _sha256(frames) == FRAMES_SHA256[n]


@requires_demo
@pytest.mark.parametrize("fast_resize", [False, True])
def test_demo_pixel_values_unchanged(fast_resize):
    image_processor = CLIPImageProcessorPil(
        size={"shortest_edge": 336}, crop_size={"height": 336, "width": 336}, image_mean=CLIP_MEAN, image_std=CLIP_STD
    )
    processor = TarsierProcessor(image_processor, build_tiny_tokenizer(), patch_size=14)
    out = processor(
        text="<video>\nDescribe.", videos=str(DEMO_VIDEO), num_frames=8, fast_resize=fast_resize, return_tensors="pt"
    )
    pixels = out["pixel_values"]
    assert tuple(pixels.shape) == (8, 3, 336, 336)
    assert _sha256(pixels.numpy()) == PIXELS_SHA256[fast_resize]
