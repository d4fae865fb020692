"""viqa: question answering over Vietnamese documents with exact, highlightable citations."""

__version__ = "0.1.0"
