"""transformers' own ModelTesterMixin run against the Tarsier2 classes (see tests/transformers_suite.py)."""

import unittest

import pytest
import torch
import transformers_suite

from tarsier_hf import Tarsier2ForConditionalGeneration, Tarsier2Model
from tarsier_hf.testing_tarsier2 import TINY2_BASE_VOCAB, TINY2_IDS, tiny2_config

common = transformers_suite.common_tests_for("tarsier2", "Tarsier2Model", "Tarsier2ForConditionalGeneration")


class Tarsier2ModelTester:
    """Tiny Tarsier2: per sample one video of 3 frames (3 temporal patches, a 2x2 merged grid: 12 image tokens,
    more frames than the grid side, where the official position rule matters) between two text runs."""

    def __init__(self, parent, batch_size=3, text_len=8):
        self.parent = parent
        self.batch_size = batch_size
        self.grid = (3, 4, 4)
        self.image_tokens = self.grid[0] * self.grid[1] * self.grid[2] // 4
        self.seq_length = text_len + 2 + self.image_tokens
        self.is_training = True
        self.num_hidden_layers = 2
        self.hidden_size = 32
        self.num_attention_heads = 4
        self.vocab_size = 384

    def get_config(self):
        return tiny2_config()

    def prepare_config_and_inputs_for_common(self):
        config = self.get_config()
        generator = torch.Generator().manual_seed(0)
        input_ids = torch.randint(0, TINY2_BASE_VOCAB, (self.batch_size, self.seq_length), generator=generator)
        input_ids[:, 2] = TINY2_IDS["<|vision_start|>"]
        input_ids[:, 3 : 3 + self.image_tokens] = TINY2_IDS["<|image_pad|>"]
        input_ids[:, 3 + self.image_tokens] = TINY2_IDS["<|vision_end|>"]
        patches = self.grid[0] * self.grid[1] * self.grid[2]
        pixel_values = torch.randn(self.batch_size * patches, 3 * 2 * 14 * 14, generator=generator)
        return config, {
            "input_ids": input_ids,
            "attention_mask": torch.ones_like(input_ids),
            "mm_token_type_ids": (input_ids == TINY2_IDS["<|image_pad|>"]).long(),
            "pixel_values": pixel_values,
            "image_grid_thw": torch.tensor([self.grid] * self.batch_size),
        }


@pytest.mark.slow  # ~160 common tests (over 1000 subtests): minutes on 2 cores
class Tarsier2ModelTest(common.ModelTesterMixin, unittest.TestCase):
    all_model_classes = (Tarsier2Model, Tarsier2ForConditionalGeneration)
    _is_composite = True

    def setUp(self):
        self.model_tester = Tarsier2ModelTester(self)

    def test_reverse_loading_mapping(self):
        # The official layout is the one of the whole model (vision_tower.*, language_model.model.*,
        # language_model.lm_head.*); the base model alone has no official counterpart, as for LLaVA (transformers'
        # own LLaVA test passes skip_base_model=True for the same reason).
        super().test_reverse_loading_mapping(skip_base_model=True)

    @unittest.skip(
        "transformers' GenerationTesterMixin is not in its sdist (an empty stand-in is imported instead); "
        "generation is tested in tests/test_tarsier2_model.py (greedy, batched = single)."
    )
    def test_generation_tester_mixin_inheritance(self):
        pass
