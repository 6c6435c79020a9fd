"""The study assistant: explains a mistake, writes a guideline (parsing its replies, guarding against leaks)."""

from salam.assistant.assistant import AssistantStats, StudyAssistant, analyse_prompt

__all__ = ["AssistantStats", "StudyAssistant", "analyse_prompt"]
