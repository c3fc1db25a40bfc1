"""The report math on hand-computed tables."""

import pytest

from lmms_tasks.sbs import stats


def test_rates_weigh_clips_equally_and_count_ties():
    # clip 1: a, a, same -> win 2/3, same 1/3; clip 2: b -> loss 1; clip 3: same, same -> same 1
    labels = {"1": ["a", "a", "same"], "2": ["b"], "3": ["same", "same"]}
    rates = stats.summarize_labels(labels, resamples=0)
    assert rates["n_clips"] == 3 and rates["n_labels"] == 6
    assert rates["win"] == pytest.approx((2 / 3) / 3)
    assert rates["same"] == pytest.approx((1 / 3 + 1) / 3)
    assert rates["loss"] == pytest.approx(1 / 3)
    assert rates["advantage"] == pytest.approx(2 / 9 - 1 / 3)
    assert rates["advantage_ci95"] is None
    assert rates["win"] + rates["same"] + rates["loss"] == pytest.approx(1)


def test_paper_style_table_gives_the_advantage_rate():
    # 300 clips, one label each: 160 wins, 94 ties, 46 losses -> advantage (160 - 46) / 300 = 38.0%
    labels = {str(i): ["a"] for i in range(160)}
    labels.update({str(i): ["same"] for i in range(160, 254)})
    labels.update({str(i): ["b"] for i in range(254, 300)})
    rates = stats.summarize_labels(labels, resamples=2000, seed=0)
    assert rates["advantage"] == pytest.approx(0.38)
    low, high = rates["advantage_ci95"]
    # The bootstrap standard error of a mean of +1/0/-1 values: sqrt(var / n) with var = E[x^2] - E[x]^2.
    se = ((206 / 300 - 0.38**2) / 300) ** 0.5
    assert low == pytest.approx(0.38 - 1.96 * se, abs=0.02) and high == pytest.approx(0.38 + 1.96 * se, abs=0.02)
    assert stats.summarize_labels(labels, resamples=2000, seed=0)["advantage_ci95"] == [low, high]  # seeded


def test_one_sided_study_has_a_degenerate_interval():
    rates = stats.summarize_labels({"1": ["a"], "2": ["a", "a"]}, resamples=100)
    assert (rates["win"], rates["same"], rates["loss"], rates["advantage"]) == (1.0, 0.0, 0.0, 1.0)
    assert rates["advantage_ci95"] == [1.0, 1.0]
    rates = stats.summarize_labels({"1": ["b"]}, resamples=100)
    assert rates["advantage"] == -1.0 and rates["advantage_ci95"] == [-1.0, -1.0]


def test_empty_group_and_bad_labels():
    assert stats.summarize_labels({})["advantage"] is None
    with pytest.raises(ValueError, match="unknown labels"):
        stats.clip_shares(["a", "left"])
    with pytest.raises(ValueError, match="at least one label"):
        stats.clip_shares([])


def test_cohen_kappa_by_hand():
    # 10 items. Rater 1: a a a a b b b same same same; rater 2: a a a b b b same same same a.
    first = ["a"] * 4 + ["b"] * 3 + ["same"] * 3
    second = ["a", "a", "a", "b", "b", "b", "same", "same", "same", "a"]
    # observed agreement: items 0-2 (a), 4-5 (b), 7-8 (same) -> 7 / 10
    # chance: a 4*4, b 3*3, same 3*3 -> (16 + 9 + 9) / 100 = 0.34
    assert stats.cohen_kappa(first, second) == pytest.approx((0.7 - 0.34) / (1 - 0.34))
    assert stats.cohen_kappa(first, first) == pytest.approx(1.0)
    # both raters always say "a": chance agreement 1 -> undefined
    assert stats.cohen_kappa(["a", "a"], ["a", "a"]) is None
    assert stats.cohen_kappa([], []) is None
    with pytest.raises(ValueError, match="paired"):
        stats.cohen_kappa(["a"], [])


def test_fleiss_kappa_by_hand():
    # 4 items x 3 raters. counts (a, same, b): (3,0,0) (0,3,0) (2,1,0) (1,1,1)
    items = [["a", "a", "a"], ["same"] * 3, ["a", "a", "same"], ["a", "same", "b"]]
    # P_i = (sum n^2 - 3) / 6: 1, 1, (4+1-3)/6 = 1/3, 0 -> mean 7/12
    # p: a 6/12, same 5/12, b 1/12 -> P_e = (36 + 25 + 1) / 144 = 62/144
    expected_kappa = (7 / 12 - 62 / 144) / (1 - 62 / 144)
    assert stats.fleiss_kappa(items) == pytest.approx(expected_kappa)
    # two raters per item: Fleiss' kappa is Scott's pi; with equal marginals it equals Cohen's kappa
    pairs = [["a", "a"], ["b", "b"], ["a", "b"], ["b", "a"]]
    assert stats.fleiss_kappa(pairs) == pytest.approx(stats.cohen_kappa(*zip(*pairs)))
    assert stats.fleiss_kappa([["a", "a"], ["a", "a", "a"]]) is None  # one category only
    assert stats.fleiss_kappa([["a"], ["b"]]) is None  # no item with two ratings


def test_fleiss_kappa_with_a_varying_number_of_raters():
    items = [["a", "a"], ["a", "b", "b"]]
    # P_1 = (4 - 2) / 2 = 1; P_2 = (1 + 4 - 3) / 6 = 1/3; mean 2/3. p: a 3/5, b 2/5 -> P_e = 13/25
    assert stats.fleiss_kappa(items) == pytest.approx((2 / 3 - 13 / 25) / (1 - 13 / 25))


def test_agreement_per_annotator_pair():
    labels = {
        "1": {"ann": "a", "bob": "a", "cy": "a"},
        "2": {"ann": "b", "bob": "b"},
        "3": {"ann": "same", "bob": "a", "cy": "same"},
        "4": {"cy": "b"},  # one annotator only: not in the agreement
    }
    result = stats.agreement(labels)
    assert result["n_clips"] == 3
    # annotator pairs: clip 1: 3 of 3 agree, clip 2: 1 of 1, clip 3: 1 of 3 -> 5 / 7
    assert result["percent_agreement"] == pytest.approx(5 / 7)
    assert result["cohen_kappa"]["ann | bob"]["n"] == 3
    assert result["cohen_kappa"]["ann | cy"] == {"n": 2, "kappa": pytest.approx(1.0)}
    assert result["cohen_kappa"]["ann | bob"]["kappa"] == pytest.approx(
        stats.cohen_kappa(["a", "b", "same"], ["a", "b", "a"])
    )
    assert result["fleiss_kappa"] == pytest.approx(
        stats.fleiss_kappa([["a", "a", "a"], ["b", "b"], ["same", "a", "same"]])
    )
    assert stats.agreement({"1": {"ann": "a"}}) is None


def test_majority_and_order_combination():
    assert stats.majority(["a", "a", "same"]) == "a"
    assert stats.majority(["a", "b"]) is None
    assert stats.majority([]) is None
    assert stats.combine_orders("a", "a") == "a"
    assert stats.combine_orders("a", "b") == "same"  # follows the position: no preference
    assert stats.combine_orders("same", "b") == "same"
    assert stats.combine_orders("a", None) is None
