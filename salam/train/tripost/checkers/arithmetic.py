"""BBH ``multistep_arithmetic_two``: ``((a + b * c - d) * (e - f + g * h)) =``, checked equation by equation.

Every ``=`` a rationale writes is a claim that two expressions have the same value; the script knows
the true value of each group (``A``, ``B``) and of the whole, so it evaluates every side and names the
first step holding a side that is not equal to what it should be. Difficulty = numbers per group
(BBH: 4).
"""

from __future__ import annotations

import ast
import operator
import random
import re

from salam.train.tripost.checkers.base import ScriptTask, StepFeedback
from salam.types import Question

_FLAT = r"-?\d+(?: [-+*] -?\d+)*"
_QUESTION = re.compile(rf"^\(\(({_FLAT})\) ([-+*]) \(({_FLAT})\)\) =$")
_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul}
_DEFINITION = re.compile(r"\b([AB]) = (\([^=]*?\))(?= and\b|\.?$|\s*\.)")
_SHAPE = re.compile(r'"A ([-+*]) B"')
_CALCULATE = re.compile(r"calculate ([AB]) = (.*)$")
_FINAL = re.compile(r"final equation is (.*)$")
_ANSWER_TAIL = re.compile(r"\.?\s*So the answer is.*$", re.IGNORECASE)


def evaluate(expression: str) -> int:
    """The value of an integer expression with + - * and parentheses (a safe subset of Python's grammar)."""
    def walk(node: ast.AST) -> int:
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.Constant) and type(node.value) is int:
            return node.value
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            value = walk(node.operand)
            return -value if isinstance(node.op, ast.USub) else value
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            return _OPS[type(node.op)](walk(node.left), walk(node.right))
        raise ValueError("not an arithmetic expression")

    text = expression.strip().rstrip(".").strip()
    if not text or len(text) > 400 or not re.fullmatch(r"[\d\s+\-*()]+", text):
        raise ValueError("not an arithmetic expression")
    try:
        return walk(ast.parse(text, mode="eval"))
    except SyntaxError:
        raise ValueError("not an arithmetic expression") from None


def _reduce(tokens: list[str]) -> list[str]:
    """One operation of a flat expression: the first ``*``, else the leftmost ``+``/``-``."""
    at = tokens.index("*") if "*" in tokens else 1
    value = _OPS[{"*": ast.Mult, "+": ast.Add, "-": ast.Sub}[tokens[at]]](int(tokens[at - 1]), int(tokens[at + 1]))
    return tokens[: at - 1] + [str(value)] + tokens[at + 2:]


def _chain(group: str) -> list[str]:
    """``(-5 + 9 * -4 - 0)`` -> the expression after each single operation, down to its value."""
    tokens = group.split()
    out = [f"({group})"]
    while len(tokens) > 1:
        tokens = _reduce(tokens)
        out.append(f"({' '.join(tokens)})" if len(tokens) > 1 else tokens[0])
    return out


class Arithmetic(ScriptTask):
    name = "multistep_arithmetic_two"
    seen = (2, 3, 4)
    unseen = (5, 6)

    def generate(self, rng: random.Random, difficulty: int, index: int = 0) -> Question:
        def group() -> str:
            numbers = [str(rng.randint(-9, 9)) for _ in range(difficulty)]
            ops = [rng.choice("+-*") for _ in range(difficulty - 1)]
            return " ".join(x for pair in zip(numbers, ops + [""]) for x in pair if x)

        text = f"(({group()}) {rng.choice('+-*')} ({group()})) ="
        return Question(id=f"gen-{self.name}-d{difficulty}-{index}", task=self.name, text=text,
                        answer=str(evaluate(text[:-2])), metadata={"difficulty": difficulty})

    @staticmethod
    def _parts(question: Question) -> tuple[str, str, str]:
        match = _QUESTION.match(question.text.strip())
        if not match:
            raise ValueError(f"not a multistep arithmetic question: {question.text!r}")
        return match.group(1), match.group(2), match.group(3)

    def solve(self, question: Question) -> list[str]:
        a, op, b = self._parts(question)
        va, vb = evaluate(a), evaluate(b)
        total = evaluate(f"({va}) {op} ({vb})")
        return [
            f'This equation can be written as "A {op} B", where A = ({a}) and B = ({b}).',
            f"Let's calculate A = {' = '.join(_chain(a))}.",
            f"Let's calculate B = {' = '.join(_chain(b))}.",
            f"Then, the final equation is A {op} B = {va} {op} {vb} = {total}. So the answer is {total}.",
        ]

    def check(self, question: Question, rationale: str) -> StepFeedback:
        a, op, b = self._parts(question)
        truth = {"A": evaluate(a), "B": evaluate(b)}
        total = evaluate(f"({truth['A']}) {op} ({truth['B']})")
        return self.first_wrong(question, rationale, lambda step: self._check_step(step, truth, op, total, a, b))

    @staticmethod
    def _check_step(step: str, truth: dict[str, int], op: str, total: int, a: str, b: str) -> tuple | None:
        """None when the step holds; else (verdict, wrong part, why)."""
        shape = _SHAPE.search(step)
        if shape and shape.group(1) != op:
            return "wrong", f"A {shape.group(1)} B", f"The two groups are combined with {op}."
        for name, written in _DEFINITION.findall(step):
            try:
                if evaluate(written) != truth[name]:
                    raise ValueError
            except ValueError:
                return "wrong", f"{name} = {written}", f"{name} is the {'first' if name == 'A' else 'second'} group, ({a if name == 'A' else b})."
        body = _ANSWER_TAIL.sub("", step)
        calc, final = _CALCULATE.search(body), _FINAL.search(body)
        if calc:
            target, sides = truth[calc.group(1)], calc.group(2).split("=")
        elif final:
            sides = final.group(1).split("=")
            sides[0] = re.sub(r"\b([AB])\b", lambda m: f"({truth[m.group(1)]})", sides[0])
            target = total
        else:
            return None  # prose (the order-of-operations reminder): nothing to check
        previous = calc.group(1) if calc else "A " + op + " B"
        for side in sides:
            try:
                value = evaluate(side)
            except ValueError:
                return "unparseable", side.strip(), "It is not an arithmetic expression."
            if value != target:
                return "wrong", f"{previous.strip()} = {side.strip().rstrip('.')}", f"{side.strip().rstrip('.')} is {value}, not {target}."
            previous = side
        return None
