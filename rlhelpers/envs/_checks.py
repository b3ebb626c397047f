"""Argument checks shared by the environments: clear ValueErrors for bad input."""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any

import numpy as np


def check_int(owner: str, name: str, value: Any, minimum: int) -> int:
    """Return ``value`` as an int, or raise if it is not an integer >= minimum.

    Args:
        owner: the class the argument belongs to, for the message (e.g. ``"GridWorld"``).
        name: the argument's name.
        value: the value passed in.
        minimum: the smallest allowed value.
    """
    if isinstance(value, bool) or not isinstance(value, Integral) or value < minimum:
        kind = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ValueError(f"{owner} {name} must be {kind}, got {value!r}")
    return int(value)


def check_real(owner: str, name: str, value: Any) -> float:
    """Return ``value`` as a float, or raise if it is not a finite real number."""
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
        raise ValueError(f"{owner} {name} must be a finite number, got {value!r}")
    return float(value)


def check_probability(owner: str, name: str, value: Any) -> float:
    """Return ``value`` as a float, or raise if it is not a number in [0, 1]."""
    if isinstance(value, bool) or not isinstance(value, Real) or not 0.0 <= value <= 1.0:
        raise ValueError(f"{owner} {name} must be in [0, 1], got {value!r}")
    return float(value)


def check_action(action: Any, n_actions: int, names: tuple[str, ...] | None = None) -> int:
    """Return a valid discrete action as an int, or raise a ValueError naming the valid range.

    Accepts Python ints, numpy integers and 0-d integer arrays (what vector envs pass).
    """
    if isinstance(action, np.ndarray) and action.shape == ():
        action = action.item()
    if isinstance(action, Integral) and not isinstance(action, bool) and 0 <= action < n_actions:
        return int(action)
    legend = ""
    if names is not None:
        legend = " (" + ", ".join(f"{i}={name}" for i, name in enumerate(names)) + ")"
    if n_actions == 1:
        valid = "0, the only action"
    else:
        valid = f"an int in [0, {n_actions - 1}]"
    raise ValueError(f"action must be {valid}{legend}, got {action!r}")
