"""Assertion helpers for nbgrader test cells.

Each helper raises :class:`GradingError` (an ``AssertionError``) with a message
a student can act on::

    q_values is not right.
      expected: [0.5, 1.0]
      got:      [0.5, 2.0]
                1 of 2 entries differ (atol=1e-06, rtol=1e-05); max abs error 1.0
                at [1]: expected 1.0, got 2.0
      hint: did you divide by the number of pulls?

Lines whose value is ``None`` are left out. Values are compared with numpy
functions captured when this module is imported, so a student who later
replaces ``np.allclose`` (or ``np.isclose``) cannot switch the checks off.

Only plain values are read: Python numbers and bools, lists and tuples of them,
NumPy arrays and scalars of a numeric or bool dtype, and torch tensors (any
device, with or without gradient; torch itself is never imported by this
module). They are copied before they are compared, so no method of an object
the student made (``__array__``, ``__float__``, ``__eq__``, ``__bool__``) runs
inside a check; anything else fails with a message naming the types expected.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

__all__ = [
    "GradingError",
    "PartialCredit",
    "Quiz",
    "check",
    "check_between",
    "check_close",
    "check_returns",
    "check_shape",
    "check_type",
    "checks_passed",
]

# Captured at import time: later monkeypatching of numpy's namespace by a
# student does not change what these names refer to.
_asarray = np.asarray
_abs = np.abs
_isnan = np.isnan
_isinf = np.isinf
_logical_and = np.logical_and
_logical_or = np.logical_or
_logical_not = np.logical_not
_less_equal = np.less_equal
_nonzero = np.nonzero
_where = np.where
_errstate = np.errstate
_count_nonzero = np.count_nonzero
_array2string = np.array2string
_ndarray = np.ndarray
_generic = np.generic
_float64 = np.float64

_MAX_SHOWN_ENTRIES = 5
"""How many differing entries a mismatch message lists."""

_INDENT = " " * 12
"""Continuation indent: lines up with the values after 'expected: '."""


class GradingError(AssertionError):
    """A check in a test cell failed; the message says what, expected, got and a hint."""

    def _render_traceback_(self) -> list[str]:
        """IPython (a notebook, Validate, nbgrader's kernels) shows the test line that
        failed and the message: nothing of this module's internals. The error is still
        reported as an error."""
        return _render_in_ipython(self)


# --------------------------------------------------------------------------- formatting


def _format_message(what: str, expected: str | None, got: str | None, hint: str | None) -> str:
    """Build the student-facing message in the fixed four-line layout."""
    lines = [f"{what} is not right."]
    if expected is not None:
        lines.append("  expected: " + expected.replace("\n", "\n" + _INDENT))
    if got is not None:
        lines.append("  got:      " + got.replace("\n", "\n" + _INDENT))
    if hint is not None:
        lines.append(f"  hint: {hint}")
    return "\n".join(lines)


def _fail(what: str, *, expected: str | None, got: str | None, hint: str | None) -> None:
    __tracebackhide__ = True
    raise GradingError(_format_message(what, expected, got, hint)) from None


def _is_tensor(value: Any) -> bool:
    """True for a torch tensor or parameter (no subclass), without importing torch."""
    torch = sys.modules.get("torch")
    return torch is not None and type(value) in (torch.Tensor, torch.nn.Parameter)


def _tensor_to_numpy(value: Any) -> np.ndarray:
    """Detach a tensor, move it to the CPU and return a numpy copy (bfloat16 -> float32).

    Only the C methods of ``torch._C.TensorBase`` run (an immutable type, unlike
    ``torch.Tensor``), with torch function modes and dispatch modes switched off:
    a mode the student installed never sees the value being read.
    """
    torch = sys.modules["torch"]
    base = torch._C.TensorBase
    with torch._C.DisableTorchFunction(), torch._C._DisableTorchDispatch():
        value = base.cpu(base.detach(value))
        if base.is_complex(value):
            return base.numpy(base.resolve_conj(value)).copy()
        if base.is_floating_point(value) and base.element_size(value) < 4:
            value = base.float(value)  # numpy has no bfloat16
        return base.numpy(value).copy()


def _show_array(array: np.ndarray) -> str:
    """A compact text form of an array: large arrays are summarised with '...'."""
    if array.ndim == 0:
        return str(array.item())
    return _array2string(
        array, precision=6, threshold=24, edgeitems=3, separator=", ", max_line_width=88
    )


def _show(value: Any) -> str:
    """Text for a value in a message: arrays and tensors compactly, plain values with repr.

    An object of any other type is named by its type: its own ``__repr__`` never runs.
    """
    kind = type(value)
    if _is_tensor(value):
        return _show_array(_tensor_to_numpy(value))
    if kind is _ndarray and value.dtype.kind != "O":
        return _show_array(value)
    if issubclass(kind, _generic) and kind.__module__ == "numpy":
        return str(value)
    if not _is_plain_data(value):
        return f"an object of type {_type_name(kind)}"
    text = repr(value)
    if len(text) > 300:
        text = text[:300] + " ..."
    return text


def _show_expected(value: Any) -> str | None:
    """Expected values: a string is the author's description and is shown as is."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return _show(value)


# --------------------------------------------------------------------------- conversion


PLAIN_TYPES = (
    "a Python number or bool, a list or tuple of them, "
    "a NumPy array or scalar of numbers, or a torch tensor"
)
"""What the checks accept, in the words a message uses."""

_BUILTIN_SCALARS = (bool, int, float, complex)
_TRUSTED = (*_BUILTIN_SCALARS, str, bytes, type(None), list, tuple, dict, set, frozenset, range)


def _is_trusted(value: Any) -> bool:
    """A value of a builtin or NumPy type (no method of it can be the student's)."""
    kind = type(value)
    return (
        kind in _TRUSTED
        or kind is _ndarray
        or (issubclass(kind, _generic) and kind.__module__ == "numpy")
    )


def _is_plain_data(value: Any, depth: int = 3) -> bool:
    """A trusted value whose items (a few levels down) are trusted too: safe to repr."""
    if not _is_trusted(value) or (type(value) is _ndarray and value.dtype.kind == "O"):
        return False
    if type(value) in (list, tuple, set, frozenset):
        items = list(value)
    elif type(value) is dict:
        items = [*value.keys(), *value.values()]
    else:
        return True
    if depth == 0:
        return not items
    return all(_is_plain_data(item, depth - 1) for item in items)


def _items(value: Any) -> list | None:
    """The items of a list or tuple (a subclass too) read with the base class's own methods."""
    kind = type(value)
    if issubclass(kind, tuple):
        return list(tuple.__iter__(value))
    if issubclass(kind, list):
        return list(list.__iter__(value))
    return None


def _plain_array(value: Any) -> np.ndarray:
    """A numpy copy of a plain value (see the module doc); TypeError for anything else.

    The value's type decides, never what the object says of itself: an object with
    its own ``__array__``, ``__float__`` or ``__len__`` is refused, not asked.
    """
    kind = type(value)
    if kind in _BUILTIN_SCALARS:
        return _asarray(value)
    if kind is range:
        return _asarray(list(value))
    if kind is _ndarray or (issubclass(kind, _generic) and kind.__module__ == "numpy"):
        # ndarray.copy of the base class: a subclass's methods never run
        array = _ndarray.copy(_asarray(value)) if kind is _ndarray else _asarray(value).copy()
    elif _is_tensor(value):
        array = _tensor_to_numpy(value)
    elif issubclass(kind, _ndarray):
        array = _ndarray.copy(_ndarray.view(value, _ndarray))
    else:
        items = _items(value)
        if items is None:
            raise TypeError("cannot be read as numbers" if kind is str else f"is not {PLAIN_TYPES}")
        if not items:
            return _asarray([], dtype=_float64)
        if not all(type(item) in _BUILTIN_SCALARS for item in items):
            items = [_plain_array(item) for item in items]
        array = _asarray(items)
    if array.dtype.kind not in "biufc":
        raise TypeError(f"cannot be read as numbers (dtype {array.dtype})")
    return array


def _to_numpy(value: Any) -> np.ndarray:
    """A numpy copy of a plain value (see the module doc); the author's values alike.

    Raises:
        TypeError: the value is of another type, or cannot be read as numbers.
        ValueError: a ragged list.
    """
    return _plain_array(value)


def _as_float(array: np.ndarray) -> np.ndarray:
    """float64 (complex128 for complex input), so int differences cannot overflow."""
    return array.astype(np.complex128 if array.dtype.kind == "c" else _float64)


def _type_name(kind: type) -> str:
    """``int`` for builtins, ``numpy.integer`` / ``torch.Tensor`` for the rest."""
    module = kind.__module__
    if module == "builtins":
        return kind.__qualname__
    return f"{module.split('.')[0]}.{kind.__qualname__}"


def _shape_text(shape: Sequence[Any]) -> str:
    return str(tuple(shape))


def _index_text(index: tuple[int, ...]) -> str:
    return "[" + ", ".join(str(int(i)) for i in index) + "]"


def _mismatch_details(
    got: np.ndarray, expected: np.ndarray, bad: np.ndarray, atol: float, rtol: float
) -> str:
    """Describe where got and expected differ: count, max abs error, first few entries."""
    n_bad = int(_count_nonzero(bad))
    with _errstate(invalid="ignore", over="ignore"):
        errors = _abs(_as_float(got) - _as_float(expected))
    finite_errors = errors[bad & ~_isnan(errors)]
    max_error = float(finite_errors.max()) if finite_errors.size else float("nan")
    tolerance = f"(atol={atol:g}, rtol={rtol:g})"
    if got.ndim == 0:
        return f"abs error {max_error:.6g} is above the tolerance {tolerance}"
    lines = [f"{n_bad} of {bad.size} entries differ {tolerance}; max abs error {max_error:.6g}"]
    positions = list(zip(*_nonzero(bad), strict=True))
    for index in positions[:_MAX_SHOWN_ENTRIES]:
        lines.append(
            f"at {_index_text(index)}: expected {_show(expected[index])}, got {_show(got[index])}"
        )
    if n_bad > _MAX_SHOWN_ENTRIES:
        lines.append(f"... and {n_bad - _MAX_SHOWN_ENTRIES} more")
    return "\n".join(lines)


# --------------------------------------------------------------------------- checks


class _PassedChecks:
    """The checks that passed in the running cell (IPython's execution count tells cells apart;
    outside IPython, since the last :func:`checks_passed`)."""

    def __init__(self) -> None:
        self.cell: int | None = None
        self.count = 0

    def start_if_new_cell(self) -> None:
        cell = _execution_count()
        if cell != self.cell:
            self.cell, self.count = cell, 0


_passed = _PassedChecks()


def _execution_count() -> int | None:
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return getattr(shell, "execution_count", None)


def _counted(function: Callable) -> Callable:
    """Count each call of a check that returns (passes) in the running cell."""

    @functools.wraps(function)
    def counted(*args, **kwargs):
        __tracebackhide__ = True
        _passed.start_if_new_cell()
        result = function(*args, **kwargs)  # no check calls another: each counts once
        _passed.count += 1
        return result

    return counted


def checks_passed(what: str) -> None:
    """Print the one line a grade cell ends its visible checks with (never a score).

    ``checks_passed("ppo_clip_loss")`` prints ``ppo_clip_loss: 3 visible checks
    passed; hidden tests decide the grade``, counting the checks of this module
    that passed in the running cell, so a student sees that the cell ran to its end.
    """
    _passed.start_if_new_cell()
    plural = "" if _passed.count == 1 else "s"
    print(f"{what}: {_passed.count} visible check{plural} passed; hidden tests decide the grade")
    _passed.count = 0


@_counted
def check(
    condition: Any,
    what: str,
    *,
    expected: Any = None,
    got: Any = None,
    hint: str | None = None,
) -> None:
    """Fail with a readable message unless ``condition`` is true.

    Args:
        condition: the property to check; a numpy array or tensor counts as true
            when all its entries are true.
        what: what was checked, e.g. ``"the greedy action for Q = [1, 3, 2]"``.
        expected: shown after ``expected:``; a string is shown as written (so it
            can describe the expectation, e.g. ``"a probability (in [0, 1])"``).
        got: shown after ``got:``; strings are shown with quotes.
        hint: one line that helps the student fix the mistake.

    Raises:
        GradingError: the condition is false.
    """
    __tracebackhide__ = True
    if not _is_trusted(condition) or type(condition) is _ndarray:
        try:
            condition = bool(_to_numpy(condition).all())
        except (TypeError, ValueError):
            _fail(
                what,
                expected="a test condition that is a bool",
                got=_show(condition),
                hint=hint,
            )
    if not condition:
        _fail(
            what,
            expected=_show_expected(expected),
            got=None if got is None else _show(got),
            hint=hint,
        )


@_counted
def check_close(
    got: Any,
    expected: Any,
    what: str,
    *,
    atol: float = 1e-6,
    rtol: float = 1e-5,
    hint: str | None = None,
) -> None:
    """Check ``|got - expected| <= atol + rtol * |expected|`` entry by entry.

    Args:
        got: the student's value: python scalar, list, numpy array or torch tensor
            (any device; detached and moved to the CPU).
        expected: the reference value, same kinds; must have the same shape as got.
        what: what was checked, e.g. ``"incremental_mean([1, 2, 3])"``.
        atol: absolute tolerance.
        rtol: relative tolerance.
        hint: one line that helps the student fix the mistake.

    Raises:
        GradingError: wrong type, shape mismatch, NaN where a number was expected,
            or entries that differ beyond the tolerance.
    """
    __tracebackhide__ = True
    if got is None:
        _fail(
            what,
            expected=_show_expected(expected),
            got="None",
            hint=hint if hint is not None else "did your function forget to `return` its result?",
        )
    try:
        got_array = _to_numpy(got)
    except (TypeError, ValueError) as error:
        _fail(
            what,
            expected=_show_expected(expected),
            got=f"{_show(got)} of type {_type_name(type(got))}, which {error}",
            hint=hint if hint is not None else f"return {PLAIN_TYPES}",
        )
    expected_array = _to_numpy(expected)
    if got_array.shape != expected_array.shape:
        _fail(
            f"the shape of {what}",
            expected=_shape_text(expected_array.shape),
            got=_shape_text(got_array.shape),
            hint=hint,
        )
    got_nan = _isnan(got_array)
    expected_nan = _isnan(expected_array)
    with _errstate(invalid="ignore", over="ignore"):
        difference = _abs(_as_float(got_array) - _as_float(expected_array))
        close = _less_equal(difference, atol + rtol * _abs(_as_float(expected_array)))
    # An infinity is close only to the same infinity (the tolerance above would be inf).
    any_inf = _logical_or(_isinf(got_array), _isinf(expected_array))
    close = _where(any_inf, got_array == expected_array, close)
    close = _logical_or(close, _logical_and(got_nan, expected_nan))
    bad = _logical_not(close)
    if not bad.any():
        return
    unexpected_nan = _logical_and(got_nan, _logical_not(expected_nan))
    got_text = _show(got_array)
    if unexpected_nan.any():
        if got_array.ndim:
            n_nan = int(_count_nonzero(unexpected_nan))
            first = next(zip(*_nonzero(unexpected_nan), strict=True))
            got_text += (
                f"\ncontains NaN in {n_nan} of {got_array.size} entries, "
                f"the first at {_index_text(first)}"
            )
        if hint is None:
            hint = "NaN usually comes from 0/0, log(0), or an overflow in exp()"
    else:
        got_text += "\n" + _mismatch_details(got_array, expected_array, bad, atol, rtol)
    _fail(what, expected=_show(expected_array), got=got_text, hint=hint)


@_counted
def check_shape(
    got: Any, shape: tuple[int | None, ...], what: str, hint: str | None = None
) -> None:
    """Check the shape of an array, tensor or nested list.

    Args:
        got: numpy array, torch tensor, or anything ``np.asarray`` accepts.
        shape: the expected shape; ``None`` in a position accepts any size there.
        what: the name of the checked value, e.g. ``"logits"``.
        hint: one line that helps the student fix the mistake.

    Raises:
        GradingError: got is None or has another shape.
    """
    __tracebackhide__ = True
    shape = tuple(shape)
    expected_text = _shape_text("any" if s is None else s for s in shape).replace("'", "")
    if got is None:
        _fail(
            f"the shape of {what}",
            expected=expected_text,
            got="None (no array)",
            hint=hint if hint is not None else "did your function forget to `return` its result?",
        )
    try:
        got_shape = _to_numpy(got).shape
    except ValueError:  # a ragged nested list
        _fail(f"the shape of {what}", expected=expected_text, got="a ragged list", hint=hint)
    except TypeError as error:
        _fail(
            f"the shape of {what}",
            expected=f"{expected_text}: {PLAIN_TYPES}",
            got=f"{_show(got)}, which {error}",
            hint=hint,
        )
    matches = len(got_shape) == len(shape) and all(
        want is None or want == have for want, have in zip(shape, got_shape, strict=True)
    )
    if not matches:
        _fail(f"the shape of {what}", expected=expected_text, got=_shape_text(got_shape), hint=hint)


@_counted
def check_between(value: Any, low: float, high: float, what: str, hint: str | None = None) -> None:
    """Check that a number (or every entry of an array) lies in ``[low, high]``.

    Args:
        value: python number, numpy array or torch tensor.
        low: smallest allowed value (inclusive).
        high: largest allowed value (inclusive).
        what: what was checked, e.g. ``"the average reward at step 1000"``.
        hint: one line that helps the student fix the mistake.

    Raises:
        GradingError: the value is missing, not numeric, NaN, or outside the range.
    """
    __tracebackhide__ = True
    expected = f"a value between {low:g} and {high:g}"
    try:
        array = _to_numpy(value)
    except (TypeError, ValueError):
        _fail(what, expected=expected, got=_show(value), hint=hint)
    if array.ndim:
        expected = f"every entry between {low:g} and {high:g}"
    with _errstate(invalid="ignore"):
        inside = _logical_and(_less_equal(low, array), _less_equal(array, high))
    if inside.all():
        return
    got_text = _show(array)
    if array.ndim:
        first = next(zip(*_nonzero(_logical_not(inside)), strict=True))
        got_text += f"\nat {_index_text(first)}: {_show(array[first])}"
    _fail(what, expected=expected, got=got_text, hint=hint)


@_counted
def check_type(
    got: Any, types: type | tuple[type, ...], what: str, hint: str | None = None
) -> None:
    """Check ``isinstance(got, types)``.

    Args:
        got: the student's value.
        types: a type or a tuple of types.
        what: what was checked, e.g. ``"the return value of policy(state)"``.
        hint: one line that helps the student fix the mistake.

    Raises:
        GradingError: got is not an instance of any of the types.
    """
    __tracebackhide__ = True
    # the object's type, not the class it claims (isinstance would believe __class__)
    if issubclass(type(got), types):
        return
    names = [_type_name(t) for t in (types if isinstance(types, tuple) else (types,))]
    _fail(
        f"the type of {what}",
        expected=" or ".join(names),
        got=f"{_type_name(type(got))} ({_show(got)})",
        hint=hint,
    )


@_counted
def check_returns(got: Any, names: tuple[str, ...], what: str) -> tuple:
    """Check that a function returned a tuple of ``len(names)`` values, and return it.

    Use before unpacking, so that a student whose function returns one value
    or None reads which values were expected instead of a TypeError.

    Args:
        got: what the student's function returned.
        names: the names of the values, in order, e.g. ``("V", "policy")``.
        what: the call that returned it, e.g. ``"value_iteration(P, R, 0.9)"``.

    Returns:
        ``got`` as a tuple.

    Raises:
        GradingError: got is not a tuple or list of that length.
    """
    __tracebackhide__ = True
    items = _items(got)
    if items is not None and len(items) == len(names):
        return tuple(items)
    _fail(
        f"what {what} returns",
        expected=f"a tuple of {len(names)} values ({', '.join(names)})",
        got=f"{_type_name(type(got))} ({_show(got)})",
        hint=f"end the function with `return {', '.join(names)}`",
    )


# --------------------------------------------------------------------------- partial credit


class PartialCredit:
    """Scores a grade cell part by part: nbgrader gives a cell whose result is a number
    that many points (and 0 to a cell that raises).

    Each part runs its checks in a ``with credit.part("name"):`` block; a failed check
    is printed (on stdout) and costs that part's share of the points, the other parts
    still count. The cell ends with ``credit.score()`` as its last line::

        _credit = PartialCredit(points=3)
        with _credit.part("the return of a 3-step episode"):
            check_close(...)
        with _credit.part("the done mask"):
            check_close(...)
        _credit.score()

    Parts inside the hidden tests are scored at grading time only; in the student's
    copy (no hidden parts) ``score()`` returns None when no part was checked, so the
    visible checks decide alone.
    """

    def __init__(self, points: float):
        self.points = float(points)
        self.results: dict[str, bool] = {}

    def part(self, name: str) -> _Part:
        if name in self.results:
            raise ValueError(f"part {name!r} is scored twice")
        return _Part(self, name)

    def record(self, name: str, passed: bool) -> None:
        self.results[name] = passed

    def score(self) -> float | None:
        """points x the fraction of parts that passed (None if no part was checked)."""
        if not self.results:
            return None
        passed = sum(self.results.values())
        failed = [name for name, ok in self.results.items() if not ok]
        if failed:
            print(f"{passed} of {len(self.results)} parts right; not right: {', '.join(failed)}")
        return round(self.points * passed / len(self.results), 6)


def _text(value: Any) -> str | None:
    """A quiz answer as stripped lower-case text (str's own methods), None if not a string."""
    return str.lower(str.strip(value)) if issubclass(type(value), str) else None


def _number(value: Any) -> float | None:
    """A quiz answer as a float, None unless it is a plain real number (not a bool)."""
    if type(value) is bool or not _is_trusted(value):
        return None
    try:
        array = _plain_array(value)
    except (TypeError, ValueError):
        return None
    if array.ndim or array.dtype.kind not in "iuf":
        return None
    return float(array)


class _Part:
    """One part of a PartialCredit cell (a context manager)."""

    def __init__(self, credit: PartialCredit, name: str):
        self.credit, self.name = credit, name

    def __enter__(self) -> _Part:
        return self

    def __exit__(self, kind, error, trace) -> bool:
        if kind is None:
            self.credit.record(self.name, True)
            return False
        if issubclass(kind, AssertionError):
            self.credit.record(self.name, False)
            print(f"{self.name}: {error}")
            return True  # swallowed: this part scores 0, the others still count
        return False  # a crash is not a wrong answer: it fails the cell


class Quiz(PartialCredit):
    """A quiz cell: each question is a part; a right answer prints its explanation.

    The visible part checks the format (``quiz.answered``); the hidden part grades
    (``quiz.question``), so the explanations appear in the graded feedback, and a
    wrong answer is never given away::

        _quiz = Quiz(points=2)
        _quiz.answered("answer_q1", answer_q1, choices="abcd")
        # (in the hidden-tests region:)
        _quiz.question("answer_q1", answer_q1, "b", explanation="...")
        # (after it, the cell's last line:)
        _quiz.score()
    """

    @_counted
    def answered(
        self, name: str, value: Any, choices: str | None = None, number: bool = False
    ) -> None:
        """Fail (a format error) unless the answer has the asked-for form."""
        __tracebackhide__ = True
        if value is None:
            _fail(name, expected="your answer", got="None", hint=f"replace None by your {name}")
        letter = _text(value)
        if choices is not None and letter not in list(choices):
            letters = ", ".join(f'"{c}"' for c in choices)
            _fail(
                f"the form of {name}",
                expected=f"one letter of {letters}",
                got=_show(value),
                hint='a string such as "a"',
            )
        if number and _number(value) is None:
            _fail(f"the form of {name}", expected="a number", got=_show(value), hint="no quotes")

    def question(
        self, name: str, value: Any, correct: Any, explanation: str, tol: float | None = None
    ) -> bool:
        """Score one question; print its explanation when the answer is right."""
        if isinstance(correct, str):
            right = _text(value) == correct.lower()
        else:
            answer = _number(value)
            right = answer is not None and abs(answer - float(correct)) <= (tol or 0.0)
        self.record(name, right)
        print(f"{name}: right. {explanation}" if right else f"{name}: not right.")
        return right


# --------------------------------------------------------------------------- tracebacks


def _student_frames(tb):
    """The traceback up to the last frame outside this module (the test line that failed)."""
    here = __file__
    kept, last_outside = tb, None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == here:
            break
        last_outside, tb = tb, tb.tb_next
    if last_outside is None:  # raised from this module directly: keep it all
        return kept
    last_outside.tb_next = None
    return kept


def _render_in_ipython(error: GradingError) -> list[str]:
    """IPython's traceback of a failed check, without this module's frames."""
    from IPython import get_ipython

    shell = get_ipython()
    return shell.InteractiveTB.structured_traceback(
        type(error), error, _student_frames(error.__traceback__)
    )
