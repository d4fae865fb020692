"""Where the tests find the checkout's sample report and the shared reference data."""

from __future__ import annotations

from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[1]
SAMPLE = CHECKOUT / "data" / "sample" / "lang-son-bao-cao-kt-xh-thang-11-2023.txt"
SHARED = CHECKOUT.parent / "shared"
