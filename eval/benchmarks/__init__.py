"""Benchmarks: speed, retrieval, scale, follow-ups, load and the Haystack comparison (not in the wheel)."""
