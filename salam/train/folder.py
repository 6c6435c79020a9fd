"""A training folder: the one owner of its layout and of the model spec that loads what it holds.

    OUT/salam_train_run.json        which method and settings this folder's run has (written before training)
    OUT/salam_train_manifest.json   method, base model, data, seed, git sha, settings, results
    OUT/adapter_config.json, ...    a LoRA adapter on the embedded model   -> spec local+lora:OUT
    OUT/model/                      a full model (full fine-tuning, or LoRA merged into an hf: base) -> spec hf:OUT/model
    OUT/checkpoints/                trainer checkpoints (what --resume continues from)
    OUT/iter-N/                     one training folder per iteration (iterative recipes)
    OUT/.salam-train.lock           held while a process trains here: one run per folder at a time

A folder belongs to one method and one run: another method's folder, a resume with other settings, a
second process, or a folder of files salam did not write are refused before anything is touched.
"""

from __future__ import annotations

import shutil
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from salam._util.jsonl import read_json, write_json_atomic
from salam.errors import SalamError

MANIFEST = "salam_train_manifest.json"
LEGACY_IL_MANIFEST = "salam_il_manifest.json"
"""What `salam train il` wrote before every recipe shared MANIFEST; still read."""
RUN_MARKER = "salam_train_run.json"
LOCK = ".salam-train.lock"
SALAM_NAMES = {MANIFEST, LEGACY_IL_MANIFEST, RUN_MARKER, ".salam-write-test", "checkpoints", "model", "sft", "stage1", "stage2", "single-turn",
               "reference.json", "train.jsonl", "validation.jsonl", "adapter_config.json", "adapter_model.safetensors",
               "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja", "README.md",
               "tokenizer.model", "added_tokens.json"}
"""What a training folder may hold besides ``iter-N``: anything else is a user's file, never deleted."""


@dataclass(frozen=True)
class TrainDir:
    path: Path

    @property
    def manifest_path(self) -> Path:
        legacy = self.path / LEGACY_IL_MANIFEST
        return legacy if legacy.is_file() and not (self.path / MANIFEST).is_file() else self.path / MANIFEST

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    @property
    def full_model(self) -> Path:
        return self.path / "model"

    def iteration(self, number: int) -> "TrainDir":
        return TrainDir(self.path / f"iter-{number}")

    def parts(self) -> list[tuple[str, "TrainDir"]]:
        """The finished parts of a recipe's folder, in training order: supervised start, stages, iterations."""
        names = ["sft", "stage1", "stage2", "single-turn"]
        names += sorted((p.name for p in self.path.glob("iter-*") if p.name[5:].isdigit()), key=lambda n: int(n[5:]))
        return [(name, TrainDir(self.path / name)) for name in names if TrainDir(self.path / name).is_finished()]

    def is_finished(self) -> bool:
        return self.manifest_path.is_file()

    def manifest(self) -> dict[str, Any]:
        value = read_json(self.manifest_path)
        if not isinstance(value, dict):
            raise SalamError(f"no {MANIFEST} in {self.path}: is it a finished `salam train` folder?")
        return value

    @contextmanager
    def claim(self, method: str, settings: dict[str, Any], resume: bool, overwrite: bool) -> Iterator["TrainDir"]:
        """Hold the folder for one run of ``method`` while the body trains: refuse a folder that holds something
        unless resuming a run of the same method and settings, or told to overwrite a training folder."""
        from filelock import FileLock, Timeout

        from salam._util.ranks import current_world

        world = current_world()
        if not world.is_main:  # the main process claims for the run; the others learn its verdict
            refused = world.broadcast(None)
            if refused:
                raise SalamError(refused)
            yield self
            return
        lock = FileLock(str(self.path / LOCK), timeout=0, thread_local=False)
        try:
            self._make()
            try:
                lock.acquire()
            except Timeout:
                raise SalamError(f"{self.path} is in use by another `salam train` process: wait for it, or choose another --out") from None
            self._check_contents(method, settings, resume, overwrite)
            if not (self.path / RUN_MARKER).is_file():
                write_json_atomic(self.path / RUN_MARKER, {"method": method, "settings": _comparable(settings)})
        except SalamError as exc:
            world.broadcast(str(exc))
            if lock.is_locked:
                lock.release()
            raise
        world.broadcast(None)
        try:
            yield self
        finally:
            lock.release()

    def _make(self) -> None:
        if self.path.exists() and not self.path.is_dir():
            raise SalamError(f"--out {self.path} is a file: give a folder")
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            probe = self.path / ".salam-write-test"
            probe.write_text("")
            probe.unlink()
        except OSError as exc:
            raise SalamError(f"cannot write --out {self.path}: {exc.strerror or type(exc).__name__}") from None

    def _check_contents(self, method: str, settings: dict[str, Any], resume: bool, overwrite: bool) -> None:
        held = [p for p in self.path.iterdir() if p.name != LOCK]
        if not held:
            return
        foreign = sorted(p.name for p in held if p.name not in SALAM_NAMES and not p.name.startswith("iter-"))
        if foreign:
            raise SalamError(f"{self.path} holds files salam did not write ({', '.join(foreign[:3])}"
                             f"{', ...' if len(foreign) > 3 else ''}): choose an empty or new --out")
        if overwrite:
            for p in held:
                shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()
            return
        if not resume:
            raise SalamError(f"{self.path} is not empty: pass --resume to continue the training there, "
                             "or --overwrite to start again")
        owner, before = self._owner()
        if owner is not None and owner != method:
            raise SalamError(f"{self.path} holds a `salam train {owner}` run: --resume continues only a run of the "
                             f"same method; choose another --out for {method}")
        changed = {k: (before[k], v) for k, v in _comparable(settings).items() if before is not None and k in before and before[k] != v}
        if changed:
            listed = ", ".join(f"--{k.replace('_', '-')} {old!r} -> {new!r}" for k, (old, new) in sorted(changed.items()))
            raise SalamError(f"--resume with changed settings ({listed}): resume with the run's own settings, or --overwrite")

    def _owner(self) -> tuple[str | None, dict[str, Any] | None]:
        """(method, settings) of the run this folder holds, from its run marker or (older folders) its manifest."""
        corrupted = SalamError(f"{self.path}: its {RUN_MARKER} or manifest is corrupted: choose another --out, or --overwrite")
        try:
            marker = read_json(self.path / RUN_MARKER)
            manifest = read_json(self.manifest_path)
        except (ValueError, OSError):
            raise corrupted from None
        if marker is not None:
            if not (isinstance(marker, dict) and isinstance(marker.get("method"), str) and isinstance(marker.get("settings"), dict)):
                raise corrupted
            return marker["method"], marker["settings"]
        if manifest is not None:
            if not (isinstance(manifest, dict) and isinstance(manifest.get("method", ""), str)):
                raise corrupted
            return manifest.get("method"), None
        return None, None

    def spec(self, base: str) -> str:
        """The model spec of what this folder holds (adapter or full model)."""
        if self.full_model.is_dir():
            return f"hf:{self.full_model}"
        if (self.path / "adapter_config.json").is_file() and base == "local":
            return f"local+lora:{self.path}"
        raise SalamError(f"{self.path} holds no trained model")


def _comparable(settings: dict[str, Any]) -> dict[str, Any]:
    """The settings a resume must keep (the folder itself may be named differently: a relative --out)."""
    return {k: v for k, v in settings.items() if k != "out"}


def starting_point(config: Any) -> Any:
    """A recipe's config (with ``init``, ``base``, ``full``) with its starting model resolved: an ``hf:`` init
    becomes the base; a LoRA init stays a spec on ``local``, refused unless it is a LoRA adapter folder."""
    from dataclasses import replace

    init = config.init
    if not init or init == config.base:
        return replace(config, init=None)
    if init.startswith("hf:"):
        return replace(config, base=init, init=None)
    adapter = adapter_of(init)
    if adapter is None or not (adapter / "adapter_config.json").is_file():
        raise SalamError(f"--init must be a trained model spec, local+lora:<folder> or hf:<folder>, not {init!r}")
    if config.base != "local" or config.full:
        raise SalamError("--init local+lora:... continues a LoRA adapter on the embedded model: drop --base/--full")
    return config


def trained_setting(spec: str, key: str) -> Any:
    """A value the training of a model spec recorded in its manifest (``local+lora:DIR``, ``hf:DIR/model``), else None."""
    adapter = adapter_of(spec)
    folder = adapter if adapter is not None else Path(spec[3:]).parent if spec.startswith("hf:") else None
    if folder is None:
        return None
    try:
        manifest = read_json(folder / MANIFEST)
    except (ValueError, OSError):
        return None
    return manifest.get(key) if isinstance(manifest, dict) else None


def adapter_of(spec: str) -> Path | None:
    """The adapter folder of a ``local+lora:`` spec, else None."""
    return Path(spec.split(":", 1)[1]) if spec.startswith("local+lora:") else None


def run_parts(folder: TrainDir, names: list[str], previous: str, one: Callable[[int, str, TrainDir], str],
              log: Callable[[str], None]) -> str:
    """Train a recipe's parts in order, each into ``OUT/<name>`` (stages, iterations); a part whose manifest exists
    is skipped (``--resume``), its spec carried on. ``one(number, previous spec, its folder)`` trains part
    ``number`` (1-based) and returns its spec; the last spec is returned."""
    for number, name in enumerate(names, start=1):
        part = TrainDir(folder.path / name)
        if part.is_finished():
            previous = part.manifest()["spec"]
            log(f"{name}: done before (resume), {previous}")
            continue
        previous = one(number, previous, part)
    return previous


def run_iterations(folder: TrainDir, iterations: int, previous: str, one: Callable[[int, str, TrainDir], str],
                   log: Callable[[str], None]) -> str:
    """Iterations 1..n of an iterative recipe, into ``iter-N`` (:func:`run_parts`)."""
    return run_parts(folder, [folder.iteration(n).path.name for n in range(1, iterations + 1)], previous, one, log)


def save_trained(model: Any, tokenizer: Any, folder: TrainDir, base: str, full: bool) -> str:
    """Save a trained model where its spec can load it; LoRA on an hf: base is merged into a full model.

    Only the main process of a multi-process run writes; the others wait for it, then return the same spec."""
    from salam._util.ranks import current_world

    world = current_world()
    if world.is_main:
        _save(model, tokenizer, folder, base, full)
    world.barrier()
    return folder.spec(base)


def _save(model: Any, tokenizer: Any, folder: TrainDir, base: str, full: bool) -> None:
    if full or base != "local":
        if hasattr(model, "merge_and_unload"):
            model = model.merge_and_unload()
        model.save_pretrained(str(folder.full_model))
        tokenizer.save_pretrained(str(folder.full_model))
    else:
        model.save_pretrained(str(folder.path))
        tokenizer.save_pretrained(str(folder.path))
