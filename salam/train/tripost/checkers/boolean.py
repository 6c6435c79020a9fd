"""BBH ``boolean_expressions``: ``not ( True ) and ( True ) is``, checked equation by equation.

A rationale reduces the expression ``Z`` (or names parts of it ``"A = ..."``, as BBH's exemplars do)
through chains of ``=``; the script evaluates every side, with each named part replaced by its
definition, and names the first step whose side has the wrong truth value. Difficulty = tokens of the
expression (BBH: 8).
"""

from __future__ import annotations

import random
import re

from salam.train.tripost.checkers.base import ScriptTask, StepFeedback
from salam.types import Question

_LITERALS = ("True", "False")
_WORDS = {"True", "False", "not", "and", "or", "(", ")"}
_QUOTED_DEFINITION = re.compile(r'"([A-Y]) = ([^"=]+)"')
_ANSWER_TAIL = re.compile(r"\.?\s*So the answer is.*$", re.IGNORECASE)


def tokens_of(text: str) -> list[str]:
    for mark in "().,:":
        text = text.replace(mark, f" {mark} ")
    return text.replace('"', " ").split()


def evaluate(tokens: list[str], names: dict[str, list[str]] | None = None, depth: int = 0) -> bool:
    """The truth value of boolean tokens; single capital letters are replaced by their definitions."""
    names = names or {}
    expanded: list[str] = []
    for token in tokens:
        if token in names and depth < 5:
            expanded += ["(", *names[token], ")"]
        elif token in _WORDS:
            expanded.append(token)
        else:
            raise ValueError(f"not a boolean expression: {token!r}")
    if any(t in names for t in expanded):
        return evaluate(expanded, names, depth + 1)
    try:  # the tokens are only literals, not/and/or and brackets: Python's own precedence is the task's
        value = eval(" ".join(expanded), {"__builtins__": {}}, {})  # noqa: S307
    except SyntaxError:
        raise ValueError("not a boolean expression") from None
    if not isinstance(value, bool):
        raise ValueError("not a boolean expression")
    return value


def _reduce(tokens: list[str]) -> list[str]:
    """One step: a bracketed literal loses its brackets; else one operation inside the innermost brackets."""
    if ")" in tokens:
        close = tokens.index(")")
        open_ = max(i for i in range(close) if tokens[i] == "(")
        inner = tokens[open_ + 1 : close]
        if len(inner) == 1:
            return tokens[:open_] + inner + tokens[close + 1:]
        return tokens[: open_ + 1] + _reduce_flat(inner) + tokens[close:]
    return _reduce_flat(tokens)


def _reduce_flat(tokens: list[str]) -> list[str]:
    for i in range(len(tokens) - 1):
        if tokens[i] == "not" and tokens[i + 1] in _LITERALS:
            return tokens[:i] + [str(tokens[i + 1] == "False")] + tokens[i + 2:]
    for op in ("and", "or"):
        for i in range(1, len(tokens) - 1):
            if tokens[i] == op and tokens[i - 1] in _LITERALS and tokens[i + 1] in _LITERALS:
                value = evaluate(tokens[i - 1 : i + 2])
                return tokens[: i - 1] + [str(value)] + tokens[i + 2:]
    raise ValueError("cannot reduce " + " ".join(tokens))


def _run(tokens: list[str], names: dict[str, list[str]], from_end: bool) -> list[str]:
    """The longest run of expression tokens at the end (or start) of a side, dropping prose around it."""
    ok = lambda t: t in _WORDS or t in names or t == "Z"  # noqa: E731
    seq = list(reversed(tokens)) if from_end else tokens
    run: list[str] = []
    for token in seq:
        if not ok(token):
            break
        run.append(token)
    return list(reversed(run)) if from_end else run


class Boolean(ScriptTask):
    name = "boolean_expressions"
    seen = (4, 6, 8)
    unseen = (10, 12)

    def generate(self, rng: random.Random, difficulty: int, index: int = 0) -> Question:
        def expr(budget: int) -> list[str]:
            parts = [term(budget)]
            while rng.random() < 0.6:
                parts += [[rng.choice(("and", "or"))], term(budget)]
            return [t for p in parts for t in p]

        def term(budget: int) -> list[str]:
            nots = ["not"] * rng.choice((0, 0, 1, 1, 2))
            if budget > 0 and rng.random() < 0.3:
                return nots + ["(", *expr(budget - 1), ")"]
            return nots + [rng.choice(_LITERALS)]

        while True:  # rejection: BBH's expressions have an exact token count
            tokens = expr(2)
            if len(tokens) == difficulty:
                break
        return Question(id=f"gen-{self.name}-d{difficulty}-{index}", task=self.name, text=" ".join(tokens) + " is",
                        answer=str(evaluate(tokens)), metadata={"difficulty": difficulty})

    @staticmethod
    def _expression(question: Question) -> list[str]:
        tokens = tokens_of(question.text.strip())
        if tokens[-1:] != ["is"]:
            raise ValueError(f"not a boolean expression question: {question.text!r}")
        return tokens[:-1]

    def solve(self, question: Question) -> list[str]:
        tokens = self._expression(question)
        steps = [f"Z = {' '.join(tokens)}."]
        while len(tokens) > 1:
            tokens = _reduce(tokens)
            steps.append(f"Z = {' '.join(tokens)}.")
        steps[-1] = f"Z = {tokens[0]}. So the answer is {tokens[0]}."
        return steps

    def check(self, question: Question, rationale: str) -> StepFeedback:
        names: dict[str, list[str]] = {"Z": self._expression(question)}
        return self.first_wrong(question, rationale, lambda step: self._check_step(step, names))

    @staticmethod
    def _check_step(step: str, names: dict[str, list[str]]) -> tuple | None:
        for name, definition in _QUOTED_DEFINITION.findall(step):
            names[name] = tokens_of(definition)
        sides = _QUOTED_DEFINITION.sub(" ", _ANSWER_TAIL.sub("", step)).replace('"', " ").split("=")
        if len(sides) < 2:
            return None
        subject = _run(tokens_of(sides[0]), names, from_end=True)
        if not subject:
            return None  # prose
        try:
            target = evaluate(subject, names)
        except ValueError:
            return "unparseable", " ".join(subject), "It is not a boolean expression."
        previous = " ".join(subject)
        for i, side in enumerate(sides[1:], 1):
            tokens = tokens_of(side)
            expression = _run(tokens, names, from_end=False) if i == len(sides) - 1 else tokens
            try:
                value = evaluate(expression, names)
            except ValueError:
                return "unparseable", side.strip(), "It is not a boolean expression."
            if value != target:
                written = " ".join(expression)
                return "wrong", f"{previous} = {written}", f"{written} is {value}, not {target}."
            previous = " ".join(expression)
        return None
