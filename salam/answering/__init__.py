"""How the main model answers: prompts and batches (answerer), answer extraction and scoring, option parsing."""

from salam.answering.answerer import Answerer, AnswerMode, answer_prompt
from salam.answering.scoring import (
           extract_answer,
           extract_choice,
           extract_free,
           is_correct,
           normalise_letter,
)

__all__ = ["AnswerMode", "Answerer", "answer_prompt", "extract_answer", "extract_choice", "extract_free", "is_correct",
           "normalise_letter"]
