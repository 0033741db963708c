"""Read and check a form's scoring declaration, so a wrong one is refused at import."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from survey_flows.form import FormError, Item, Kind, Translated
from survey_flows.scoring import BANDS, Dimension, ScoredItem, Scoring

#: The survey-sheet columns that declare scoring.
CHARACTERISTIC, SUBFEATURE, REVERSE = "characteristic", "subfeature", "reverse"
YES = frozenset({"yes", "true", "1", "true()"})


def read_scoring(
    items: list[Item], lists: Mapping[str, list[dict[str, Any]]], text: Callable[[Any], Translated]
) -> Scoring | None:
    """Build the Scoring of a form from its items and choice lists, or None if it declares none."""
    scored = [
        item for item in items if item.extra.get(SUBFEATURE) or item.extra.get(CHARACTERISTIC)
    ]
    if not scored:
        return None
    characteristics = _dimensions(lists, CHARACTERISTIC, text)
    subfeatures = _dimensions(lists, SUBFEATURE, text)
    known = {c.id for c in characteristics}
    for subfeature in subfeatures:
        if subfeature.characteristic not in known:
            raise FormError(
                f"sub-feature '{subfeature.id}' belongs to unknown characteristic"
                f" '{subfeature.characteristic}'",
                "choices",
            )
    by_id = {s.id: s for s in subfeatures}
    scored_items = tuple(_scored_item(item, by_id, known) for item in scored)
    for characteristic in characteristics:
        if not any(item.characteristic == characteristic.id for item in scored_items):
            raise FormError(f"characteristic '{characteristic.id}' has no items", "choices")
    return Scoring(characteristics, subfeatures, scored_items)


def _dimensions(lists, name: str, text: Callable[[Any], Translated]) -> tuple[Dimension, ...]:
    rows = lists.get(name)
    if not rows:
        raise FormError(
            f"scored items need a choice list named '{name}' that defines them", "choices"
        )
    return tuple(
        Dimension(
            id=str(row["name"]),
            label=text(row.get("label")),
            characteristic=str(row.get(CHARACTERISTIC, "")),
            meanings={
                band: text(row.get(f"meaning_{band}"))
                for band, _ in BANDS
                if row.get(f"meaning_{band}")
            },
        )
        for row in rows
    )


def _scored_item(
    item: Item, subfeatures: Mapping[str, Dimension], characteristics: set[str]
) -> ScoredItem:
    subfeature_id = item.extra.get(SUBFEATURE, "")
    if subfeature_id not in subfeatures:
        raise FormError(f"unknown sub-feature '{subfeature_id}'", "survey", item.row)
    subfeature = subfeatures[subfeature_id]
    characteristic = item.extra.get(CHARACTERISTIC) or subfeature.characteristic
    if characteristic not in characteristics:
        raise FormError(f"unknown characteristic '{characteristic}'", "survey", item.row)
    if characteristic != subfeature.characteristic:
        raise FormError(
            f"sub-feature '{subfeature_id}' belongs to '{subfeature.characteristic}',"
            f" not '{characteristic}'",
            "survey",
            item.row,
        )
    if item.kind is not Kind.SELECT_ONE:
        raise FormError("a scored item must be a select_one on a numeric scale", "survey", item.row)
    scale: dict[str, float] = {}
    for choice in item.choices:
        try:
            scale[choice.name] = float(choice.columns.get("score", ""))
        except ValueError:
            raise FormError(
                f"choice '{choice.name}' needs a numeric 'score' for a scored item",
                "choices",
                item.row,
            ) from None
    return ScoredItem(
        name=item.name,
        subfeature=subfeature_id,
        characteristic=characteristic,
        reverse=item.extra.get(REVERSE, "").strip().lower() in YES,
        scale=scale,
    )
