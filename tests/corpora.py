"""Where the shared corpora (real inputs from other projects) live on this machine."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: The corpora sit in ../shared/corpora beside the project; SHARED_CORPORA names another place.
CANDIDATES = [
    *([Path(os.environ["SHARED_CORPORA"])] if os.environ.get("SHARED_CORPORA") else []),
    ROOT.parent / "shared" / "corpora",
    Path("/work/shared/corpora"),
]


def corpus(name: str) -> Path:
    """The folder of one corpus; a missing corpus fails the tests that need it, loudly."""
    for base in CANDIDATES:
        if (base / name).is_dir():
            return base / name
    tried = ", ".join(str(base) for base in CANDIDATES)
    raise FileNotFoundError(f"corpus {name!r} not found in {tried}; set SHARED_CORPORA")
