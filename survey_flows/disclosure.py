"""Which cells of a published count table to suppress, so that no small group can be picked out.

Primary: a cell of fewer than `least` people is suppressed. Secondary: a line is a total and the
cells that add up to it (a row of the table and its margin; the margins and the grand total).
With exactly one of them suppressed it would be given away by subtraction, so the smallest other
that is not zero is suppressed with it, the total itself if nothing else is left. This repeats
until no line has exactly one suppressed. A cell of zero is no secret (it is left out of the
table) and is never chosen to hide another.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

#: The fewest people a published cell may describe.
LEAST = 5


def suppressed(
    counts: Mapping[Hashable, int],
    lines: Sequence[Sequence[Hashable]],
    least: int = LEAST,
) -> set[Hashable]:
    """The cells to leave out: those under `least`, and enough others that no line (a total
    and the cells that add up to it, the total among them) has exactly one left out."""
    hidden = {cell for cell, n in counts.items() if 0 < n < least}
    changed = True
    while changed:
        changed = False
        for line in lines:
            shown = [cell for cell in line if counts.get(cell, 0) > 0 and cell not in hidden]
            if len([cell for cell in line if cell in hidden]) == 1 and shown:
                hidden.add(min(shown, key=lambda cell: (counts[cell], str(cell))))
                changed = True
    return hidden
