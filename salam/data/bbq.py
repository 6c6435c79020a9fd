"""BBQ (Parrish et al., 2022) in its official JSONL format, one file per category."""

from __future__ import annotations

from pathlib import Path

from salam._util.jsonl import read_jsonl_strict
from salam.data.files import locate, read_data_text
from salam.errors import DataError, data_shape
from salam.types import LETTERS, Question

BBQ_CATEGORIES = (
    "Age", "Disability_status", "Gender_identity", "Nationality", "Physical_appearance", "Race_ethnicity",
    "Race_x_SES", "Race_x_gender", "Religion", "SES", "Sexual_orientation",
)

UNKNOWN_ANSWERS = frozenset({
    "unknown", "cannot be determined", "can't be determined", "not answerable", "not known", "not enough info",
    "not enough information", "cannot answer", "can't answer", "undetermined",
})
"""BBQ's ten wordings of one answer, "the text does not say" (its answer_info group ``unknown``), lower case."""


def bbq_question(row: dict) -> Question:
    """One BBQ line as a Question; metadata keeps what the bias scores need."""
    options = [str(row["ans0"]), str(row["ans1"]), str(row["ans2"])]
    label = row["label"]
    if isinstance(label, bool) or label not in (0, 1, 2):
        raise ValueError(f"label must be 0, 1 or 2, not {label!r}")
    info = row.get("answer_info", {})
    groups = [info.get(f"ans{i}", ["", ""])[1] for i in range(3)]
    unknown = [LETTERS[i] for i, g in enumerate(groups) if g == "unknown"]
    return Question(
        id=f"bbq-{row['category']}-{row['example_id']}",
        task=row["category"],
        text=f"{row['context']} {row['question']}".strip(),
        options=options,
        answer=LETTERS[int(label)],
        metadata={
            "context_condition": row["context_condition"],
            "question_polarity": row["question_polarity"],
            "question_index": str(row.get("question_index", "")),
            "answer_info": info,
            "answer_groups": groups,
            "stereotyped_groups": row.get("additional_metadata", {}).get("stereotyped_groups", []),
            "unknown_letter": unknown[0] if unknown else None,
            "example_id": row["example_id"],
        },
    )


def load_bbq(categories: list[str] | None = None, data_dir: str | Path | None = None) -> dict[str, list[Question]]:
    """Questions per category, in file order."""
    wanted = categories or list(BBQ_CATEGORIES)
    out: dict[str, list[Question]] = {}
    for category in wanted:
        if category not in BBQ_CATEGORIES:
            raise DataError(f"unknown BBQ category {category!r}; choose from {', '.join(BBQ_CATEGORIES)}")
        path = locate("bbq", category, data_dir)
        rows = []
        what = "a BBQ line (context, question, ans0-2, label, ...)"
        for where, line in read_jsonl_strict(path, what, read_data_text(path)):
            with data_shape(where, what):
                rows.append(bbq_question(line))
        out[category] = rows
    return out


def available_bbq_categories(data_dir: str | Path | None = None) -> list[str]:
    """Categories present in the local data folder (all of them when none is set: they download)."""
    from salam.data.files import data_dir as resolve_dir

    folder = resolve_dir(data_dir)
    if folder is None:
        return list(BBQ_CATEGORIES)
    return [c for c in BBQ_CATEGORIES if (folder / "bbq" / f"{c}.jsonl").is_file()]

