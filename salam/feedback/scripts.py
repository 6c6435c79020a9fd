"""The script feedback modules by BBH task name."""

from __future__ import annotations

from salam.errors import SalamError
from salam.feedback.arithmetic import Arithmetic
from salam.feedback.base import ScriptTask
from salam.feedback.boolean import Boolean
from salam.feedback.dyck import Dyck
from salam.feedback.sorting import Sorting

SCRIPTS: dict[str, ScriptTask] = {task.name: task for task in (Arithmetic(), Sorting(), Boolean(), Dyck())}


def script_for(task: str) -> ScriptTask:
    """The task's script, or a one-line error naming the tasks that have one."""
    if task not in SCRIPTS:
        raise SalamError(f"no script feedback for {task!r}: scripts exist for {', '.join(SCRIPTS)}; "
                         "use --feedback assistant for other tasks")
    return SCRIPTS[task]
