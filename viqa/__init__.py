"""viqa: question answering over Vietnamese documents with exact, highlightable citations.

>>> from viqa import Pipeline, get_settings
>>> pipe = Pipeline(get_settings()).load("default")
>>> answer = pipe.answer("Tổng kim ngạch xuất nhập khẩu qua địa bàn tỉnh tháng 11 ước đạt bao nhiêu?")
>>> answer.text, answer.citations[0].char_start
('440 triệu USD', 5361)

``import viqa`` loads no model code: ``Pipeline`` is imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from viqa.settings import Settings, get_settings
from viqa.types import Answer, Citation, Search

if TYPE_CHECKING:
    from viqa.qa.pipeline import Pipeline

__version__ = "0.1.0"
__all__ = ["Answer", "Citation", "Pipeline", "Search", "Settings", "__version__", "get_settings"]


def __getattr__(name: str) -> Any:
    if name == "Pipeline":
        from viqa.qa.pipeline import Pipeline

        return Pipeline
    raise AttributeError(f"module 'viqa' has no attribute {name!r}")
