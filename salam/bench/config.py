"""The settings of a benchmark run: saved in its manifest, checked on ``--resume``."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

from salam.answering.cot import COT_MAX_NEW_TOKENS
from salam.conditions import CONDITION_NAMES
from salam.defaults import BATCH_SIZE, DEFAULT_RANK, SAME_TASK, retrieval_for
from salam.errors import SalamError


@dataclass
class BenchConfig:
    """Everything that decides a benchmark run's results; saved in its manifest and checked on ``--resume``."""

    benchmark: str
    """``bbq`` or ``bbh``."""
    model: str = "local"
    """Main model spec."""
    assistant: str | None = None
    """Study assistant spec (default: the main model)."""
    tasks: list[str] = field(default_factory=list)
    """Categories (BBQ) or tasks/subsets (BBH); empty: all available (BBH: the paper's 16)."""
    limit: int | None = 40
    """Test questions per task (None: all)."""
    train_limit: int | None = 12
    """Train questions per task to gather on (None: all)."""
    conditions: list[str] = field(default_factory=lambda: ["none", "mistake", "feedback"])
    """Memory conditions to examine, in order (``none`` first gives the paired baseline)."""
    k: int | None = None
    """Memories per question (None: the paper's value for the benchmark)."""
    threshold: float | None = None
    """Least cosine similarity (None: the paper's value for the benchmark)."""
    rounds: int = 1
    """Retries with feedback per mistake while gathering."""
    answer_mode: str = "choice"
    """``choice`` (letter scoring: local models, or a server's logprobs), ``generate`` (one line) or ``cot`` (steps after BBH's chain-of-thought prompt)."""
    shots: int = 3
    """Chain-of-thought exemplars per prompt in ``cot`` mode (BBH's evaluation: 3)."""
    batch_size: int = BATCH_SIZE
    """Prompts per model call."""
    seed: int = 0
    """Seed of the stratified split."""
    split: str = "seeded"
    """``seeded`` (stratified) or ``file-order`` (the paper's)."""
    train_fraction: float = 0.8
    """Share of each task that is the train split."""
    memory: str | None = None
    """A shared memory folder (default: the run's own ``memory/``)."""
    namespace: str | None = None
    """Namespace to gather into and read from (default: one of the run's own)."""
    gather: bool = True
    """Gather on the train split first (False: examine with the memory as it is)."""
    embedder: str | None = None
    """Embedder of a new memory (default: the bundled MiniLM)."""
    data_dir: str | None = None
    """Folder with ``bbq/`` and ``bbh/`` (default: ``$SALAM_DATA_DIR``, then the cache)."""
    base_url: str | None = None
    """OpenAI-compatible server for ``openai:`` specs."""
    same_task: bool = SAME_TASK
    """Retrieve only memories of the question's own task."""
    rank: str = DEFAULT_RANK
    """How retrieval orders its hits (:data:`salam.defaults.RETRIEVAL_RANKS`; ``similarity`` is the paper's)."""
    self_correct: bool = False
    """Also run the two-attempt self-correction protocol on the test split (Acc@t1, Acc@t2, Δ...)."""
    self_correct_memory: bool = False
    """Attempt 2 carries the memory's guidelines for the question (the feedback_only condition)."""
    self_correct_mode: str = "two-attempt"
    """``two-attempt`` (SCoRe's protocol), ``tripost`` (attempt → own feedback → update, chain of thought) or
    ``verify`` (attempt → verification → a revision only when P(wrong) reaches ``verify_threshold``)."""
    verify_threshold: float | None = None
    """``verify`` mode: τ; None takes the one a `salam train verify` model's manifest records, else 0.5."""
    verify_reading: str | None = None
    """``verify`` mode, choice answers: a revision's final letter is its best (``any``) or its best other than the
    first answer's (``another``); None takes the model's manifest's, else ``any``."""
    verify_threshold_by_role: dict[str, float] | None = None
    """``verify`` mode: τ per answer role (BBQ's unknown / named) that the model's training chose on held-out
    questions; a given ``verify_threshold`` replaces it (one τ for every answer)."""
    max_rounds: int = 5
    """Updates at most, in ``tripost`` mode."""
    wrong_threshold: float | None = None
    """``tripost`` mode: the model's feedback names a wrong step when its P(" In" vs " All") reaches this
    (salam's addition; None: its greedy feedback)."""
    max_new_tokens: int | None = None
    """Tokens one chain-of-thought turn may write (``cot`` answers, ``tripost`` attempts and updates; None: 512).
    Local models only; a model that never states its answer costs this much per turn."""
    engine: str = "transformers"
    """What runs ``local`` specs: ``transformers``, ``llamacpp`` (the ``[llamacpp]`` extra) or ``llamacpp-f32``
    (llama.cpp on a float32 copy of the GGUF: transformers' letters)."""
    logprobs: str = "completions"
    """``openai:`` models in choice mode: letter log-probabilities from ``completions`` or ``chat``."""
    max_concurrency: int = 10
    """``openai:`` models: requests in flight at most (inspect_ai's default)."""
    max_retries: int = 5
    """``openai:`` models: retries on rate limits, 5xx and timeouts, with exponential backoff."""
    timeout: float = 120.0
    """``openai:`` models: seconds a request may take before it is retried."""

    SERVING_ONLY: ClassVar[tuple[str, ...]] = ("max_concurrency", "max_retries", "timeout")
    """Settings that change how requests go out, never a result: ``--resume`` may change them."""
    BEFORE_RECORDED: ClassVar[dict[str, Any]] = {"rank": "similarity"}
    """What a run made before a setting was recorded used, where that is not today's default (``--resume`` compares it)."""

    def serving(self) -> Any:
        """The :class:`~salam.models.serving.ServingOptions` of ``openai:`` models (checked: one line if wrong)."""
        from salam.models.serving import ServingOptions

        return ServingOptions(self.max_concurrency, self.max_retries, self.timeout, self.logprobs)  # type: ignore[arg-type]

    @property
    def cot_tokens(self) -> int:
        """The token budget of one chain-of-thought turn."""
        return self.max_new_tokens or COT_MAX_NEW_TOKENS

    def resolved(self) -> "BenchConfig":
        """Fill the paper's retrieval defaults and check the values that are not checked elsewhere."""
        k, threshold = retrieval_for(self.benchmark)
        self.k = k if self.k is None else self.k
        self.threshold = threshold if self.threshold is None else self.threshold
        self.assistant = self.assistant or self.model
        if not self.conditions and not self.self_correct and not self.self_correct_memory:
            raise SalamError(f"--conditions is empty: give one or more of {', '.join(CONDITION_NAMES)}")
        bad = [c for c in self.conditions if c not in CONDITION_NAMES]
        if bad:
            raise SalamError(f"unknown condition(s) {', '.join(bad)}; choose from {', '.join(CONDITION_NAMES)}")
        if self.answer_mode not in ("generate", "choice", "cot"):
            raise SalamError("--answer-mode must be choice, generate or cot")
        if self.self_correct_mode not in ("two-attempt", "tripost", "verify"):
            raise SalamError(f"--self-correct must be two-attempt, tripost or verify, not {self.self_correct_mode!r}")
        if self.self_correct_mode == "tripost":
            self.self_correct, self.answer_mode = True, "cot"  # TriPosT reasons in steps
        elif self.self_correct_mode == "verify":
            self.self_correct = True
            if self.verify_threshold is None and self.verify_threshold_by_role is None:
                self.verify_threshold_by_role = _verify_role_thresholds(self.model)
            self.verify_threshold = _verify_threshold(self.verify_threshold, self.model)
            self.verify_reading = _verify_reading(self.verify_reading, self.model)
        elif self.answer_mode == "cot" and (self.self_correct or self.self_correct_memory):
            raise SalamError("two-attempt self-correction runs in choice or generate mode; "
                             "in cot mode use --self-correct tripost")
        if self.verify_threshold is not None and self.self_correct_mode != "verify":
            raise SalamError("--verify-threshold decides when to revise: use it with --self-correct verify")
        if self.verify_reading is not None and self.self_correct_mode != "verify":
            raise SalamError("--verify-reading reads a revision's letter: use it with --self-correct verify")
        if self.wrong_threshold is not None and self.self_correct_mode != "tripost":
            raise SalamError("--wrong-threshold decides TriPosT's feedback: use it with --self-correct tripost")
        from salam.train.tripost.runner import check_wrong_threshold

        check_wrong_threshold(self.wrong_threshold)
        if self.self_correct_memory and not self.self_correct:
            self.self_correct = True
        from salam.models.resolve import check_engine

        check_engine(self.engine)
        self.serving()
        return self

    def recorded(self) -> dict[str, Any]:
        """The settings as the manifest records them (and ``--resume`` compares them): no credentials."""
        from salam._util.urls import redact_url

        return {**asdict(self), "base_url": redact_url(self.base_url)}


def _verify_threshold(given: float | None, model: str) -> float:
    """τ of a verify run: the given one, else the one the model's training chose (its manifest), else 0.5."""
    from salam.selfcorrect.verify import DEFAULT_THRESHOLD, check_threshold
    from salam.train.folder import trained_setting

    check_threshold(given)
    if given is not None:
        return given
    chosen = trained_setting(model, "verify_threshold")
    return float(chosen) if isinstance(chosen, (int, float)) else DEFAULT_THRESHOLD


def _verify_role_thresholds(model: str) -> dict[str, float] | None:
    """τ per answer role that the model's training chose on held-out questions (its manifest), if any."""
    from salam.selfcorrect.verify import check_threshold
    from salam.train.folder import trained_setting

    chosen = trained_setting(model, "verify_threshold_by_role")
    if not isinstance(chosen, dict) or not chosen:
        return None
    for value in chosen.values():
        check_threshold(value)
    return {str(k): float(v) for k, v in chosen.items()}


def _verify_reading(given: str | None, model: str) -> str:
    """The revision reading of a verify run: the given one, else the one the model's training chose, else ``any``."""
    from salam.selfcorrect.verify import DEFAULT_READING, READINGS, check_reading
    from salam.train.folder import trained_setting

    check_reading(given)
    if given is not None:
        return given
    chosen = trained_setting(model, "verify_reading")
    return chosen if chosen in READINGS else DEFAULT_READING
