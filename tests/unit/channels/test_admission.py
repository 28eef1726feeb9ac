from channels.admission import OpenRefusal, cool_off_left, refuse_open
from channels.errors import CloseCode


def test_cool_off_left_counts_down_to_zero_and_none_is_no_cool_off() -> None:
    assert cool_off_left(None, 100.0) == 0.0
    assert cool_off_left(130.0, 100.0) == 30.0
    assert cool_off_left(130.0, 130.0) == 0.0
    assert cool_off_left(130.0, 500.0) == 0.0


def test_a_cool_off_refuses_with_1008_before_the_open_budget_is_asked() -> None:
    assert refuse_open(2.5, 0.0) == OpenRefusal(2.5, CloseCode.POLICY, "cooling off after a policy close")
    refusal = refuse_open(2.5, 40.0)
    assert refusal is not None and refusal.code is CloseCode.POLICY


def test_an_open_over_the_budget_is_refused_with_4029_and_one_within_it_is_let_in() -> None:
    assert refuse_open(0.0, 40.0) == OpenRefusal(40.0, CloseCode.TOO_MANY_CONNECTIONS,
                                                 "too many connections opened")
    assert refuse_open(0.0, 0.0) is None
