"""The feedback signal's AUROC and the wrong-step threshold chosen from it."""

from __future__ import annotations

import pytest

from salam.errors import SalamError
from salam.selfcorrect.feedback_signal import choose_threshold, signal


def test_the_threshold_maximises_wrong_flagged_minus_right_flagged():
    probabilities = [0.10, 0.20, 0.35, 0.30, 0.40, 0.32]
    wrong = [False, False, False, True, True, True]
    s = signal(probabilities, wrong)
    assert (s["n"], s["wrong"], s["called_wrong"]) == (6, 3, 0)
    chosen = choose_threshold(probabilities, wrong)
    # at 0.30 all 3 wrong attempts are flagged and 1 of 3 right ones (J 2/3); no other threshold does better
    assert chosen["threshold"] == 0.30 and chosen["flags_wrong"] == 1.0
    assert chosen["flags_right"] == pytest.approx(1 / 3) and chosen["youden_j"] == pytest.approx(2 / 3)
    # J ties (0.4: 1 of 2 wrong, no right; 0.2: 2 of 2 wrong, 1 of 2 right): the higher threshold, flagging less
    assert choose_threshold([0.1, 0.3, 0.2, 0.4], [False, False, True, True])["threshold"] == 0.4


def test_held_out_attempts_of_one_kind_cannot_choose_a_threshold():
    with pytest.raises(SalamError, match="all 2 held-out attempts are right"):
        choose_threshold([0.1, 0.2], [False, False])
    assert signal([0.1, 0.2], [True, True])["auroc"] is None
