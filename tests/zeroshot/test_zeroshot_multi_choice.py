"""Multi-choice answer extraction and accuracy: released numbers and honest variants, computed by hand."""

import pytest

from lmms_tasks.zeroshot import BENCHMARKS, score_benchmark
from lmms_tasks.zeroshot.multi_choice import extract_choice

# (model output, reference, released reading, parsed?, correct?)
TABLE = [
    ("B", "B", "B", True, True),
    ("(B) tap their feet", "B", "B", True, True),
    ("B.", "B", "B", True, True),
    ("b", "B", None, False, False),  # lower case: failed parse
    ("1", "B", "B", True, True),  # released off-by-one: "1" reads as B
    ("3", "C", "D", True, False),  # "3" reads as D, not C
    ("", "A", None, False, False),  # empty: failed parse
    ("<error>", "A", None, False, False),  # failed generation: "<" is not a letter
    ("The answer is B", "B", "T", True, False),  # first character: T
    ("  (E)", "E", "E", True, True),
    ("()", "A", None, False, False),
    ("A) hit with sticks", "A", "A", True, True),
]


@pytest.mark.parametrize("output,reference,reading,parsed,correct", TABLE)
def test_extraction_follows_the_released_rules(output, reference, reading, parsed, correct):
    letter, _ = extract_choice(output)
    assert letter == reading
    assert (letter is not None) == parsed
    assert (letter == reference) == correct


def records(rows, dataset="Next-QA-val-multi_choice"):
    return [
        {
            "key": f"{dataset}_{i}",
            "idx": i,
            "dataset": dataset,
            "question": "q",
            "prompt": "p",
            "response": ref,
            "prediction": out,
        }
        for i, (out, ref, *_) in enumerate(rows)
    ]


def test_released_accuracy_excludes_failed_parses_and_honest_counts_them_wrong():
    results = score_benchmark(BENCHMARKS["nextqa_mc"], records(TABLE), n_resamples=200)
    # 12 answers, 4 failed parses (b, "", <error>, "()"), 8 parsed of which 6 correct.
    overall = results["overall"]
    assert (overall["n"], overall["n_parsed"], overall["n_correct"], overall["n_failed_parse"]) == (12, 8, 6, 4)
    assert overall["accuracy"] == pytest.approx(100 * 6 / 8)
    assert overall["accuracy_all"] == pytest.approx(100 * 6 / 12)
    assert results["failed_parse_ids"] == [f"Next-QA-val-multi_choice_{i}" for i in (3, 6, 7, 10)]
    assert results["failed_parse_answers"]["Next-QA-val-multi_choice_7"] == "<error>"
    assert results["n_generation_errors"] == 1 and results["n_digit_answers"] == 2
    low, high = results["accuracy_ci95"]
    assert low <= overall["accuracy"] <= high and 0 <= low < high <= 100
    low, high = results["accuracy_all_ci95"]
    assert low <= overall["accuracy_all"] <= high
    assert results["protocol"]["faithful_to"].startswith("bytedance/tarsier evaluation/metrics/evaluate_qa_mc.py")
    assert results["protocol"]["annotation_file_released"] is True


def test_mvbench_overall_is_the_macro_mean_of_sub_task_accuracies():
    rows = (
        records([("A", "A"), ("B", "A"), ("x", "A")], "MVBench/Action Sequence")  # 1/2 parsed right; honest 1/3
        + records([("C", "C")] * 3 + [("D", "C")], "MVBench/Fine-grained Action")  # 3/4
        + records([("?", "A")], "MVBench/Object Shuffle")  # no parsed answer: out of the released mean
    )
    results = score_benchmark(BENCHMARKS["mvbench"], rows, n_resamples=200)
    per = results["per_subtask"]
    assert [numbers["label"] for numbers in per.values()] == ["AS", "FA", "OS"]
    assert per["MVBench/Action Sequence"]["accuracy"] == pytest.approx(50.0)
    assert per["MVBench/Object Shuffle"]["accuracy"] is None and per["MVBench/Object Shuffle"]["accuracy_all"] == 0.0
    assert results["overall"]["accuracy"] == pytest.approx((50.0 + 75.0) / 2)
    assert results["overall"]["accuracy_all"] == pytest.approx((100 / 3 + 75.0 + 0.0) / 3)
    assert results["overall"]["n_subtasks"] == 3 and results["n_failed_parse"] == 2
    assert "NExT-QA" in results["protocol"]["prompt_source"] or "next-qa" in results["protocol"]["prompt_source"]
    assert results["protocol"]["annotation_file_released"] is False


def test_answers_the_model_could_not_give_are_released_errors_with_their_reason():
    from lmms_tasks import failed_generation
    from lmms_tasks.zeroshot.released_format import normalise, to_released_row

    marker = failed_generation.mark("FileNotFoundError: no video")
    record = {"idx": 3, "dataset": "Next-QA-val-multi_choice", "question": "q", "prompt": "p", "response": "A"}
    row = to_released_row({**record, "prediction": marker})
    assert row["text"]["prediction"] == "<error>" and row["generation_error"] == "FileNotFoundError: no video"
    again = normalise(row, "row", need_prediction=True)
    assert again["prediction"] == "<error>" and again["generation_error"] == "FileNotFoundError: no video"
    results = score_benchmark(
        BENCHMARKS["nextqa_mc"],
        [again, normalise(to_released_row({**record, "idx": 4, "prediction": "A"}), "r", need_prediction=True)],
        n_resamples=10,
    )
    assert results["n_generation_errors"] == 1
    assert results["generation_errors"] == {"Next-QA-val-multi_choice_3": "FileNotFoundError: no video"}
    assert results["failed_parse_ids"] == ["Next-QA-val-multi_choice_3"]  # scored as the released "<error>"
    assert results["overall"]["accuracy"] == 100.0 and results["overall"]["accuracy_all"] == 50.0
