"""TarsierProcessor: official prompt ids, token expansion, pixels, chat template, batching, save/load, bad input."""

import numpy as np
import pytest
import torch
from _proc_media import DEMO_VIDEO, frame_index, index_frame, write_gif, write_image, write_video
from PIL import Image
from transformers import AutoProcessor
from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

import tarsier_hf  # noqa: F401  (registers TarsierProcessor with AutoProcessor)
from tarsier_hf import TarsierForConditionalGeneration
from tarsier_hf.processing_tarsier import TarsierProcessor
from tarsier_hf.testing import CLIP_MEAN, CLIP_STD, TINY_IMAGE_TOKEN_ID, build_tiny_tokenizer
from tarsier_hf.video_io import MediaError, load_frames, sample_frame_indices

DESCRIBE = "<video>\nDescribe the video in detail."
GREY_LEVEL = 1 / 255 / min(CLIP_STD)  # one 8-bit step in normalized pixel units


@pytest.fixture(scope="module")
def checkpoint(official_checkpoint):
    """Official Hub layout: config.json, weights, tokenizer files, a CLIP preprocessor_config.json, no processor
    config."""
    return official_checkpoint


@pytest.fixture(scope="module")
def processor(checkpoint):
    return TarsierProcessor.from_pretrained(checkpoint)


@pytest.fixture(scope="module")
def processor_336():
    """Tarsier-7B's pixel settings (CLIP 336 px, patch 14) with the tiny tokenizer."""
    image_processor = CLIPImageProcessorPil(
        size={"shortest_edge": 336}, crop_size={"height": 336, "width": 336}, image_mean=CLIP_MEAN, image_std=CLIP_STD
    )
    return TarsierProcessor(image_processor, build_tiny_tokenizer(), patch_size=14)


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clips")
    return {
        "a": write_video(folder / "a.mp4", num_frames=30, fps=10),
        "b": write_video(folder / "b.mp4", num_frames=50, fps=10, width=80, height=40),
        "gif": write_gif(folder / "c.gif", num_frames=12),
        "png": write_image(folder / "d.png"),
    }


def official_ids(tokenizer, prompt: str, positions_per_frame: int) -> list[int]:
    """The official pipeline's ids (tokenizer.encode of the prompt with one <image> per frame) with each <image> id
    expanded to the frame's positions, which is what the model consumes."""
    ids = tokenizer.encode(prompt, add_special_tokens=True)
    expanded = []
    for token in ids:
        expanded += [token] * positions_per_frame if token == TINY_IMAGE_TOKEN_ID else [token]
    return expanded


def independent_pixels(frame: np.ndarray, size: int, pad: bool = False) -> np.ndarray:
    """Stretch (or pad) to a square, Pillow bicubic to ``size``, /255, CLIP mean/std — written out without the
    transformers image processor."""
    image = Image.fromarray(frame)
    width, height = image.size
    side = max(width, height)
    if pad:
        square = Image.new("RGB", (side, side), tuple(int(255 * m) for m in CLIP_MEAN))
        square.paste(image, ((side - width) // 2, (side - height) // 2))
    else:
        square = image.resize((side, side))
    resized = np.asarray(square.resize((size, size), Image.Resampling.BICUBIC), dtype=np.float64) / 255
    return ((resized - np.array(CLIP_MEAN)) / np.array(CLIP_STD)).transpose(2, 0, 1)


# ----------------------------------------------------------------------------------------------------- loading


def test_loads_official_checkpoint_folder(checkpoint, processor):
    assert not (checkpoint / "processor_config.json").exists()
    assert isinstance(processor.image_processor, CLIPImageProcessorPil)
    assert processor.patch_size == 14  # from config.json's vision_config
    assert processor.num_image_tokens == 2 * 3 + 1
    assert processor.image_token_id == TINY_IMAGE_TOKEN_ID
    assert processor.num_frames == 8


def test_auto_processor_on_a_native_checkpoint(native_checkpoint):
    # Official repos say model_type "llava", so AutoProcessor gives them LlavaProcessor; converted (native)
    # checkpoints say "tarsier" and get TarsierProcessor, patch size read from config.json.
    loaded = AutoProcessor.from_pretrained(native_checkpoint)
    assert type(loaded) is TarsierProcessor and loaded.num_image_tokens == 7


def test_tokenizer_and_preprocessor_only_folder(checkpoint, tmp_path, clips):
    for name in ("tokenizer.json", "tokenizer_config.json", "preprocessor_config.json"):
        (tmp_path / name).write_bytes((checkpoint / name).read_bytes())
    unknown = TarsierProcessor.from_pretrained(tmp_path)
    with pytest.raises(ValueError, match="patch_size is not set"):
        unknown(text=DESCRIBE, videos=clips["a"])
    given = TarsierProcessor.from_pretrained(tmp_path, patch_size=14)
    assert (
        given(text=DESCRIBE, videos=clips["a"])["input_ids"]
        == TarsierProcessor.from_pretrained(checkpoint)(text=DESCRIBE, videos=clips["a"])["input_ids"]
    )


def test_positions_per_frame_at_tarsier_7b_size(processor_336):
    assert processor_336.num_image_tokens == 24 * 25 + 1 == 601


# ------------------------------------------------------------------------------------------------ prompt / ids


def test_input_ids_reproduce_the_official_prompt(processor):
    out = processor(text=DESCRIBE, videos=str(DEMO_VIDEO), return_tensors="pt")
    prompt = "USER: " + "<image>" * 8 + "\nDescribe the video in detail. ASSISTANT: "
    assert out["input_ids"][0].tolist() == official_ids(processor.tokenizer, prompt, 7)
    assert out["input_ids"][0, 0].item() == processor.tokenizer.bos_token_id
    assert out["attention_mask"].sum().item() == out["input_ids"].shape[1]
    assert out["pixel_values"].shape == (8, 3, 28, 28)


def test_frames_go_first_without_placeholder(processor, clips):
    out = processor(text="What happens?", videos=clips["a"], num_frames=4)
    prompt = "USER: " + "<image>" * 4 + " What happens? ASSISTANT: "
    assert out["input_ids"][0] == official_ids(processor.tokenizer, prompt, 7)
    turn = processor(text="USER: What happens? ASSISTANT: ", videos=clips["a"], num_frames=4)
    assert turn["input_ids"][0] == out["input_ids"][0]


def test_formatted_turns_are_not_wrapped_again(processor, clips):
    text = "USER: <video>\nWhat happens? ASSISTANT: A man walks.</s>"
    out = processor(text=text, videos=clips["a"], num_frames=2)
    assert out["input_ids"][0] == official_ids(processor.tokenizer, text.replace("<video>", "<image><image>"), 7)
    raw = processor(text="plain <video>", videos=clips["a"], num_frames=2, wrap_prompt=False)
    assert raw["input_ids"][0] == official_ids(processor.tokenizer, "plain <image><image>", 7)


@pytest.mark.parametrize("n", [1, 8, 16])
def test_token_expansion_counts_at_336(processor_336, n):
    out = processor_336(text=DESCRIBE, videos=DEMO_VIDEO, num_frames=n, return_tensors="pt")
    assert (out["input_ids"] == processor_336.image_token_id).sum().item() == n * 601
    assert out["pixel_values"].shape == (n, 3, 336, 336)


def test_images_and_videos_in_text_order(processor, clips):
    text = "<image> first, then <video>, then <image>"
    still = Image.fromarray(index_frame(5, 30, 20))
    out = processor(text=text, images=[still, clips["png"]], videos=clips["a"], num_frames=3, return_tensors="pt")
    ids = out["input_ids"][0]
    assert (ids == TINY_IMAGE_TOKEN_ID).sum().item() == (1 + 3 + 1) * 7
    assert out["pixel_values"].shape[0] == 5
    video_alone = processor(text="<video>", videos=clips["a"], num_frames=3, return_tensors="pt")["pixel_values"]
    torch.testing.assert_close(out["pixel_values"][1:4], video_alone, rtol=0, atol=0)


def test_gif_image_and_decoded_inputs(processor, clips):
    gif = processor(text=DESCRIBE, videos=clips["gif"], num_frames=4, return_tensors="pt")
    gif_frames = load_frames(clips["gif"], 4)
    assert [frame_index(f) for f in gif_frames] == [0, 4, 7, 11]
    np.testing.assert_allclose(
        gif["pixel_values"], np.stack([independent_pixels(f, 28) for f in gif_frames]), atol=1e-5
    )
    still = processor(text=DESCRIBE, videos=clips["png"], return_tensors="pt")  # an image is a 1-frame video
    image = np.asarray(Image.open(clips["png"]).convert("RGB"))
    np.testing.assert_allclose(still["pixel_values"], independent_pixels(image, 28)[None], atol=1e-5)
    frames = np.stack([index_frame(i, 32, 24) for i in range(10)])
    as_given = processor(text=DESCRIBE, videos=frames, return_tensors="pt")  # decoded frames are used as given
    np.testing.assert_allclose(
        as_given["pixel_values"], np.stack([independent_pixels(f, 28) for f in frames]), atol=1e-5
    )
    sampled = processor(text=DESCRIBE, videos=[Image.fromarray(f) for f in frames], num_frames=3, return_tensors="pt")
    expected = processor(text=DESCRIBE, videos=frames[[0, 4, 9]], return_tensors="pt")
    torch.testing.assert_close(sampled["pixel_values"], expected["pixel_values"], rtol=0, atol=0)
    as_tensor = processor(text=DESCRIBE, videos=torch.from_numpy(frames).permute(0, 3, 1, 2), return_tensors="pt")
    torch.testing.assert_close(as_tensor["pixel_values"], as_given["pixel_values"], rtol=0, atol=0)


def test_trimming_through_the_processor(processor, clips):
    out = processor(text=DESCRIBE, videos=clips["a"], num_frames=3, start_time=1.0, end_time=2.0)
    frames = load_frames(clips["a"], 3, start_time=1.0, end_time=2.0)
    assert [frame_index(f) for f in frames] == [10, 15, 20]
    np.testing.assert_allclose(out["pixel_values"], np.stack([independent_pixels(f, 28) for f in frames]), atol=1e-5)


def pixels_of(frames) -> np.ndarray:
    return np.stack([independent_pixels(f, 28) for f in frames])


def test_per_video_start_and_end_times_trim_each_video(processor, clips):
    # One window per video (None: the whole clip), as the lmms-eval plugin sends them for a batch.
    out = processor(
        text=[DESCRIBE, DESCRIBE, DESCRIBE],
        videos=[clips["a"], clips["b"], clips["a"]],
        num_frames=3,
        start_time=[1.0, None, 0.5],
        end_time=[2.0, None, None],
        padding=True,
    )
    windows = [(clips["a"], 1.0, 2.0), (clips["b"], None, None), (clips["a"], 0.5, None)]
    expected = [load_frames(path, 3, start_time=start, end_time=end) for path, start, end in windows]
    assert [[frame_index(f) for f in frames] for frames in expected] == [[10, 15, 20], [0, 24, 49], [5, 17, 29]]
    np.testing.assert_allclose(
        out["pixel_values"], pixels_of([frame for frames in expected for frame in frames]), atol=1e-5
    )
    with pytest.raises(ValueError, match="start_time has 2 values for 3 videos"):
        processor(
            text=[DESCRIBE] * 3, videos=[clips["a"], clips["b"], clips["a"]], start_time=[1.0, None], padding=True
        )


def test_video_backend_per_call(processor, clips):
    for backend in ("pyav", "auto"):
        out = processor(text=DESCRIBE, videos=clips["b"], num_frames=4, video_backend=backend)
        np.testing.assert_allclose(
            out["pixel_values"], pixels_of(load_frames(clips["b"], 4, backend=backend)), atol=1e-5
        )
    with pytest.raises(ValueError, match="backend must be 'auto', 'decord' or 'pyav', got 'vlc'"):
        processor(text=DESCRIBE, videos=clips["b"], video_backend="vlc")
    try:
        import decord  # noqa: F401  (installed on Linux x86_64 only)
    except ImportError:
        with pytest.raises(Exception, match="decord"):
            processor(text=DESCRIBE, videos=clips["b"], video_backend="decord")
    else:
        out = processor(text=DESCRIBE, videos=clips["b"], num_frames=4, video_backend="decord")
        np.testing.assert_allclose(
            out["pixel_values"], pixels_of(load_frames(clips["b"], 4, backend="decord")), atol=1e-5
        )


def test_grouped_videos_per_text(processor, clips):
    texts = ["<video> first", "<video> then <video>"]
    grouped = processor(text=texts, videos=[[clips["a"]], [clips["b"], clips["gif"]]], num_frames=2, padding=True)
    flat = processor(text=texts, videos=[clips["a"], clips["b"], clips["gif"]], num_frames=2, padding=True)
    assert grouped["input_ids"] == flat["input_ids"]
    expected = [load_frames(clips["a"], 2), load_frames(clips["b"], 2), load_frames(clips["gif"], 2)]
    np.testing.assert_allclose(
        grouped["pixel_values"], pixels_of([frame for frames in expected for frame in frames]), atol=1e-5
    )
    with pytest.raises(
        ValueError, match=r"<video> placeholders per text \[1, 2\] do not match the videos given per text \[2, 1\]"
    ):
        processor(text=texts, videos=[[clips["a"], clips["b"]], [clips["gif"]]], padding=True)
    # without placeholders, each group goes first in its own text
    first = processor(text=["one", "two"], videos=[[clips["a"]], [clips["b"]]], num_frames=2, padding=True)
    assert [(np.asarray(ids) == TINY_IMAGE_TOKEN_ID).sum() for ids in first["input_ids"]] == [14, 14]


def test_videos_without_text_give_only_pixels(processor, clips):
    alone = processor(videos=[clips["a"], clips["gif"]], num_frames=3, return_tensors="pt")
    assert set(alone) == {"pixel_values"}
    with_text = processor(
        text=["<video>", "<video>"], videos=[clips["a"], clips["gif"]], num_frames=3, padding=True, return_tensors="pt"
    )
    torch.testing.assert_close(alone["pixel_values"], with_text["pixel_values"], rtol=0, atol=0)
    with pytest.raises(ValueError, match="needs text, images or videos"):
        processor()


# ------------------------------------------------------------------------------------------------------ pixels


@pytest.mark.parametrize("square_mode", ["stretch", "pad"])
def test_pixels_match_an_independent_computation(processor_336, square_mode):
    out = processor_336(text=DESCRIBE, videos=DEMO_VIDEO, square_mode=square_mode, return_tensors="pt")
    frames = load_frames(DEMO_VIDEO, 8)  # 1920x800: stretched to 1920x1920, then 336
    expected = np.stack([independent_pixels(f, 336, pad=square_mode == "pad") for f in frames])
    assert out["pixel_values"].dtype == torch.float32
    np.testing.assert_allclose(out["pixel_values"].numpy(), expected, rtol=0, atol=1e-5)


def test_fast_path_deviation(processor_336):
    default = processor_336(text=DESCRIBE, videos=DEMO_VIDEO, return_tensors="pt")["pixel_values"]
    fast = processor_336(text=DESCRIBE, videos=DEMO_VIDEO, fast_resize=True, return_tensors="pt")["pixel_values"]
    deviation = (fast - default).abs()
    assert fast.shape == default.shape
    assert deviation.max().item() <= 1.01 * GREY_LEVEL  # measured: exactly one 8-bit level on the demo clip
    assert deviation.mean().item() <= 0.1 * GREY_LEVEL
    padded = processor_336(text=DESCRIBE, videos=DEMO_VIDEO, square_mode="pad", return_tensors="pt")["pixel_values"]
    padded_fast = processor_336(
        text=DESCRIBE, videos=DEMO_VIDEO, square_mode="pad", fast_resize=True, return_tensors="pt"
    )["pixel_values"]
    torch.testing.assert_close(padded_fast, padded, rtol=0, atol=1e-5)  # pad + one resize is the official pipeline


# -------------------------------------------------------------------------------------------- chat template


def test_chat_template_gives_the_processor_ids(processor):
    conversation = [
        {
            "role": "user",
            "content": [
                {"type": "video", "path": str(DEMO_VIDEO)},
                {"type": "text", "text": "Describe the video in detail."},
            ],
        }
    ]
    rendered = processor.apply_chat_template(conversation, add_generation_prompt=True)
    assert rendered == "USER: <video>\nDescribe the video in detail. ASSISTANT: "
    chat = processor.apply_chat_template(
        conversation, add_generation_prompt=True, tokenize=True, return_dict=True, return_tensors="pt"
    )
    direct = processor(text=DESCRIBE, videos=str(DEMO_VIDEO), return_tensors="pt")
    assert chat["input_ids"].tolist() == direct["input_ids"].tolist()
    torch.testing.assert_close(chat["pixel_values"], direct["pixel_values"], rtol=0, atol=0)


def test_batched_chat_template_with_and_without_video(processor, clips):
    conversations = [
        [{"role": "user", "content": [{"type": "video", "path": str(clips["a"])}, {"type": "text", "text": "Hi?"}]}],
        [{"role": "user", "content": [{"type": "text", "text": "Only text here."}]}],
    ]
    out = processor.apply_chat_template(
        conversations,
        add_generation_prompt=True,
        tokenize=True,
        return_dict=True,
        return_tensors="pt",
        processor_kwargs={"num_frames": 2, "padding": True, "padding_side": "left"},
    )
    assert out["pixel_values"].shape[0] == 2
    assert (out["input_ids"] == TINY_IMAGE_TOKEN_ID).sum(dim=1).tolist() == [14, 0]
    text_only = processor(text="Only text here.")["input_ids"][0]
    assert out["input_ids"][1, -len(text_only) :].tolist() == text_only


def test_chat_template_multi_turn_and_assistant_mask(processor, clips):
    conversation = [
        {
            "role": "user",
            "content": [{"type": "video", "path": str(clips["a"])}, {"type": "text", "text": "What happens?"}],
        },
        {"role": "assistant", "content": [{"type": "text", "text": "A man walks."}]},
        {"role": "user", "content": "And then?"},
        {"role": "assistant", "content": "He sits down."},
    ]
    rendered = processor.apply_chat_template(conversation)
    assert (
        rendered
        == "USER: <video>\nWhat happens? ASSISTANT: A man walks.</s>USER: And then? ASSISTANT: He sits down.</s>"
    )
    out = processor.apply_chat_template(
        conversation,
        tokenize=True,
        return_dict=True,
        return_assistant_tokens_mask=True,
        processor_kwargs={"num_frames": 2},
    )
    ids, mask = out["input_ids"][0], out["assistant_masks"][0]
    assert len(mask) == len(ids)
    assert not any(m for token, m in zip(ids, mask) if token == TINY_IMAGE_TOKEN_ID)
    eos_positions = [i for i, token in enumerate(ids) if token == processor.tokenizer.eos_token_id]
    assert len(eos_positions) == 2 and all(mask[i] for i in eos_positions)
    masked_text = processor.tokenizer.decode([t for t, m in zip(ids, mask) if m])
    assert "man walks.</s>" in masked_text and "sits down.</s>" in masked_text
    assert "USER" not in masked_text and "And then" not in masked_text


# ------------------------------------------------------------------------------------------- batches / io


@pytest.mark.parametrize("side", ["left", "right"])
def test_batch_padding_side_and_frame_order(processor, clips, side):
    texts = [DESCRIBE, "<video>\nA much longer question about what exactly happens in this clip?"]
    out = processor(
        text=texts, videos=[clips["a"], clips["b"]], num_frames=3, padding=True, padding_side=side, return_tensors="pt"
    )
    pad = processor.tokenizer.pad_token_id
    assert out["input_ids"].shape[0] == 2
    shorter = out["input_ids"][0]
    pad_column = 0 if side == "left" else -1
    assert shorter[pad_column].item() == pad and out["attention_mask"][0, pad_column].item() == 0
    assert out["input_ids"][1, pad_column].item() != pad
    assert ((out["input_ids"] == TINY_IMAGE_TOKEN_ID).sum(dim=1) == 21).all()
    first = processor(text=texts[0], videos=clips["a"], num_frames=3, return_tensors="pt")
    torch.testing.assert_close(out["pixel_values"][:3], first["pixel_values"], rtol=0, atol=0)
    tokens = out["input_ids"][0][out["attention_mask"][0].bool()]
    assert tokens.tolist() == first["input_ids"][0].tolist()


def test_save_load_round_trip(processor, tmp_path, clips):
    custom = TarsierProcessor(processor.image_processor, processor.tokenizer, patch_size=14, num_frames=4)
    custom.save_pretrained(tmp_path)
    assert (tmp_path / "processor_config.json").exists() and (tmp_path / "chat_template.jinja").exists()
    reloaded = AutoProcessor.from_pretrained(tmp_path)
    assert type(reloaded) is TarsierProcessor
    assert (reloaded.patch_size, reloaded.num_frames, reloaded.image_token_id) == (14, 4, TINY_IMAGE_TOKEN_ID)
    assert reloaded.chat_template == custom.chat_template
    assert isinstance(reloaded.image_processor, CLIPImageProcessorPil)
    before = custom(text=DESCRIBE, videos=clips["b"], return_tensors="pt")
    after = reloaded(text=DESCRIBE, videos=clips["b"], return_tensors="pt")
    assert before["pixel_values"].shape[0] == 4
    assert after["input_ids"].tolist() == before["input_ids"].tolist()
    torch.testing.assert_close(after["pixel_values"], before["pixel_values"], rtol=0, atol=0)


def test_outputs_feed_the_model(checkpoint, processor, clips):
    model = TarsierForConditionalGeneration.from_pretrained(checkpoint).eval()
    texts, videos = [DESCRIBE, "<video>\nWhat?"], [clips["a"], clips["gif"]]
    inputs = processor(text=texts, videos=videos, num_frames=2, padding=True, padding_side="left", return_tensors="pt")
    with torch.no_grad():
        logits = model(**inputs).logits
        # each left-padded row's last logits are the ones of that sample run alone
        for row, (text, video) in enumerate(zip(texts, videos)):
            alone = processor(text=text, videos=video, num_frames=2, return_tensors="pt")
            expected = model(**alone).logits[0]
            torch.testing.assert_close(logits[row, -expected.shape[0] :], expected, rtol=1e-4, atol=1e-4)


# ------------------------------------------------------------------------------------------------ bad input


def test_placeholder_count_must_match(processor, clips):
    with pytest.raises(ValueError, match=r"2 <video> placeholder\(s\) but 1 video\(s\)"):
        processor(text="<video> and <video>", videos=clips["a"])
    with pytest.raises(ValueError, match=r"1 <image> placeholder\(s\) but 0 image\(s\)"):
        processor(text="<image> what is this?")
    with pytest.raises(
        ValueError, match=r"0 <image> placeholder\(s\) but 1 image.*1 <video> placeholder\(s\) but 0 video"
    ):
        processor(text="<video> what is this?", images=[clips["png"]])


def test_max_length_truncation_must_not_cut_image_tokens(processor, clips):
    with pytest.raises(ValueError, match=r"max_length=20 truncation would cut image tokens.*need 56 image-token"):
        processor(text=DESCRIBE, videos=clips["a"], truncation=True, max_length=20)
    full = processor(text=DESCRIBE, videos=clips["a"])["input_ids"][0]
    kept = processor(text=DESCRIBE, videos=clips["a"], truncation=True, max_length=len(full) - 3)["input_ids"][0]
    assert kept == full[: len(full) - 3]  # cutting text after the frames is allowed


def test_bad_media_errors_name_the_file(processor, clips, tmp_path):
    with pytest.raises(MediaError, match=r"nowhere\.mp4: file not found"):
        processor(text=DESCRIBE, videos=str(tmp_path / "nowhere.mp4"))
    with pytest.raises(MediaError, match=r"notes\.txt: unsupported file extension"):
        processor(text=DESCRIBE, videos=str(tmp_path / "notes.txt"))
    with pytest.raises(MediaError, match=r"a\.mp4: start_time 9s is beyond the end"):
        processor(text=DESCRIBE, videos=clips["a"], start_time=9)
    with pytest.raises(
        MediaError, match=r"num_frames \(the number of frames to sample\) must be an integer >= 1, got 0"
    ):
        processor(text=DESCRIBE, videos=clips["a"], num_frames=0)
    with pytest.raises(MediaError, match=r"a\.mp4: images= takes still images"):
        processor(text="<image>", images=[str(clips["a"])])
    with pytest.raises(ValueError, match="square_mode must be one of"):
        processor(text=DESCRIBE, videos=clips["a"], square_mode="crop")


def test_sampling_indices_used_for_files(processor, clips):
    out = processor(text=DESCRIBE, videos=clips["b"], num_frames=5)
    frames = load_frames(clips["b"], 5)
    # round(i * 49 / 4): 12.25 -> 12, 24.5 -> 24 (ties to even, as Python's round), 36.75 -> 37; written out, not
    # computed with sample_frame_indices, so that a wrong rounding there cannot agree with itself
    assert [frame_index(f) for f in frames] == sample_frame_indices(50, 5) == [0, 12, 24, 37, 49]
    np.testing.assert_allclose(out["pixel_values"], np.stack([independent_pixels(f, 28) for f in frames]), atol=1e-5)
