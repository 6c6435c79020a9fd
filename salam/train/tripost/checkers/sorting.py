"""BBH ``word_sorting``: sort a list alphabetically, checked letter claim by letter claim.

BBH's exemplars sort by buckets: ``The first letter: "oven": "o" (15). ... We now have: (3) ["costume" ?
"counterpart"] < (15) "oven".``, then sort each tied bucket by the next letter. The script checks every
``"word": "letter" (number)`` claim, every ``(number)`` in a ``We now have`` line and every ``<`` between
words, and names the first step with a false one. Difficulty = words in the list (BBH: 2-20).
"""

from __future__ import annotations

import random
import re

from salam.train.tripost.checkers.base import ScriptTask, StepFeedback
from salam.types import Question

PROMPT = "Sort the following words alphabetically: List: "
ORDINALS = ["first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth",
            "eleventh", "twelfth", "thirteenth", "fourteenth", "fifteenth", "sixteenth", "seventeenth",
            "eighteenth", "nineteenth", "twentieth"]
_LETTER_LINE = re.compile(r"The (\w+) letter:")
_CLAIM = re.compile(r'"([^"]+)": "([^"]*)" \((-?\d+)\)')
_ITEM = re.compile(r'\((-?\d+)\)\s*(\[[^\]]*\]|"[^"]*")')
_ORDER = re.compile(r"(?:We now have|Hence, we have):?\s*(.*?)(?:\.\s*(?:Now|So|Hence)\b|\.?\s*$)")
# A small word list for the generator (BBH draws from a dictionary; these are not BBH's words).
_SYLLABLES = ["ba", "be", "bi", "bo", "ca", "ce", "co", "da", "de", "di", "fa", "fe", "ga", "go", "ha", "he", "ja",
              "ka", "la", "le", "li", "lo", "ma", "me", "mi", "mo", "na", "ne", "no", "pa", "pe", "po", "ra", "re",
              "ri", "ro", "sa", "se", "si", "so", "ta", "te", "ti", "to", "va", "ve", "wa", "we", "ya", "za", "zo",
              "st", "tr", "pl", "gr", "th", "sh", "ch", "qu", "x"]


def letter(word: str, depth: int) -> str:
    """The word's letter at ``depth`` (0-based), or "" past its end."""
    return word[depth] if depth < len(word) else ""


def rank(char: str) -> int:
    """a=1 ... z=26, as the exemplars number letters; "" (past the end) = 0; other characters keep ASCII order."""
    return ord(char.lower()) - 96 if char else 0


def _ordinal(depth: int) -> str:
    return ORDINALS[depth] if depth < len(ORDINALS) else f"{depth + 1}th"


def _render(parts: list) -> str:
    """Nested groups as the exemplars write them: resolved ``"a" < "b"``, unresolved ``["a" ? "b"]``."""
    out = []
    for part in parts:
        if isinstance(part, str):
            out.append(f'"{part}"')
        elif part[0] == "?":
            out.append("[" + " ? ".join(f'"{w}"' for w in part[1]) + "]")
        else:
            out.append("[" + _render(part[1]) + "]")
    return " < ".join(out)


class Sorting(ScriptTask):
    name = "word_sorting"
    seen = (3, 4, 5, 6)
    """Seen lists stay short: this exemplar format's rationale is ~190 tokens at 6 words and ~520 at 8
    (the embedded tokenizer), and a training step over 8-10-word rationales took over a minute on a CPU."""
    unseen = (8, 10, 15, 20)

    def generate(self, rng: random.Random, difficulty: int, index: int = 0) -> Question:
        words: list[str] = []
        while len(words) < difficulty:
            word = "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4)))
            if word not in words:
                words.append(word)
        return Question(id=f"gen-{self.name}-d{difficulty}-{index}", task=self.name, text=PROMPT + " ".join(words),
                        answer=" ".join(sorted(words)), metadata={"difficulty": difficulty})

    @staticmethod
    def _words(question: Question) -> list[str]:
        if "List:" not in question.text:
            raise ValueError(f"not a word sorting question: {question.text!r}")
        return question.text.split("List:", 1)[1].split()

    def solve(self, question: Question) -> list[str]:
        words = self._words(question)
        tree: list = [("?", words)]
        steps: list[str] = []
        path = self._first_open(tree)
        depth = 0
        while path is not None:
            group = self._at(tree, path)[1]
            claims = " ".join(f'"{w}": "{letter(w, depth)}" ({rank(letter(w, depth))}).' for w in group)
            buckets: dict[str, list[str]] = {}
            for w in sorted(group, key=lambda w: letter(w, depth)):
                buckets.setdefault(letter(w, depth), []).append(w)
            parts = [ws[0] if len(ws) == 1 else ("?", ws) for ws in buckets.values()]
            now = " < ".join(f"({rank(c)}) {_render([p])}" for c, p in zip(buckets, parts))
            self._replace(tree, path, parts)
            line = f"The {_ordinal(depth)} letter: {claims} We now have: {now}."
            path = self._first_open(tree)
            if path is not None:
                depth = len(path)
                subpart = _render([self._at(tree, path)])
                if len(path) > 1 or len(tree) > 1:
                    line += f" Hence, we have {_render(tree)}."
                line += f" Now let's sort this subpart {subpart} by looking at their {_ordinal(depth)} letters."
            else:
                line += f" Hence, we have {_render(tree)}. So the answer is {' '.join(sorted(words))}."
            steps.append(line)
        return steps

    @staticmethod
    def _first_open(tree: list, prefix: tuple = ()) -> tuple | None:
        for i, part in enumerate(tree):
            if isinstance(part, tuple):
                if part[0] == "?":
                    return prefix + (i,)
                found = Sorting._first_open(part[1], prefix + (i,))
                if found is not None:
                    return found
        return None

    @staticmethod
    def _at(tree: list, path: tuple):
        node = tree[path[0]]
        for i in path[1:]:
            node = node[1][i]
        return node

    @staticmethod
    def _replace(tree: list, path: tuple, parts: list) -> None:
        siblings = tree if len(path) == 1 else Sorting._at(tree, path[:-1])[1]
        siblings[path[-1]] = parts[0] if len(parts) == 1 and isinstance(parts[0], str) else ("<", parts)
        if len(path) == 1 and len(tree) == 1 and isinstance(tree[0], tuple) and tree[0][0] == "<":
            tree[:] = tree[0][1]  # the whole list's first split is the top level

    def check(self, question: Question, rationale: str) -> StepFeedback:
        words = self._words(question)
        position = {w: i for i, w in enumerate(sorted(words))}
        return self.first_wrong(question, rationale, lambda step: self._check_step(step, position))

    @staticmethod
    def _check_step(step: str, position: dict[str, int]) -> tuple | None:
        heading = _LETTER_LINE.search(step)
        if not heading:
            return None
        if heading.group(1) not in ORDINALS:
            return "unparseable", heading.group(0), "Letters are counted first, second, third, ..."
        depth = ORDINALS.index(heading.group(1))
        for word, char, number in _CLAIM.findall(step):
            if word not in position:
                return "wrong", f'"{word}"', f'"{word}" is not in the list.'
            if char != letter(word, depth) or int(number) != rank(char):
                true = letter(word, depth)
                return "wrong", f'"{word}": "{char}" ({number})', \
                    f'The {_ordinal(depth)} letter of "{word}" is "{true}" ({rank(true)}).'
        for statement in _ORDER.findall(step):
            for number, item in _ITEM.findall(statement):
                for word in re.findall(r'"([^"]+)"', item):
                    if word in position and rank(letter(word, depth)) != int(number):
                        return "wrong", f"({number}) {item}", f'The {_ordinal(depth)} letter of "{word}" is "{letter(word, depth)}".'
            segments = [re.findall(r'"([^"]+)"', seg) for seg in statement.split("<")]
            for left, right in zip(segments, segments[1:]):
                if left and right and all(w in position for w in left + right) and \
                        max(position[w] for w in left) > min(position[w] for w in right):
                    return "wrong", f'"{left[-1]}" < "{right[0]}"', "They are in the wrong order."
        return None
