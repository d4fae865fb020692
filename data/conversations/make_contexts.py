"""Rebuild contexts.jsonl from the project's training data (../shared/train/vi-mrc).

Run ``python data/conversations/make_contexts.py`` from the checkout.

Each context is one paragraph (SQuAD files: article.paragraph) or one row (CSV files) of a training file, copied
verbatim. The conversations in dev.jsonl and test.jsonl refer to them by ``context_id`` ("<file>#<index>").
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
TRAIN = HERE.parents[1].parent / "shared" / "train" / "vi-mrc"

# doc_id -> "<file>#<index>"
CONTEXTS = {
    "news-302-3": "vi-news-squad2-train.json#302.3",
    "news-42-7": "vi-news-squad2-train.json#42.7",
    "news-419-2": "vi-news-squad2-train.json#419.2",
    "news-419-3": "vi-news-squad2-train.json#419.3",
    "news-41-4": "vi-news-squad2-train.json#41.4",
    "news-42-0": "vi-news-squad2-train.json#42.0",
    "news-104-2": "vi-news-squad2-train.json#104.2",
    "news-104-3": "vi-news-squad2-train.json#104.3",
    "news-89-4": "vi-news-squad2-train.json#89.4",
    "news-333-6": "vi-news-squad2-train.json#333.6",
    "news-110-3": "vi-news-squad2-train.json#110.3",
    "news-126-4": "vi-news-squad2-train.json#126.4",
    "wiki-0-0": "vi-wiki-squad-small.json#0.0",
    "wiki-5-0": "vi-wiki-squad-small.json#5.0",
    "wiki-10-0": "vi-wiki-squad-small.json#10.0",
    "wiki-12-0": "vi-wiki-squad-small.json#12.0",
    "wiki-21-0": "vi-wiki-squad-small.json#21.0",
    "wiki-29-0": "vi-wiki-squad-small.json#29.0",
    "wiki-30-0": "vi-wiki-squad-small.json#30.0",
    "wiki-31-0": "vi-wiki-squad-small.json#31.0",
    "wiki-33-0": "vi-wiki-squad-small.json#33.0",
    "wiki-44-0": "vi-wiki-squad-small.json#44.0",
    "wiki-45-0": "vi-wiki-squad-small.json#45.0",
    "wiki-46-0": "vi-wiki-squad-small.json#46.0",
    "wiki-47-0": "vi-wiki-squad-small.json#47.0",
    "wiki-50-0": "vi-wiki-squad-small.json#50.0",
    "wiki-59-0": "vi-wiki-squad-small.json#59.0",
    "wiki-60-0": "vi-wiki-squad-small.json#60.0",
    "wiki-65-0": "vi-wiki-squad-small.json#65.0",
    "wiki-66-0": "vi-wiki-squad-small.json#66.0",
    "uit-25-0": "vi-uit-regulations-squad.json#25.0",
    "uit-44-0": "vi-uit-regulations-squad.json#44.0",
    "uit-50-0": "vi-uit-regulations-squad.json#50.0",
    "uit-61-0": "vi-uit-regulations-squad.json#61.0",
    "uit-68-0": "vi-uit-regulations-squad.json#68.0",
    "alqac-17": "ALQAC.csv#17",
    "alqac-31": "ALQAC.csv#31",
    "alqac-44": "ALQAC.csv#44",
    "alqac-322": "ALQAC.csv#322",
    "vire-241": "ViRe4MRC_v2.csv#241",
    "vire-348": "ViRe4MRC_v2.csv#348",
    "vire-640": "ViRe4MRC_v2.csv#640",
    "vire-849": "ViRe4MRC_v2.csv#849",
}


def read(source: str) -> str:
    """The text of one training paragraph or row."""
    name, _, index = source.partition("#")
    path = TRAIN / name
    if name.endswith(".json"):
        article, paragraph = (int(i) for i in index.split("."))
        art = json.loads(path.read_text(encoding="utf-8"))["data"][article]
        return art["paragraphs"][paragraph]["context"]
    with path.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))[int(index)]["context"]


def main() -> None:
    lines = []
    for doc_id, source in CONTEXTS.items():
        # the title is the reference, not the file's own title (the news set's titles are search questions)
        lines.append(json.dumps({"id": doc_id, "title": source, "text": read(source), "source": source},
                                ensure_ascii=False))
    (HERE / "contexts.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{len(lines)} contexts written to {HERE / 'contexts.jsonl'}")


if __name__ == "__main__":
    main()
