"""A citation link opens the web page on the cited span, and its fragment reads back as the same offsets."""

from __future__ import annotations

from viqa.links import citation_path, citation_url, parse_fragment


def test_a_citation_link_names_collection_document_and_span() -> None:
    assert citation_path("default", "bao-cao-11", 5361, 5374) == "/?c=default&d=bao-cao-11#5361-5374"
    assert citation_url("http://127.0.0.1:8000/", "bao cáo", "x", 1, 2) == "http://127.0.0.1:8000/?c=bao+c%C3%A1o&d=x#1-2"


def test_the_fragment_reads_back_and_nonsense_reads_as_none() -> None:
    assert parse_fragment("5361-5374") == (5361, 5374)
    assert parse_fragment("9-3") is None and parse_fragment("abc") is None and parse_fragment("") is None
