"""Tarsier's zero-shot benchmarks (arXiv 2407.00634, Table 5): the released prompts and scorers, with honest variants.

    from lmms_tasks.zeroshot import BENCHMARKS, score_benchmark, select_rows

    records = select_rows("predictions.jsonl", BENCHMARKS["nextqa_mc"])
    results = score_benchmark(BENCHMARKS["nextqa_mc"], records)
    results["overall"]["accuracy"], results["overall"]["accuracy_all"], results["accuracy_ci95"]

Modules: ``benchmarks`` (names, files, templates, frames, paper numbers), ``released_format`` (reading rows),
``multi_choice`` / ``open_qa`` / ``captioning`` (one scorer per family; ``ptb`` the tokenizer), ``stats``
(bootstrap), ``protocol``, ``scoring`` (dispatch and result files).
"""

from .benchmarks import BENCHMARKS, MVBENCH_SUBTASKS, Benchmark, mvbench_subtask, resolve
from .released_format import FormatError, select_rows
from .scoring import save_results, score_benchmark

__all__ = [
    "BENCHMARKS",
    "MVBENCH_SUBTASKS",
    "Benchmark",
    "FormatError",
    "mvbench_subtask",
    "resolve",
    "save_results",
    "score_benchmark",
    "select_rows",
]
