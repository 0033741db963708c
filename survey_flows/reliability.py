"""Reliability of a scored form's scales, tallied a submission at a time in constant memory.

For each sub-feature and characteristic: Cronbach's α, each item's corrected item-total
correlation (with the sum of the other items) and α if the item is deleted, and n. Items are
scored as on the results card (reverse-keyed ones recoded); a submission counts towards a scale
only when it answered all of that scale's items (listwise, as SPSS's RELIABILITY does).

Only sums and cross-products are kept (k × k per scale, and a block of 1,000 rows waiting to be
added), so a million answers cost no more memory than ten: every figure comes from the items'
covariance matrix.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from math import sqrt

import numpy

from survey_flows.scoring import Scoring


class _Scale:
    """The running sums of one scale's items: their sums and cross-products, added up a block
    of submissions at a time (a block's matrix product, rather than k × k sums a row)."""

    BLOCK = 1000

    def __init__(self, items: list[str]):
        self.items = items
        #: A submission counts only with all of these answered (none: it never counts).
        self.needed = frozenset(items) if items else frozenset({""})
        self.n = 0
        self.sums = numpy.zeros(len(items))
        self.products = numpy.zeros((len(items), len(items)))
        self._block: list[list[float]] = []

    def add(self, points: list[float]) -> None:
        self._block.append(points)
        if len(self._block) == self.BLOCK:
            self._flush()

    @property
    def count(self) -> int:
        """The submissions counted, those still in the block too."""
        return self.n + len(self._block)

    def covariance(self) -> numpy.ndarray:
        self._flush()
        n = self.n
        return (self.products - numpy.outer(self.sums, self.sums) / n) / (n - 1)

    def _flush(self) -> None:
        if self._block:
            block = numpy.array(self._block)
            self.n += len(block)
            self.sums += block.sum(axis=0)
            self.products += block.T @ block
            self._block = []


@dataclass(frozen=True)
class ItemFigures:
    """One item of a scale: its corrected item-total correlation and α without it."""

    item: str
    corrected_item_total: float | None
    alpha_if_deleted: float | None


@dataclass(frozen=True)
class ScaleFigures:
    """One scale: which it is, α, n, and its items' figures (None where undefined: too few
    submissions, fewer than two items, or no variance)."""

    scale: str
    kind: str  # "subfeature" | "characteristic"
    alpha: float | None
    n: int
    items: tuple[ItemFigures, ...]


class ReliabilityTally:
    """Cronbach's α and item statistics of a form's scales, fed one submission at a time."""

    def __init__(self, scoring: Scoring):
        #: Each item's points for each choice, recoded once here rather than per answer.
        self._points = {
            item.name: {choice: item.points(choice) for choice in item.scale}
            for item in scoring.items
        }
        self._scales: dict[tuple[str, str], _Scale] = {}
        for dimension in scoring.subfeatures:
            items = [i.name for i in scoring.items if i.subfeature == dimension.id]
            self._scales[("subfeature", dimension.id)] = _Scale(items)
        for dimension in scoring.characteristics:
            items = [i.name for i in scoring.items if i.characteristic == dimension.id]
            self._scales[("characteristic", dimension.id)] = _Scale(items)

    def add(self, answers: Mapping[str, object]) -> None:
        """Count one submission's answers towards every scale it answered in full."""
        points: dict[str, float] = {}
        for name, table in self._points.items():
            value = answers.get(name)
            scored = table.get(str(value)) if value is not None else None
            if scored is not None:
                points[name] = scored
        answered = points.keys()
        for scale in self._scales.values():
            if scale.needed <= answered:
                scale.add([points[name] for name in scale.items])

    def figures(self) -> list[ScaleFigures]:
        """Each scale's figures, sub-features first, in the form's order."""
        return [_figures(kind, scale_id, scale) for (kind, scale_id), scale in self._scales.items()]


def _figures(kind: str, scale_id: str, scale: _Scale) -> ScaleFigures:
    k = len(scale.items)
    if scale.count < 2 or k < 2:
        return ScaleFigures(
            scale_id,
            kind,
            None,
            scale.count,
            tuple(ItemFigures(i, None, None) for i in scale.items),
        )
    c = scale.covariance().tolist()
    total = sum(sum(row) for row in c)
    items = []
    for i, name in enumerate(scale.items):
        with_rest = sum(c[i]) - c[i][i]  # cov(item, sum of the others)
        rest = total - 2 * sum(c[i]) + c[i][i]  # var(sum of the others)
        r = with_rest / sqrt(c[i][i] * rest) if c[i][i] > 0 and rest > 0 else None
        others = [j for j in range(k) if j != i]
        items.append(ItemFigures(name, r, _alpha([[c[a][b] for b in others] for a in others])))
    return ScaleFigures(scale_id, kind, _alpha(c), scale.count, tuple(items))


def _alpha(c: list[list[float]]) -> float | None:
    """Cronbach's α of items with covariance matrix c."""
    k = len(c)
    total = sum(sum(row) for row in c)
    if k < 2 or total <= 0:
        return None
    return k / (k - 1) * (1 - sum(c[i][i] for i in range(k)) / total)


def reliability_rows(figures: list[ScaleFigures]) -> list[list[object]]:
    """The figures as a table: a row per scale, then a row per item under it."""
    rows: list[list[object]] = [
        ["scale", "kind", "item", "alpha", "corrected_item_total", "alpha_if_deleted", "n"]
    ]
    for scale in figures:
        rows.append([scale.scale, scale.kind, "", _round(scale.alpha), None, None, scale.n])
        for item in scale.items:
            rows.append(
                [
                    scale.scale,
                    scale.kind,
                    item.item,
                    None,
                    _round(item.corrected_item_total),
                    _round(item.alpha_if_deleted),
                    scale.n,
                ]
            )
    return rows


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
