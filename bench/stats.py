"""Medians over repeats, with their spread, and how the bench prints them."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field


@dataclass
class Sample:
    """The values one measurement took over its repeats (seconds, steps, ...)."""

    values: list[float] = field(default_factory=list)

    def add(self, value: float) -> None:
        self.values.append(float(value))

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def low(self) -> float:
        return min(self.values)

    @property
    def high(self) -> float:
        return max(self.values)

    def __bool__(self) -> bool:
        return bool(self.values)


def fmt_number(value: float, digits: int = 1) -> str:
    """12.3, 1,234 (no decimals from 1000 on), inf as '>' is the caller's business."""
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}"


def fmt_sample(sample: Sample, unit: str = "", digits: int = 1) -> str:
    """'median unit (min-max, n=3)'; just the value when there was one repeat."""
    if not sample:
        return "not measured"
    suffix = f" {unit}" if unit else ""
    median = fmt_number(sample.median, digits) + suffix
    if len(sample.values) == 1:
        return f"{median} (n=1)"
    spread = f"{fmt_number(sample.low, digits)}-{fmt_number(sample.high, digits)}"
    return f"{median} ({spread}, n={len(sample.values)})"


def ratio(numerator: Sample, denominator: Sample) -> float:
    """Ratio of the medians."""
    return numerator.median / denominator.median


def paired_ratios(numerators: list[float], denominators: list[float]) -> Sample:
    """Per-repeat ratios of measurements taken side by side (the noise of a shared machine
    cancels best within a repeat)."""
    if len(numerators) != len(denominators):
        raise ValueError(f"{len(numerators)} numerators for {len(denominators)} denominators")
    return Sample([n / d for n, d in zip(numerators, denominators, strict=True)])
