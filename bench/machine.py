"""What the bench ran on: CPU model, cores, torch threads, load, versions."""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path

from grader.limits import environment

DEVICE_VARIABLE = "RLHELPERS_DEVICE"


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (Linux), else what platform knows."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def usable_cores() -> int:
    """Cores this process may run on (its affinity), else the machine's."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def describe() -> dict[str, str]:
    """The machine, as RESULTS.md's header lists it (call it at the start of the run)."""
    import torch

    import rlhelpers

    device = rlhelpers.device()  # (gives torch its one thread, as in the lessons)
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    return {
        "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "cpu": cpu_model(),
        "cores": f"{usable_cores()} usable ({os.cpu_count()} in the machine)",
        "torch threads": str(torch.get_num_threads()),
        "load average at start": " / ".join(f"{x:.2f}" for x in load) + " (1 / 5 / 15 min)",
        "nice": str(os.nice(0)),
        "device": f"{device} (rlhelpers.device())",
        "python / torch": f"{platform.python_version()} / {torch.__version__}",
        "os": platform.platform(),
    }


def gpu_present() -> bool:
    """Is rlhelpers.device() CUDA (row 6 runs then)?"""
    import rlhelpers

    return rlhelpers.device().type == "cuda"


def torch_device(name: str | None):
    """RLHELPERS_DEVICE=name for what runs inside (kernels inherit it); None: unchanged."""
    return environment({} if name is None else {DEVICE_VARIABLE: name})
