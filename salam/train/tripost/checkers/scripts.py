"""The script feedback modules by BBH task name."""

from __future__ import annotations

from salam.errors import SalamError
from salam.train.tripost.checkers.arithmetic import Arithmetic
from salam.train.tripost.checkers.base import ScriptTask
from salam.train.tripost.checkers.boolean import Boolean
from salam.train.tripost.checkers.dyck import Dyck
from salam.train.tripost.checkers.sorting import Sorting

SCRIPTS: dict[str, ScriptTask] = {task.name: task for task in (Arithmetic(), Sorting(), Boolean(), Dyck())}


def script_for(task: str) -> ScriptTask:
    """The task's script, or a one-line error naming the tasks that have one."""
    if task not in SCRIPTS:
        raise SalamError(f"no script feedback for {task!r}: scripts exist for {', '.join(SCRIPTS)}; "
                         "use --feedback assistant for other tasks")
    return SCRIPTS[task]
