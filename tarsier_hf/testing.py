"""Tiny, fully offline Tarsier checkpoints for tests and examples.

Everything here is built locally: a LLaMA/Vicuna-style tokenizer trained with the ``tokenizers`` library on a few
sentences, a tiny CLIP + tiny LLaMA config with the official token layout scaled down (``<image>``, ``<pad>``, then
the newline and end-of-image ids right after the base vocabulary, vocabulary padded to a multiple of 64 as in
Tarsier-7B), random weights, and the official ``preprocessor_config.json``. Checkpoints are written either in the
official Hub layout (``model_type: "llava"``, transformers-4 weight keys) or in this package's native layout.
"""

import json
from functools import lru_cache
from pathlib import Path

import torch
from safetensors.torch import save_file
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

from .configuration_tarsier import TarsierConfig
from .modeling_tarsier import TarsierForConditionalGeneration

__all__ = [
    "TINY_BASE_VOCAB",
    "TINY_VOCAB_SIZE",
    "TINY_IMAGE_TOKEN_ID",
    "TINY_PAD_TOKEN_ID",
    "TINY_IMAGE_NEWLINE_ID",
    "TINY_IMAGE_NEW_ID",
    "CLIP_MEAN",
    "CLIP_STD",
    "build_tiny_tokenizer",
    "tiny_config",
    "tiny_model",
    "save_tiny_checkpoint",
    "to_official_state_dict",
]

TINY_BASE_VOCAB = 320
TINY_IMAGE_TOKEN_ID = TINY_BASE_VOCAB  # official: 32000
TINY_PAD_TOKEN_ID = TINY_BASE_VOCAB + 1  # official: 32001
TINY_IMAGE_NEWLINE_ID = TINY_BASE_VOCAB + 2  # official: 32002
TINY_IMAGE_NEW_ID = TINY_BASE_VOCAB + 3  # official: 32003
TINY_VOCAB_SIZE = 384  # official: 32064

CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
CLIP_STD = [0.26862954, 0.26130258, 0.27577711]

_CORPUS = [
    "USER: <video>\nDescribe the video in detail. ASSISTANT: A man walks into the room and sits down on a chair.",
    "A woman is singing on a stage while the crowd claps their hands.",
    "The camera pans to the left, showing a dog running across the green field.",
    "Two characters talk to each other, then one of them raises a hand and leaves.",
    "A cat jumps onto the table, knocks over a cup of coffee and runs away quickly.",
    "Question: what is the person doing? Answer: The person is cooking food in the kitchen.",
    "The video shows a car driving down a road at night with its lights on.",
    "Someone pours water from a bottle into a glass, and then drinks it.",
    "Options: (A) cooking (B) cleaning (C) reading (D) playing. Answer with the option's letter.",
    "0123456789 ,.;:!?()[]'\"-_/ <>=+*&%$#@ abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ",
]


@lru_cache(maxsize=1)
def _trained_tokenizer_json() -> str:
    """The trained BPE model as JSON: training is the slow part (~0.3 s), so it happens once per process."""
    tokenizer = Tokenizer(models.BPE(unk_token="<unk>", fuse_unk=True))
    tokenizer.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="never", split=False)
    tokenizer.decoder = decoders.Sequence(
        [decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(" ", 1, 0)]
    )
    alphabet = sorted(set("".join(_CORPUS)) | {"▁"})
    trainer = trainers.BpeTrainer(
        vocab_size=TINY_BASE_VOCAB,
        special_tokens=["<unk>", "<s>", "</s>"],
        initial_alphabet=alphabet,
        show_progress=False,
    )
    tokenizer.train_from_iterator(_CORPUS * 20, trainer=trainer)
    if tokenizer.get_vocab_size() != TINY_BASE_VOCAB:
        raise RuntimeError(f"tiny tokenizer trained to {tokenizer.get_vocab_size()} tokens, expected {TINY_BASE_VOCAB}")
    return tokenizer.to_str()


def build_tiny_tokenizer() -> PreTrainedTokenizerFast:
    """A Vicuna-style tokenizer (SentencePiece-like BPE with a ``▁`` word prefix, BOS added, no EOS) whose
    special ids mirror Tarsier-7B's: ``<unk>``=0, ``<s>``=1, ``</s>``=2, ``<image>``/``<pad>`` right after the
    base vocabulary. The BPE model is trained once per process (deterministic); every call returns a new,
    independent tokenizer object."""
    tokenizer = Tokenizer.from_str(_trained_tokenizer_json())
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", 1)]
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        model_max_length=4096,
        padding_side="left",
    )
    fast.add_special_tokens({"additional_special_tokens": ["<image>"]})
    fast.add_special_tokens({"pad_token": "<pad>"})
    assert fast.convert_tokens_to_ids("<image>") == TINY_IMAGE_TOKEN_ID
    assert fast.pad_token_id == TINY_PAD_TOKEN_ID
    return fast


def tiny_config(**overrides) -> TarsierConfig:
    """A Tarsier config a few hundred KB in size: CLIP 28px/patch 14 (a 2x2 grid, 7 positions per frame) and a
    2-layer LLaMA. ``vision`` / ``text`` dict overrides go to the sub-configs."""
    vision = {
        "model_type": "clip_vision_model",
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 3,
        "num_attention_heads": 4,
        "image_size": 28,
        "patch_size": 14,
        "projection_dim": 16,
        "hidden_act": "quick_gelu",
    }
    text = {
        "model_type": "llama",
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "vocab_size": TINY_VOCAB_SIZE,
        "max_position_embeddings": 4096,
        "pad_token_id": TINY_PAD_TOKEN_ID,
        "bos_token_id": 1,
        "eos_token_id": 2,
        "rms_norm_eps": 1e-5,
    }
    vision.update(overrides.pop("vision", {}))
    text.update(overrides.pop("text", {}))
    kwargs = {
        "image_token_index": TINY_IMAGE_TOKEN_ID,
        "image_newline_idx": TINY_IMAGE_NEWLINE_ID,
        "image_new_idx": TINY_IMAGE_NEW_ID,
        "pad_token_id": TINY_PAD_TOKEN_ID,
        "vision_feature_layer": -2,
        "vision_feature_select_strategy": "default",
        "projector_hidden_act": "gelu",
    }
    kwargs.update(overrides)
    return TarsierConfig(vision_config=vision, text_config=text, **kwargs)


def tiny_model(seed: int = 0, **config_overrides) -> TarsierForConditionalGeneration:
    """Random tiny model; weights are drawn with a fixed seed so two calls give identical tensors."""
    torch.manual_seed(seed)
    model = TarsierForConditionalGeneration(tiny_config(**config_overrides))
    return model.eval()


def clip_preprocessor_config(image_size: int) -> dict:
    """The ``preprocessor_config.json`` of the official checkpoints (OpenAI CLIP-336 settings), at ``image_size``."""
    return {
        "image_processor_type": "CLIPImageProcessor",
        "do_resize": True,
        "size": {"shortest_edge": image_size},
        "resample": 3,
        "do_center_crop": True,
        "crop_size": {"height": image_size, "width": image_size},
        "do_rescale": True,
        "rescale_factor": 1 / 255,
        "do_normalize": True,
        "image_mean": CLIP_MEAN,
        "image_std": CLIP_STD,
        "do_convert_rgb": True,
    }


def to_official_state_dict(model: TarsierForConditionalGeneration) -> dict[str, torch.Tensor]:
    """Key the weights as the official transformers-4 checkpoints do (written out independently of the loading
    code's renaming rules, so tests of the loader check something)."""
    renamed = {}
    for key, tensor in model.state_dict().items():
        if key.startswith("model.language_model."):
            key = "language_model.model." + key.removeprefix("model.language_model.")
        elif key == "lm_head.weight":
            key = "language_model.lm_head.weight"
        elif key.startswith("model.vision_tower."):
            key = "vision_tower.vision_model." + key.removeprefix("model.vision_tower.")
        elif key.startswith("model."):
            key = key.removeprefix("model.")
        renamed[key] = tensor.detach().clone().contiguous()
    return renamed


def _official_config_dict(config: TarsierConfig) -> dict:
    return {
        "architectures": ["TarsierForConditionalGeneration"],
        "model_type": "llava",
        "ignore_index": -100,
        "image_token_index": config.image_token_index,
        "image_newline_idx": config.image_newline_idx,
        "image_new_idx": config.image_new_idx,
        "pad_token_id": config.pad_token_id,
        "projector_hidden_act": config.projector_hidden_act,
        "vision_feature_layer": config.vision_feature_layer,
        "vision_feature_select_strategy": config.vision_feature_select_strategy,
        "vocab_size": config.text_config.vocab_size,
        "tie_word_embeddings": False,
        "torch_dtype": "float32",
        "transformers_version": "4.44.2",
        "vision_config": config.vision_config.to_diff_dict(),
        "text_config": config.text_config.to_diff_dict(),
    }


def save_tiny_checkpoint(path, layout: str = "native", seed: int = 0, **config_overrides) -> Path:
    """Write a tiny random checkpoint with tokenizer and CLIP preprocessor config to ``path``.

    ``layout="legacy"`` reproduces the official Hub repos (``model_type: "llava"``, ``architectures:
    ["TarsierForConditionalGeneration"]``, keys ``language_model.model.*`` …); ``layout="native"`` is what
    ``save_pretrained`` of this package writes (``model_type: "tarsier"``)."""
    if layout not in ("native", "legacy"):
        raise ValueError(f"layout must be 'native' or 'legacy', got {layout!r}")
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    model = tiny_model(seed=seed, **config_overrides)
    if layout == "native":
        model.save_pretrained(path)
    else:
        save_file(to_official_state_dict(model), path / "model.safetensors", metadata={"format": "pt"})
        (path / "config.json").write_text(json.dumps(_official_config_dict(model.config), indent=2))
    build_tiny_tokenizer().save_pretrained(path)
    image_size = model.config.vision_config.image_size
    (path / "preprocessor_config.json").write_text(json.dumps(clip_preprocessor_config(image_size), indent=2))
    if layout == "native":  # issue 3: native checkpoints also carry the processor config and chat template
        from .processing_tarsier import TarsierProcessor

        TarsierProcessor.from_pretrained(path).save_pretrained(path)
    return path
