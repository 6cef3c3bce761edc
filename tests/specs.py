"""Where the official specs are: ``../shared/specs`` beside the checkout (tests only; never needed at run time)."""

from __future__ import annotations

from pathlib import Path

SPECS = Path(__file__).resolve().parents[1].parent / "shared" / "specs"


def spec_path(name: str) -> Path:
    path = SPECS / name
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: the contract tests need ../shared/specs beside the checkout")
    return path
