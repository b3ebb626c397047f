"""rlhelpers.testing: the message layout students read, and robustness to monkeypatching."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rlhelpers.testing import (
    GradingError,
    check,
    check_between,
    check_close,
    check_shape,
    check_type,
)


def _message(function, *args, **kwargs) -> str:
    with pytest.raises(GradingError) as caught:
        function(*args, **kwargs)
    assert isinstance(caught.value, AssertionError)
    return str(caught.value)


def test_check_layout_exactly():
    message = _message(check, False, "answer_q1", expected="B", got="C", hint="reread 2.3")
    assert message == (
        "answer_q1 is not right.\n  expected: B\n  got:      'C'\n  hint: reread 2.3"
    )


def test_check_omits_missing_lines():
    assert _message(check, False, "the loss") == "the loss is not right."
    assert _message(check, 0, "x", hint="h") == "x is not right.\n  hint: h"


def test_check_passes_on_truthy_values():
    check(True, "x")
    check(np.bool_(True), "x")
    check(np.array([True, True]), "x")
    check(torch.tensor(True), "x")
    with pytest.raises(GradingError):
        check(np.array([True, False]), "x")


@pytest.mark.parametrize(
    ("got", "expected"),
    [
        (1.0, 1.0),
        (1, 1.0 + 1e-9),
        ([1.0, 2.0], np.array([1.0, 2.0])),
        (np.arange(6.0).reshape(2, 3), np.arange(6.0).reshape(2, 3)),
        (torch.tensor([0.5, 1.5], requires_grad=True) * 1, [0.5, 1.5]),
        (torch.tensor(2.0, dtype=torch.bfloat16), 2.0),
        ([torch.tensor(1.0), torch.tensor(2.0)], [1.0, 2.0]),
        (np.array([np.nan, 1.0]), np.array([np.nan, 1.0])),
        (np.inf, np.inf),
        (np.float32(0.1), 0.1),
        (np.array([True, False]), [1, 0]),
    ],
)
def test_check_close_passes_on_equal_inputs(got, expected):
    check_close(got, expected, "x")


def test_check_close_mismatch_message():
    message = _message(
        check_close, np.array([1.0, 2.0, 3.0]), [1.0, 2.0, 3.5], "returns", hint="look at G_2"
    )
    assert message.startswith("returns is not right.\n  expected: [1. , 2. , 3.5]\n")
    assert "  got:      [1., 2., 3.]\n" in message
    assert "1 of 3 entries differ" in message
    assert "max abs error 0.5" in message
    assert "at [2]: expected 3.5, got 3.0" in message
    assert message.endswith("\n  hint: look at G_2")


def test_check_close_scalar_mismatch():
    message = _message(check_close, 1.0, 1.5, "the mean")
    assert message.startswith("the mean is not right.\n  expected: 1.5\n  got:      1.0\n")
    assert "abs error 0.5" in message


def test_check_close_big_arrays_are_summarised():
    got = np.zeros((100, 100))
    expected = np.ones((100, 100))
    message = _message(check_close, got, expected, "V")
    assert len(message) < 1200
    assert "10000 of 10000 entries differ" in message
    assert "at [0, 0]: expected 1.0, got 0.0" in message
    assert "... and 9995 more" in message


def test_check_close_shape_mismatch():
    message = _message(check_close, np.zeros(3), np.zeros((3, 1)), "Q", hint="keepdims?")
    assert message == (
        "the shape of Q is not right.\n  expected: (3, 1)\n  got:      (3,)\n  hint: keepdims?"
    )


def test_check_close_reports_nan():
    message = _message(check_close, np.array([1.0, np.nan, np.nan]), [1.0, 2.0, 3.0], "probs")
    assert "contains NaN in 2 of 3 entries, the first at [1]" in message
    assert "hint: NaN usually comes from" in message


def test_check_close_none_and_non_numbers():
    assert "forget to `return`" in _message(check_close, None, 1.0, "f(1)")
    assert "cannot be read as numbers" in _message(check_close, "abc", 1.0, "f(1)")


def test_check_close_tensor_on_any_device_with_grad():
    got = torch.tensor([1.0, 2.0], requires_grad=True)
    message = _message(check_close, got, [1.0, 3.0], "loss")
    assert "at [1]: expected 3.0, got 2.0" in message


def test_check_close_infinities():
    with pytest.raises(GradingError):
        check_close(np.inf, -np.inf, "x")
    with pytest.raises(GradingError):
        check_close(np.inf, 1e300, "x")


def test_helpers_survive_monkeypatched_numpy(monkeypatch):
    monkeypatch.setattr(np, "allclose", lambda *args, **kwargs: True)
    monkeypatch.setattr(np, "isclose", lambda *args, **kwargs: True)
    monkeypatch.setattr(np, "abs", lambda x: 0 * x)
    monkeypatch.setattr(np, "asarray", lambda *args, **kwargs: np.zeros(1))
    with pytest.raises(GradingError):
        check_close([1.0, 2.0], [1.0, 3.0], "x")
    check_close([1.0, 2.0], [1.0, 2.0], "x")
    with pytest.raises(GradingError):
        check_between(2.0, 0.0, 1.0, "p")


def test_check_shape():
    check_shape(np.zeros((3, 2)), (3, 2), "logits")
    check_shape(torch.zeros(3, 2), (3, None), "logits")
    check_shape([[1, 2], [3, 4]], (2, 2), "a list")
    message = _message(check_shape, np.zeros((3, 2)), (3, None, 1), "logits", hint="unsqueeze")
    assert message == (
        "the shape of logits is not right.\n  expected: (3, any, 1)\n  got:      (3, 2)\n"
        "  hint: unsqueeze"
    )
    assert "None" in _message(check_shape, None, (3,), "logits")


def test_check_between():
    check_between(0.5, 0.0, 1.0, "p")
    check_between(np.array([0.0, 1.0]), 0.0, 1.0, "p")
    check_between(torch.tensor(1.4), 1.35, 1.45, "average reward")
    message = _message(check_between, 1.2, 0, 1, "p", hint="a probability")
    assert message == (
        "p is not right.\n  expected: a value between 0 and 1\n  got:      1.2\n"
        "  hint: a probability"
    )
    message = _message(check_between, np.array([0.5, 1.2]), 0, 1, "probs")
    assert "every entry between 0 and 1" in message and "at [1]: 1.2" in message
    _message(check_between, float("nan"), 0, 1, "p")
    _message(check_between, None, 0, 1, "p")


def test_check_type():
    check_type(3, int, "action")
    check_type(np.int64(3), (int, np.integer), "action")
    message = _message(check_type, 3.0, (int, np.integer), "action", hint="use int(...)")
    assert message == (
        "the type of action is not right.\n  expected: int or numpy.integer\n"
        "  got:      float (3.0)\n  hint: use int(...)"
    )


def test_check_returns_passes_a_tuple_through():
    from rlhelpers.testing import check_returns

    assert check_returns([1, 2], ("V", "policy"), "f()") == (1, 2)


def test_check_returns_names_the_expected_values():
    from rlhelpers.testing import GradingError, check_returns

    with pytest.raises(GradingError) as failure:
        check_returns(None, ("V", "policy"), "value_iteration(P, R, 0.9)")
    message = str(failure.value)
    assert "what value_iteration(P, R, 0.9) returns is not right." in message
    assert "a tuple of 2 values (V, policy)" in message
    assert "return V, policy" in message


def test_a_failed_check_in_a_kernel_shows_the_test_line_not_the_helpers():
    """In a notebook (and nbgrader's kernels) the error output names the cell's line only."""
    import re

    import nbclient
    import nbformat

    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell(
            "from rlhelpers.testing import check_close\n"
            "check_close(1.0, 2.0, 'the answer', hint='add one')"
        )
    ]
    nbclient.NotebookClient(notebook, kernel_name="python3", allow_errors=True).execute()
    (error,) = [o for o in notebook.cells[0].outputs if o.output_type == "error"]
    assert error.ename == "GradingError" and "the answer is not right" in error.evalue
    text = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(error.traceback))
    assert "check_close(1.0, 2.0" in text, text
    assert "testing.py" not in text and "_fail" not in text, text


# --------------------------------------------------------------------------- partial credit


def test_partial_credit_counts_the_parts_that_pass(capsys):
    from rlhelpers.testing import PartialCredit, check

    credit = PartialCredit(points=3)
    with credit.part("first"):
        check(True, "first")
    with credit.part("second"):
        check(False, "the second thing", expected=1, got=2)
    with credit.part("third"):
        pass
    assert credit.score() == 2.0
    out = capsys.readouterr().out
    assert "the second thing is not right" in out and "not right: second" in out


def test_partial_credit_without_parts_leaves_the_verdict_to_the_checks():
    from rlhelpers.testing import PartialCredit

    assert PartialCredit(points=2).score() is None


def test_a_crash_in_a_part_fails_the_cell():
    from rlhelpers.testing import PartialCredit

    credit = PartialCredit(points=2)
    with pytest.raises(ZeroDivisionError), credit.part("divides"):
        _ = 1 / 0


def test_quiz_scores_each_question_and_explains_right_answers_only(capsys):
    from rlhelpers.testing import Quiz

    quiz = Quiz(points=2)
    quiz.answered("q1", "B", choices="abcd")
    assert quiz.question("q1", "B", "b", explanation="because of B.")
    assert not quiz.question("q2", 0.5, 0.91, explanation="0.91 it is.", tol=0.005)
    assert quiz.score() == 1.0
    out = capsys.readouterr().out
    assert "q1: right. because of B." in out
    assert "q2: not right." in out and "0.91" not in out, "a wrong answer must not be given away"


@pytest.mark.parametrize(
    ("value", "kwargs", "words"),
    [
        (None, {"choices": "abcd"}, "replace None"),
        ("e", {"choices": "abcd"}, "one letter of"),
        ("ab", {"choices": "abcd"}, "one letter of"),
        ("7", {"number": True}, "a number"),
        (True, {"number": True}, "a number"),
    ],
)
def test_quiz_format_errors_say_what_form_is_expected(value, kwargs, words):
    from rlhelpers.testing import GradingError, Quiz

    with pytest.raises(GradingError, match=words):
        Quiz(points=1).answered("q1", value, **kwargs)


def test_nbgrader_gives_the_partial_score_of_a_cell():
    """nbgrader reads the number a grade cell ends with as its score."""
    import nbclient
    import nbformat
    from nbgrader.utils import determine_grade

    cell = nbformat.v4.new_code_cell(
        "from rlhelpers.testing import Quiz\n"
        "_quiz = Quiz(points=3)\n"
        "_quiz.question('q1', 'a', 'a', explanation='yes')\n"
        "_quiz.question('q2', 'c', 'b', explanation='no')\n"
        "_quiz.score()"
    )
    cell.metadata["nbgrader"] = {"grade": True, "grade_id": "q", "points": 3, "solution": False}
    notebook = nbformat.v4.new_notebook(cells=[cell])
    nbclient.NotebookClient(notebook, kernel_name="python3").execute()
    assert determine_grade(notebook.cells[0]) == (1.5, 3.0)


# --------------------------------------------------------------------------- objects that pretend


class _Pretender:
    """What a cheating answer returns: it says it equals, and converts to, anything asked."""

    def __init__(self):
        self.calls = []

    def _expected_from_the_caller(self):
        import inspect

        self.calls.append("asked")
        for frame in inspect.stack():
            if "expected" in frame.frame.f_locals:
                return frame.frame.f_locals["expected"]
        return 0.0

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self._expected_from_the_caller(), dtype=dtype)

    def __float__(self):
        return float(self._expected_from_the_caller())

    def __eq__(self, other):
        self.calls.append("asked")
        return True

    __hash__ = None

    def __bool__(self):
        self.calls.append("asked")
        return True

    def __len__(self):
        return 1

    def __repr__(self):
        self.calls.append("asked")
        return "1.75"


class _PretendingList(list):
    def __array__(self, dtype=None, copy=None):
        return np.asarray([1.75])


class _ArraySubclass(np.ndarray):
    """A subclass of ndarray (as some libraries return): read as the array it holds."""


class _PretendingFloat:
    __class__ = float  # isinstance(x, float) believes this


@pytest.mark.parametrize(
    "check_call",
    [
        lambda got: check_close(got, 1.75, "discounted_sum([1, 1, 1], 0.5)"),
        lambda got: check_close(got, [1.75], "returns"),
        lambda got: check_between(got, 1.7, 1.8, "the average reward"),
        lambda got: check_shape(got, (1,), "returns"),
        lambda got: check(got, "the episode ended"),
    ],
)
def test_an_object_that_pretends_is_refused_without_being_asked(check_call):
    cheat = _Pretender()
    with pytest.raises(GradingError) as caught:
        check_call(cheat)
    assert cheat.calls == [], "a method of the student's object ran inside the check"
    message = str(caught.value)
    assert "an object of type" in message and "_Pretender" in message, message


def test_check_close_names_the_plain_types_it_accepts():
    message = _message(check_close, _Pretender(), 1.75, "discounted_sum([1, 1, 1], 0.5)")
    assert "which is not a Python number or bool, a list or tuple of them" in message
    assert "torch tensor" in message


def test_containers_are_read_with_their_base_methods():
    with pytest.raises(GradingError):
        check_close(_PretendingList([0.0]), [1.75], "returns")  # its __array__ is never asked
    check_close(_PretendingList([1.75]), [1.75], "returns")  # its items are what counts
    with pytest.raises(GradingError):
        check_close([1.0, _Pretender()], [1.0, 1.75], "returns")


def test_check_type_believes_the_type_not_the_class_attribute():
    assert isinstance(_PretendingFloat(), float)
    with pytest.raises(GradingError, match="_PretendingFloat"):
        check_type(_PretendingFloat(), float, "the mean")


def test_quiz_and_check_returns_ignore_what_an_object_says():
    from rlhelpers.testing import Quiz, check_returns

    quiz = Quiz(points=1)
    assert not quiz.question("q1", _Pretender(), 0.91, explanation="x", tol=0.01)
    with pytest.raises(GradingError, match="a number"):
        quiz.answered("q1", _Pretender(), number=True)

    class Text(str):
        def strip(self):
            return "b"

    assert not quiz.question("q2", Text("a"), "b", explanation="x")
    with pytest.raises(GradingError):
        check_returns(_Pretender(), ("V",), "f()")


@pytest.mark.parametrize(
    ("got", "expected"),
    [
        (True, 1),
        (np.bool_(True), 1),
        (np.int32(3), 3),
        (np.float16(0.5), 0.5),
        ((1, 2.0), [1, 2]),
        ([np.float32(1.0), 2], [1, 2]),
        ([[1, 2], (3, 4)], [[1, 2], [3, 4]]),
        ([], np.zeros(0)),
        (np.arange(1, 4, dtype=np.uint8), [1, 2, 3]),
        (range(1, 4), [1, 2, 3]),
        (torch.Size([2, 3]), [2, 3]),
        (np.array([[1.0, 2.0]]).view(_ArraySubclass), [[1.0, 2.0]]),
        (torch.tensor(1.5), 1.5),
        (torch.tensor(True), 1),
        (torch.nn.Parameter(torch.ones(2)), [1.0, 1.0]),
        ((torch.tensor(1.0), np.float64(2.0)), [1.0, 2.0]),
    ],
)
def test_every_plain_value_a_correct_answer_returns_is_accepted(got, expected):
    check_close(got, expected, "x")
    check_shape(got, np.shape(np.asarray(expected)), "x")
    check_between(got, -10, 10, "x")
    check(got if not isinstance(got, list | tuple) else True, "x")


def test_a_student_array_is_compared_as_a_copy():
    got = np.array([1.0, 2.0])
    check_close(got, [1.0, 2.0], "x")
    assert got.flags.writeable and got.tolist() == [1.0, 2.0]


# --------------------------------------------------------------------------- the pass line


def test_checks_passed_counts_the_checks_that_passed(capsys):
    from rlhelpers.testing import check, check_close, checks_passed

    checks_passed("warm-up")  # starts the count afresh
    capsys.readouterr()
    check(True, "a true condition")
    check_close([1.0, 2.0], [1.0, 2.0], "two numbers")
    with pytest.raises(AssertionError):
        check(False, "a false condition")
    checks_passed("my_function")
    assert capsys.readouterr().out == (
        "my_function: 2 visible checks passed; hidden tests decide the grade\n"
    )
    checks_passed("nothing")
    assert "nothing: 0 visible checks passed" in capsys.readouterr().out


def test_a_quiz_answer_checked_for_its_form_counts_once(capsys):
    from rlhelpers.testing import Quiz, checks_passed

    checks_passed("warm-up")
    capsys.readouterr()
    Quiz(points=1).answered("answer_q1", "b", choices="abc")
    checks_passed("quiz")
    assert capsys.readouterr().out.startswith("quiz: 1 visible check passed;")
