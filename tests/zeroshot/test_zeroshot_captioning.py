"""CIDEr-D through the real Java PTB tokenizer and pycocoevalcap, checked against a value computed by hand."""

import math

import pytest

from lmms_tasks.zeroshot import BENCHMARKS, score_benchmark
from lmms_tasks.zeroshot.captioning import cider_scores
from lmms_tasks.zeroshot.ptb import ptb_tokenize


def test_ptb_tokenizer_runs_java_lowercases_and_drops_punctuation():
    assert ptb_tokenize(["A Man's dog, running!", "Don't stop.", "ünïcode CAFÉ"]) == [
        "a man 's dog running",
        "do n't stop",
        "ünïcode café",
    ]


def test_carriage_returns_and_empty_captions_do_not_shift_the_others():
    captions = ["first one.", "two\rlines", "", "   ", "a\r\nb\u2028c", "last one."]
    assert ptb_tokenize(captions) == ["first one", "two lines", "", "", "a b c", "last one"]


def cider_by_hand(candidate: list[str], references: list[list[str]], all_references: list[list[list[str]]]) -> float:
    """CIDEr-D of one candidate (sigma 6, clipped counts, x10), document frequencies over ``all_references``."""
    n_docs = len(all_references)

    def ngrams(words, n):
        counts = {}
        for i in range(len(words) - n + 1):
            gram = tuple(words[i : i + n])
            counts[gram] = counts.get(gram, 0) + 1
        return counts

    score = 0.0
    for n in range(1, 5):
        df = {}
        for refs in all_references:
            for gram in {g for ref in refs for g in ngrams(ref, n)}:
                df[gram] = df.get(gram, 0) + 1

        def vector(words, n=n, df=df):
            return {g: c * (math.log(n_docs) - math.log(max(1.0, df.get(g, 0.0)))) for g, c in ngrams(words, n).items()}

        def norm(v):
            return math.sqrt(sum(x * x for x in v.values()))

        cand = vector(candidate)
        sims = []
        for ref in references:
            ref_vec = vector(ref)
            dot = sum(min(cand[g], ref_vec[g]) * ref_vec[g] for g in cand if g in ref_vec)
            denominator = norm(cand) * norm(ref_vec)
            value = dot / denominator if denominator else 0.0
            sims.append(value * math.exp(-((len(candidate) - len(ref)) ** 2) / (2 * 6.0**2)))
        score += sum(sims) / len(sims) / 4
    return 10 * score


def test_cider_equals_the_hand_computed_value():
    references = [
        ["A man is singing.", "A man sings a song."],
        ["A dog runs in the park.", "The dog is running."],
        ["A cat is meowing.", "A cat meows loudly."],
    ]
    predictions = ["A man is singing a song.", "a dog is running", "Two birds fly."]
    corpus, per_item = cider_scores(references, predictions)
    tokens = [[ref.lower().rstrip(".").split() for ref in refs] for refs in references]
    expected = [
        cider_by_hand(pred.lower().rstrip(".").split(), refs, tokens) for pred, refs in zip(predictions, tokens)
    ]
    assert per_item == pytest.approx(expected, rel=1e-9)
    assert corpus == pytest.approx(sum(expected) / 3, rel=1e-9)
    assert per_item[2] == 0.0 and per_item[0] > per_item[1] > 0


def test_messy_predictions_keep_every_other_score_in_place():
    references = [["a man is singing"], ["a dog is running"], ["a cat is meowing"], ["a bird flies"]]
    clean = ["a man is singing", "a dog runs", "a cat is meowing", "a bird flies"]
    _, clean_scores = cider_scores(references, clean)
    messy = ["a man is\rsinging", "", "a cat is meowing", "a bird flies"]
    _, messy_scores = cider_scores(references, messy)
    assert messy_scores[0] == pytest.approx(clean_scores[0])
    assert messy_scores[1] == 0.0
    assert messy_scores[2:] == pytest.approx(clean_scores[2:])


def test_caption_results_report_cider_x100_errors_and_ci():
    rows = [
        {
            "key": f"MSVD-Caption-test_{i}",
            "idx": i,
            "dataset": "MSVD-Caption-test",
            "question": None,
            "prompt": None,
            "response": refs,
            "prediction": pred,
        }
        for i, (refs, pred) in enumerate(
            [(["a man is singing"], "a man is singing"), (["a dog runs"], "<error>"), (["a cat"], "")]
        )
    ]
    results = score_benchmark(BENCHMARKS["msvd_caption"], rows, n_resamples=200)
    corpus, _ = cider_scores([r["response"] for r in rows], [r["prediction"] for r in rows])
    assert results["overall"]["cider"] == pytest.approx(100 * corpus)
    assert results["n_generation_errors"] == 1 and results["generation_error_ids"] == ["MSVD-Caption-test_1"]
    assert results["n_empty"] == 1
    low, high = results["cider_ci95"]
    assert low <= results["overall"]["cider"] <= high
