"""salam.stats: McNemar, bootstrap intervals, AUROC and the Youden threshold."""

from __future__ import annotations

import pytest

from salam.errors import SalamError
from salam.stats import auroc, auroc_within_groups, bootstrap_ci, group_prior_auroc, mcnemar, roc_points, wrong_signal, youden_threshold


def test_the_threshold_maximises_wrong_flagged_minus_right_flagged():
    probabilities = [0.10, 0.20, 0.35, 0.30, 0.40, 0.32]
    wrong = [False, False, False, True, True, True]
    s = wrong_signal(probabilities, wrong)
    assert (s["n"], s["wrong"], s["called_wrong"]) == (6, 3, 0)
    chosen = youden_threshold(probabilities, wrong)
    # at 0.30 all 3 wrong attempts are flagged and 1 of 3 right ones (J 2/3); no other threshold does better
    assert chosen["threshold"] == 0.30 and chosen["flags_wrong"] == 1.0
    assert chosen["flags_right"] == pytest.approx(1 / 3) and chosen["youden_j"] == pytest.approx(2 / 3)
    # J ties (0.4: 1 of 2 wrong, no right; 0.2: 2 of 2 wrong, 1 of 2 right): the higher threshold, flagging less
    assert youden_threshold([0.1, 0.3, 0.2, 0.4], [False, False, True, True])["threshold"] == 0.4


def test_held_out_attempts_of_one_kind_cannot_choose_a_threshold():
    with pytest.raises(SalamError, match="all 2 held-out answers are right"):
        youden_threshold([0.1, 0.2], [False, False])
    assert wrong_signal([0.1, 0.2], [True, True])["auroc"] is None


def test_mcnemar_and_bootstrap():
    assert mcnemar([True] * 10, [True] * 10)["p_value"] == 1.0
    result = mcnemar([False] * 10, [True] * 10)
    assert (result["b"], result["c"]) == (0, 10) and result["p_value"] == pytest.approx(2 / 1024)
    lo, hi = bootstrap_ci([True] * 50 + [False] * 50)
    assert 0.35 < lo < 0.5 < hi < 0.65


def test_bootstrap_is_fast_and_exact_for_large_samples():
    lo, hi = bootstrap_ci([True] * 30_000 + [False] * 70_000)
    assert 0.295 < lo < 0.3 < hi < 0.305


def test_auroc_counts_ties_half_and_matches_hand_values():
    assert auroc([0.9, 0.8, 0.1], [True, True, False]) == 1.0
    assert auroc([0.5, 0.5], [True, False]) == 0.5
    assert auroc([0.1, 0.4, 0.35, 0.8], [False, False, True, True]) == 0.75
    assert auroc([0.1, 0.2], [True, True]) is None
    assert roc_points([0.2, 0.8], [False, True]) == [(0.8, 1.0, 0.0), (0.2, 1.0, 1.0)]


def test_auroc_within_groups_removes_what_the_group_alone_explains():
    # group "u" is always right, group "n" half wrong; inside "n" the score is at chance (one pair each way)
    scores = [0.1, 0.1, 0.9, 0.8, 0.9, 0.8]
    wrong = [False, False, True, False, False, True]
    groups = ["u", "u", "n", "n", "n", "n"]
    assert auroc(scores, wrong) == 0.75                           # looks like a verifier
    assert auroc_within_groups(scores, wrong, groups) == 0.5      # it is not one inside the group
    assert group_prior_auroc(wrong, groups) == 0.75               # but knowing the group gives as much
    assert auroc_within_groups([0.2, 0.9], [False, True], ["a", "b"]) is None  # no group holds both classes
