from __future__ import annotations

import pytest

from viqa.errors import InputError
from viqa.index.formats.html import extract_html
from viqa.index.formats.legacy_vn import encode_vni
from viqa.index.structure import parse_blocks

PAGE = """<!doctype html>
<html lang="vi"><head><meta charset="utf-8"><title>Báo cáo tháng 11 | Cổng thông tin tỉnh</title>
<style>p { color: red }</style></head>
<body class="home has-sidebar">
  <header class="site-header"><h1>Cổng thông tin tỉnh</h1>
    <nav><ul><li><a href="/">Trang chủ</a></li><li><a href="/tin">Tin tức</a></li></ul></nav></header>
  <div class="breadcrumb"><a href="/">Trang chủ</a> › <a href="/tin">Tin tức</a></div>
  <main>
    <article class="post">
      <header><h1>Báo cáo kinh tế - xã hội tháng 11</h1></header>
      <h2>II. Văn hóa – xã hội</h2>
      <h3>Giáo dục</h3>
      <p>Tổ chức các hoạt   động chào mừng
         ngày Nhà giáo Việt Nam<sup><a href="#fn1" id="fnref1">1</a></sup>.</p>
      <h3>Y tế</h3>
      <p>Tiếp tục tăng cường công tác phòng, chống dịch bệnh<sup>[2]</sup>.</p>
      <div class="share-buttons"><button>Chia sẻ</button><a href="#">Facebook</a></div>
      <section class="footnotes"><ol>
        <li id="fn1"><p>Ngày 20 tháng 11.<a href="#fnref1" class="footnote-back">↩︎</a></p></li>
        <li id="fn2"><p>So với cùng kỳ năm 2022.</p></li></ol></section>
      <footer>Thẻ: giáo dục, y tế</footer>
    </article>
    <div id="comments"><p>Bình luận: bài viết rất hay.</p></div>
  </main>
  <aside class="sidebar"><p>Tin liên quan</p></aside>
  <div class="cookie-banner"><p>Trang này dùng cookie.</p></div>
  <footer class="site-footer"><p>Bản quyền thuộc về tỉnh.</p></footer>
  <script>var tracking = "Không phải nội dung";</script>
</body></html>"""


def _text(html: str | bytes, name: str = "page.html") -> str:
    return extract_html(html.encode() if isinstance(html, str) else html, name).text


def test_html_main_content_only() -> None:
    text = _text(PAGE)
    assert text.startswith("# Báo cáo kinh tế - xã hội tháng 11\n\n## II. Văn hóa – xã hội")
    for left_out in ("Cổng thông tin tỉnh", "Trang chủ", "Chia sẻ", "Facebook", "Bình luận", "Tin liên quan",
                     "cookie", "Bản quyền", "Thẻ:", "tracking", "color"):
        assert left_out not in text


def test_html_headings_become_the_heading_path() -> None:
    blocks = [b for b in parse_blocks(_text(PAGE)) if b.kind == "body"]
    assert [b.heading_path for b in blocks] == [
        "Báo cáo kinh tế - xã hội tháng 11 › II. Văn hóa – xã hội › Giáo dục",
        "Báo cáo kinh tế - xã hội tháng 11 › II. Văn hóa – xã hội › Y tế",
    ]


def test_html_footnote_markers_and_bodies_are_linked() -> None:
    text = _text(PAGE)
    assert "ngày Nhà giáo Việt Nam¹." in text and "phòng, chống dịch bệnh²." in text
    blocks = parse_blocks(text)
    assert [n for b in blocks if b.kind == "body" for n, _ in b.refs] == [1, 2]
    assert {b.number: b.clean.text for b in blocks if b.kind == "footnote"} == {
        1: "Ngày 20 tháng 11.", 2: "So với cùng kỳ năm 2022."}


def test_html_whitespace_is_collapsed() -> None:
    assert "Tổ chức các hoạt động chào mừng ngày Nhà giáo" in _text(PAGE)
    assert _text("<p>  Một\u00a0 hai\n\t ba  </p>") == "Một hai ba"


def test_html_title_from_title_tag() -> None:
    assert extract_html(PAGE.encode(), "page.html").title == "Báo cáo tháng 11 | Cổng thông tin tỉnh"


def test_html_title_falls_back_to_the_first_h1_then_none() -> None:
    assert extract_html("<h1>Tiêu  đề</h1><p>Nội dung.</p>".encode(), "a.html").title == "Tiêu đề"
    assert extract_html("<p>Nội dung.</p>".encode(), "a.html").title is None


def test_html_lists_quotes_code_and_line_breaks_are_paragraphs() -> None:
    html = """<body><ul><li>Mục một</li><li><p>Mục hai</p><ol><li>Mục con</li></ol></li></ul>
    <blockquote><p>Trích dẫn.</p></blockquote><pre>dòng 1
dòng 2</pre><p>Nơi nhận:<br>- Thường trực Tỉnh ủy;<br/>- Lưu: VT.</p></body>"""
    assert _text(html).split("\n\n") == ["- Mục một", "- Mục hai", "- Mục con", "Trích dẫn.", "dòng 1\ndòng 2",
                                         "Nơi nhận:\n- Thường trực Tỉnh ủy;\n- Lưu: VT."]


def test_html_tables_come_out_as_rows() -> None:
    html = """<table><caption>Bảng 1</caption><thead><tr><th>Chỉ tiêu</th><th>Kết quả</th></tr></thead>
    <tbody><tr><td>Thu <b>nội địa</b></td><td>179,36</td></tr><tr><td colspan="2">Tổng</td></tr></tbody></table>"""
    assert _text(html).split("\n\n") == ["Bảng 1", "Chỉ tiêu | Kết quả", "Thu nội địa | 179,36", "Tổng"]


def test_html_candidate_with_most_paragraph_text_wins() -> None:
    html = """<body><article><p>Tin ngắn.</p></article>
    <article><h1>Bài chính</h1><p>Một đoạn văn dài của bài chính, dài hơn hẳn tin ngắn.</p></article></body>"""
    assert _text(html) == "# Bài chính\n\nMột đoạn văn dài của bài chính, dài hơn hẳn tin ngắn."


def test_html_body_is_used_when_the_article_is_only_a_teaser() -> None:
    html = f"""<body><div class="content"><p>{"Nội dung chính của trang. " * 20}</p></div>
    <article class="related"><p>Tin khác.</p></article></body>"""
    assert _text(html).startswith("Nội dung chính của trang.")


def test_html_charset_from_meta_is_used() -> None:
    html = '<html><head><meta charset="windows-1258"></head><body><p>Báo cáo tháng</p></body></html>'
    assert _text(html.encode("cp1258")) == "Báo cáo tháng"
    equiv = '<meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1"><p>Café</p>'
    assert _text(equiv.encode("latin-1")) == "Café"


def test_html_without_a_declared_charset_is_decoded_like_a_text_file() -> None:
    html = "<html><body><p>Cộng hòa xã hội chủ nghĩa Việt Nam</p></body></html>"
    assert _text(encode_vni(html)) == "Cộng hòa xã hội chủ nghĩa Việt Nam"
    assert _text(html.encode("utf-16")) == "Cộng hòa xã hội chủ nghĩa Việt Nam"


@pytest.mark.parametrize("html", ["", "<html><head><title>Trống</title></head><body>  </body></html>",
                                  "<body><nav>Trang chủ</nav><script>x()</script></body>"])
def test_html_without_body_text_is_refused(html: str) -> None:
    with pytest.raises(InputError, match=r"^page\.html: has no text in its body$"):
        _text(html)
