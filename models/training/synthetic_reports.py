"""Make reader training examples from synthetic statistical-report paragraphs.

Report prose sets figures side by side that a reader must tell apart: a total and its components ("tổng doanh
thu du lịch ước đạt 1.250 tỷ đồng, trong đó doanh thu lưu trú 480 tỷ đồng, …") and a month's figure beside the
running total ("… tháng 5 đạt 312 tỷ đồng; lũy kế 5 tháng đạt 1.406 tỷ đồng"). Real training contexts hold
almost none of these sentences, so they are written here from a lexicon of indicators of general statistical
reporting, and each figure is asked in situ ("Doanh thu lưu trú tháng 5 đạt bao nhiêu?"), also where the list
writes the component short ("trong đó lưu trú 480 tỷ đồng"). Questions about a component the paragraph does not
give are unanswerable.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

from viqa.models.training.reader_data import QAExample

SOURCE = "synthetic-reports"


@dataclass(frozen=True)
class Family:
    """A total and the components it is reported with, in one unit."""

    total: str
    components: tuple[str, ...]
    unit: str
    magnitude: tuple[float, float]  # the total's range


# indicators of general provincial and sector statistics; the two families the report's questions turn on (trade,
# and budget revenue with its domestic part) are left out, so that the report measures transfer
FAMILIES = (
    Family("tổng doanh thu du lịch", ("doanh thu lưu trú", "doanh thu ăn uống", "doanh thu lữ hành"),
           "tỷ đồng", (80, 4000)),
    Family("tổng vốn đầu tư thực hiện", ("vốn ngân sách nhà nước", "vốn ngoài nhà nước",
                                         "vốn đầu tư trực tiếp nước ngoài"), "tỷ đồng", (500, 30000)),
    Family("tổng chi ngân sách địa phương", ("chi đầu tư phát triển", "chi thường xuyên"), "tỷ đồng",
           (400, 25000)),
    Family("tổng lượng khách du lịch", ("khách quốc tế", "khách nội địa"), "lượt khách", (20000, 3000000)),
    Family("tổng sản lượng lương thực có hạt", ("sản lượng lúa", "sản lượng ngô"), "tấn", (5000, 900000)),
    Family("tổng diện tích gieo trồng", ("diện tích lúa", "diện tích ngô", "diện tích rau các loại"), "ha",
           (1000, 120000)),
    Family("tổng đàn gia súc", ("đàn trâu", "đàn bò", "đàn lợn"), "con", (10000, 900000)),
    Family("tổng số doanh nghiệp thành lập mới", ("công ty trách nhiệm hữu hạn", "công ty cổ phần",
                                                 "doanh nghiệp tư nhân"), "doanh nghiệp", (40, 3000)),
    Family("tổng mức bán lẻ hàng hóa và doanh thu dịch vụ tiêu dùng", ("doanh thu bán lẻ hàng hóa",
           "doanh thu dịch vụ lưu trú, ăn uống", "doanh thu dịch vụ khác"), "tỷ đồng", (900, 90000)),
    Family("tổng dư nợ tín dụng", ("dư nợ ngắn hạn", "dư nợ trung và dài hạn"), "tỷ đồng", (2000, 150000)),
    Family("tổng số lao động được giải quyết việc làm", ("lao động làm việc trong tỉnh",
           "lao động đi làm việc có thời hạn ở nước ngoài"), "người", (500, 60000)),
    Family("tổng sản lượng điện sản xuất", ("sản lượng thủy điện", "sản lượng điện mặt trời",
                                            "sản lượng nhiệt điện"), "triệu kWh", (50, 9000)),
    Family("tổng sản lượng thủy sản", ("sản lượng khai thác", "sản lượng nuôi trồng"), "tấn", (800, 400000)),
    Family("tổng số vụ tai nạn giao thông", ("tai nạn đường bộ", "tai nạn đường sắt", "tai nạn đường thủy"),
           "vụ", (10, 900)),
    Family("tổng số ca mắc bệnh truyền nhiễm", ("ca mắc sốt xuất huyết", "ca mắc tay chân miệng", "ca mắc cúm"),
           "ca", (50, 20000)),
    Family("tổng khối lượng hàng hóa vận chuyển", ("vận chuyển đường bộ", "vận chuyển đường thủy nội địa",
                                                   "vận chuyển đường sắt"), "nghìn tấn", (100, 60000)),
    Family("tổng số học sinh", ("học sinh tiểu học", "học sinh trung học cơ sở", "học sinh trung học phổ thông"),
           "học sinh", (5000, 400000)),
    Family("tổng vốn đăng ký của các dự án", ("vốn đăng ký cấp mới", "vốn đăng ký điều chỉnh"), "triệu USD",
           (10, 4000)),
    Family("tổng sản phẩm trên địa bàn", ("khu vực nông, lâm nghiệp và thủy sản", "khu vực công nghiệp và xây dựng",
                                          "khu vực dịch vụ"), "tỷ đồng", (5000, 300000)),
)
ACHIEVED = ("đạt", "ước đạt", "ước tính đạt", "đạt khoảng")
ASK_VERBS = ("đạt bao nhiêu", "ước đạt bao nhiêu", "là bao nhiêu", "được bao nhiêu")


def vietnamese_number(value: float, decimals: int) -> str:
    """``value`` written as Vietnamese reports write it: "." between thousands, "," before decimals."""
    whole, _, frac = f"{value:,.{decimals}f}".partition(".")
    whole = whole.replace(",", ".")
    return f"{whole},{frac}" if frac else whole


class _Writer:
    """Builds a paragraph piece by piece and remembers where each figure landed."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.length = 0
        self.figures: dict[str, tuple[int, str]] = {}

    def add(self, text: str, figure: str | None = None) -> None:
        if figure is not None:
            self.figures[figure] = (self.length, text)
        self.parts.append(text)
        self.length += len(text)

    @property
    def text(self) -> str:
        return "".join(self.parts)


def short_form(component: str, total: str) -> str:
    """``component`` without the words it shares with the start of its total's name, as a list after "trong đó"
    writes it ("doanh thu lưu trú" under "tổng doanh thu du lịch" -> "lưu trú"); whole when nothing is left."""
    words, head = component.split(), total.removeprefix("tổng ").split()
    shared = 0
    while shared < min(len(words), len(head)) and words[shared] == head[shared]:
        shared += 1
    return " ".join(words[shared:]) if 0 < shared < len(words) else component


def _figure(rng: random.Random, low: float, high: float, unit: str) -> tuple[float, str]:
    value = rng.uniform(low, high)
    decimals = 0 if unit in {"con", "người", "vụ", "ca", "doanh nghiệp", "học sinh", "lượt khách"} or value > 5000 \
        else rng.choice((0, 1, 1, 2))
    value = round(value, decimals)
    return value, f"{vietnamese_number(value, decimals)} {unit}"


def _change(rng: random.Random, against: str) -> str:
    return f"{rng.choice(('tăng', 'giảm'))} {vietnamese_number(rng.uniform(0.5, 40), rng.choice((1, 2)))}% {against}"


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _question(subject: str, period: str, rng: random.Random) -> str:
    """An in-situ question about ``subject`` in ``period``, in one of the orders reports are asked in."""
    verb = rng.choice(ASK_VERBS)
    if rng.random() < 0.3:
        return f"{_capital(period)}, {subject} {verb}?"
    return f"{_capital(subject)} {period} {verb}?"


@dataclass(frozen=True)
class _Asked:
    question: str
    figure: str | None  # None: the paragraph does not give it


def _total_with_components(w: _Writer, family: Family, period: str, rng: random.Random) -> list[_Asked]:
    """"<total> <period> đạt N, <change>, trong đó <c1> n1, <c2> n2." with every figure asked."""
    given = rng.sample(family.components, rng.randint(2, len(family.components))) \
        if len(family.components) > 2 else list(family.components)
    total, total_text = _figure(rng, *family.magnitude, family.unit)
    shares = [rng.uniform(0.2, 1.0) for _ in given]
    left = total * rng.uniform(0.85, 1.0) if len(given) < len(family.components) else total
    decimals = 1 if "," in total_text else 0  # the parts are written as precisely as the total
    parts = [round(left * s / sum(shares), decimals) for s in shares]
    lead = f"{_capital(period)}, {family.total}" if rng.random() < 0.5 else f"{_capital(family.total)} {period}"
    w.add(f"{lead} {rng.choice(ACHIEVED)} ")
    w.add(total_text, "total")
    if rng.random() < 0.7:
        w.add(f", {_change(rng, 'so với cùng kỳ năm trước')}")
    w.add(rng.choice((", trong đó ", "; trong đó: ", ", bao gồm ")))
    short = rng.random() < 0.6  # "trong đó lưu trú 480 tỷ đồng", asked as "doanh thu lưu trú"
    for i, (component, value) in enumerate(zip(given, parts, strict=True)):
        if i:
            w.add(", " if i < len(given) - 1 or rng.random() < 0.5 else " và ")
        w.add(f"{short_form(component, family.total) if short else component} {rng.choice(('', 'đạt ', 'ước đạt '))}")
        w.add(f"{vietnamese_number(value, decimals)} {family.unit}", component)
        if rng.random() < 0.3:
            w.add(f" ({_change(rng, 'so với cùng kỳ')})")
    w.add(". ")
    bare = family.total.removeprefix("tổng ")  # "kim ngạch …" asked for "tổng kim ngạch …", not "số …" or "sản phẩm"
    total_name = bare if rng.random() < 0.3 and not bare.startswith(("số ", "sản phẩm", "mức ")) else family.total
    asked = [_Asked(_question(total_name, period, rng), "total")]
    asked += [_Asked(_question(c, period, rng), c) for c in given]
    asked += [_Asked(_question(c, period, rng), None) for c in family.components if c not in given]
    return asked


def _month_and_running_total(w: _Writer, family: Family, month: int, year: int, rng: random.Random) -> list[_Asked]:
    """A month's figure beside the running total of the year's first months, both asked."""
    subject = rng.choice((family.total, *family.components))
    low, high = family.magnitude
    running, running_text = _figure(rng, low, high, family.unit)
    _, month_text = _figure(rng, running / month * 0.7, running / month * 1.3, family.unit)
    running_names = (f"lũy kế {month} tháng", f"{month} tháng đầu năm {year}", f"tính chung {month} tháng")
    running_name = rng.choice(running_names)
    if rng.random() < 0.5:
        w.add(f"{_capital(subject)} tháng {month}/{year} {rng.choice(ACHIEVED)} ")
        w.add(month_text, "month")
        w.add(f", {_change(rng, 'so với tháng trước')}; {running_name} {rng.choice(ACHIEVED)} ")
        w.add(running_text, "running")
        w.add(f", {_change(rng, 'so với cùng kỳ')}. ")
    else:
        w.add(f"{_capital(running_name)}, {subject} {rng.choice(ACHIEVED)} ")
        w.add(running_text, "running")
        w.add(f", bằng {vietnamese_number(rng.uniform(50, 110), 1)}% kế hoạch năm; riêng tháng {month} đạt ")
        w.add(month_text, "month")
        w.add(". ")
    running_period = rng.choice((f"{month} tháng", f"{month} tháng đầu năm", f"lũy kế {month} tháng"))
    return [_Asked(_question(subject, f"tháng {month}", rng), "month"),
            _Asked(_question(subject, running_period, rng), "running")]


def report_paragraph(rng: random.Random) -> Iterator[QAExample]:
    """One synthetic report paragraph (two or three sentences of figures) and every question it answers or not."""
    year, month = rng.randint(2015, 2026), rng.randint(2, 12)
    w = _Writer()
    asked: list[tuple[_Asked, dict[str, tuple[int, str]]]] = []
    for family in rng.sample(FAMILIES, rng.randint(2, 3)):
        w.figures = {}  # each sentence's figures are keyed apart from the others'
        if rng.random() < 0.55:
            period = rng.choice((f"tháng {month}", f"tháng {month}/{year}", f"{month} tháng năm {year}",
                                 f"quý {rng.randint(1, 4)}", f"năm {year}", f"6 tháng đầu năm {year}"))
            questions = _total_with_components(w, family, period, rng)
        else:
            questions = _month_and_running_total(w, family, month, year, rng)
        asked += [(a, w.figures) for a in questions]
    context = w.text.strip()
    for a, scope in asked:
        if a.figure is None:
            yield QAExample(context, a.question, None, None, f"{SOURCE}-unanswerable")
        else:
            start, answer = scope[a.figure]
            yield QAExample(context, a.question, answer, start, SOURCE)


def synthesize_reports(paragraphs: int, seed: int = 13) -> list[QAExample]:
    """``paragraphs`` synthetic report paragraphs and all their questions, the same for the same seed."""
    rng = random.Random(f"reports-{seed}")
    return [ex for _ in range(paragraphs) for ex in report_paragraph(rng)]
