"""Split a multiple-choice prompt into its question text and ``(A) ...`` options."""

from __future__ import annotations

import re

_OPTION_LINE = re.compile(r"^\(([A-Z])\)\s?(.*)$")


def split_options(prompt: str) -> tuple[str, list[str]]:
    """``"Q...\\nOptions:\\n(A) x\\n(B) y"`` -> ``("Q...", ["x", "y"])``; no options -> ``(prompt, [])``.

    Options must be consecutive letters from (A) at the end of the prompt, as in BBH and the SALAM files.
    """
    lines = prompt.rstrip().split("\n")
    options: list[str] = []
    idx = len(lines)
    while idx > 0:
        match = _OPTION_LINE.match(lines[idx - 1].strip())
        if not match:
            break
        options.insert(0, match.group(2).strip())
        idx -= 1
    letters = [chr(ord("A") + i) for i in range(len(options))]
    found = [(_OPTION_LINE.match(line.strip()) or [None, None])[1] for line in lines[idx:]]
    if not options or found != letters:
        return prompt.strip(), []
    head = lines[:idx]
    if head and head[-1].strip().lower().rstrip(":") == "options":
        head = head[:-1]
    return "\n".join(head).strip(), options
