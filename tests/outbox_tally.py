"""What the outbox says reached each person against what a fake platform received: the count
tests and bench/faults.py use to prove nothing was lost or sent twice."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable, Iterable
from typing import Any

from sqlalchemy import select

from storage.db import make_engine
from storage.models import OutboxMessage


def lost_and_doubled(
    database_url: str,
    addresses: list[str],
    rendered: Callable[[dict[str, Any], int], Iterable[Hashable]],
    arrived: Callable[[str], Iterable[Hashable]],
) -> tuple[int, int]:
    """Messages the outbox holds for these addresses that never arrived (or were never sent),
    and those that arrived more than once: each row `rendered` as the platform shows it,
    compared with what `arrived` at each address."""
    engine = make_engine(database_url)
    with engine.connect() as connection:
        rows = connection.execute(
            select(
                OutboxMessage.id, OutboxMessage.address, OutboxMessage.payload, OutboxMessage.status
            ).where(OutboxMessage.address.in_(addresses))
        ).all()
    engine.dispose()
    lost = doubled = 0
    for address in addresses:
        expected: Counter[Hashable] = Counter()
        for row_id, to, payload, status in rows:
            if to != address:
                continue
            for message in rendered(payload, row_id):
                if status != "sent":  # never went, or given up: lost as well
                    lost += 1
                    continue
                expected[message] += 1
        came = Counter(arrived(address))
        lost += sum((expected - came).values())
        doubled += sum((came - expected).values())
    return lost, doubled
