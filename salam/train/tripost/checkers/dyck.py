"""BBH ``dyck_languages``: close a bracket sequence, checked line by line of the stack trace.

The BBH exemplars process the input one symbol per line (``3: [ ; stack: [ { [``), then state the final
stack, what to pop and what to write. The script replays the input and names the first line whose
symbol, position or stack is not the true one. Difficulty = symbols in the input.
"""

from __future__ import annotations

import random
import re

from salam.train.tripost.checkers.base import ScriptTask, StepFeedback, steps_of
from salam.types import Question

PAIRS = {"(": ")", "[": "]", "{": "}", "<": ">"}
PROMPT = "Complete the rest of the sequence, making sure that the parentheses are closed properly. Input: "
_TRACE = re.compile(r"^(\d+)\s*:\s*(.*?)\s*;\s*stack\s*:\s*(.*?)\s*\.?$")
_FINAL = re.compile(r'final stack is\s*"([^"]*)"')
_POP = re.compile(r"pop out (.*?) one by one")
_NEED = re.compile(r"we need (.*?)\.\s*So the answer", re.IGNORECASE)


def _stack_text(stack: list[str]) -> str:
    return " ".join(stack) if stack else "empty"


def _quoted(text: str) -> list[str]:
    return re.findall(r'"([^"]*)"', text)


class Dyck(ScriptTask):
    name = "dyck_languages"
    seen = (4, 8, 12, 16, 20)
    unseen = (30, 40)

    def generate(self, rng: random.Random, difficulty: int, index: int = 0) -> Question:
        while True:  # rejection: the sequence must leave something to close
            stack: list[str] = []
            symbols: list[str] = []
            for position in range(difficulty):
                left = difficulty - position
                if stack and (rng.random() < 0.45 or len(stack) >= left + 2):
                    symbols.append(PAIRS[stack.pop()])
                else:
                    opener = rng.choice(list(PAIRS))
                    stack.append(opener)
                    symbols.append(opener)
            if stack:
                break
        answer = " ".join(PAIRS[s] for s in reversed(stack))
        return Question(id=f"gen-{self.name}-d{difficulty}-{index}", task=self.name, text=PROMPT + " ".join(symbols),
                        answer=answer, metadata={"difficulty": difficulty})

    @staticmethod
    def _symbols(question: Question) -> list[str]:
        if "Input:" not in question.text:
            raise ValueError(f"not a Dyck question: {question.text!r}")
        return question.text.split("Input:", 1)[1].split()

    @staticmethod
    def _stacks(symbols: list[str]) -> list[list[str]]:
        """The stack after each symbol (index 0: before any)."""
        stacks, stack = [[]], []
        for symbol in symbols:
            if symbol in PAIRS:
                stack = stack + [symbol]
            elif stack and PAIRS[stack[-1]] == symbol:
                stack = stack[:-1]
            else:
                raise ValueError(f"{symbol!r} closes nothing open")
            stacks.append(stack)
        return stacks

    def solve(self, question: Question) -> list[str]:
        symbols = self._symbols(question)
        stacks = self._stacks(symbols)
        final = stacks[-1]
        pops = ", ".join(f'"{s}"' for s in reversed(final))
        needs = ", ".join(f'"{PAIRS[s]}"' for s in reversed(final))
        answer = " ".join(PAIRS[s] for s in reversed(final))
        return [
            "We should process each input one by one and keep track of the stack configuration.",
            "0: empty stack",
            *[f"{i}: {symbol} ; stack: {_stack_text(stacks[i])}" for i, symbol in enumerate(symbols, 1)],
            f'Now, we have reached the end. The final stack is "{" ".join(final)}".',
            f"We will need to pop out {pops} one by one in that order.",
            f"So, we need {needs}. So the answer is {answer}.",
        ]

    def check(self, question: Question, rationale: str) -> StepFeedback:
        symbols = self._symbols(question)
        stacks = self._stacks(symbols)
        final = stacks[-1]
        steps = steps_of(rationale)
        expected = 1
        for number, step in enumerate(steps, 1):
            wrong = lambda part, why: StepFeedback("wrong", number, part, why)  # noqa: E731
            trace = _TRACE.match(step)
            if trace:
                index, symbol, stack = int(trace.group(1)), trace.group(2), trace.group(3).split()
                if index != expected or index > len(symbols):
                    return wrong(step, f"The next input is number {expected}." if expected <= len(symbols)
                                 else "Every input has already been processed.")
                if symbol != symbols[index - 1]:
                    return wrong(f"{index}: {symbol}", f"Input {index} is {symbols[index - 1]}.")
                if stack != (stacks[index] or ["empty"]):
                    return wrong(f"stack: {' '.join(stack)}", f"After {symbol} the stack is {_stack_text(stacks[index])}.")
                expected += 1
                continue
            stated = _FINAL.search(step)
            if stated:
                if expected <= len(symbols):
                    return wrong(stated.group(0), f"Input {expected} ({symbols[expected - 1]}) has not been processed yet.")
                if stated.group(1).split() != final:
                    return wrong(stated.group(0), f'The final stack is "{" ".join(final)}".')
            pop = _POP.search(step)
            if pop and _quoted(pop.group(1)) != list(reversed(final)):
                return wrong(pop.group(0), "The stack is popped from its top, the last symbol opened.")
            need = _NEED.search(step)
            if need and _quoted(need.group(1)) != [PAIRS[s] for s in reversed(final)]:
                return wrong(need.group(1), "Each popped symbol is closed by its own partner.")
        return self.answer_step(question, steps) or StepFeedback("correct")
