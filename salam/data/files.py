"""Where benchmark files come from: ``--data-dir`` / ``$SALAM_DATA_DIR``, else the salam cache, else a one-time download.

A downloaded file's sha256 is written beside it and checked on every later read, so a truncated or
altered cache file is caught instead of silently skewing results.
"""

from __future__ import annotations

import hashlib
import os
import urllib.request
from pathlib import Path

from salam._util.home import salam_home
from salam.errors import DataError

OFFICIAL_URLS = {
    "bbq": "https://raw.githubusercontent.com/nyu-mll/BBQ/main/data/{name}.jsonl",
    "bbh": "https://raw.githubusercontent.com/suzgunmirac/BIG-Bench-Hard/main/bbh/{name}.json",
    "bbh-cot-prompts": "https://raw.githubusercontent.com/suzgunmirac/BIG-Bench-Hard/main/cot-prompts/{name}.txt",
}
SUFFIX = {"bbq": ".jsonl", "bbh": ".json", "bbh-cot-prompts": ".txt"}


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_data_text(path: Path) -> str:
    """A data file's text; an unreadable or undecodable file is a one-line error."""
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read {path}: {exc}") from exc


def data_dir(explicit: str | Path | None = None) -> Path | None:
    """The user's local data folder, if one was given (flag first, then ``SALAM_DATA_DIR``)."""
    value = explicit or os.environ.get("SALAM_DATA_DIR")
    return Path(value).expanduser() if value else None


def locate(benchmark: str, name: str, explicit_dir: str | Path | None = None, download: bool = True) -> Path:
    """Path of ``<benchmark>/<name><suffix>``: local folder, cache, or downloaded into the cache."""
    filename = f"{name}{SUFFIX[benchmark]}"
    looked: list[str] = []
    local = data_dir(explicit_dir)
    if local is not None:
        candidate = local / benchmark / filename
        if candidate.is_file():
            return candidate
        looked.append(str(candidate))
    cached = salam_home(create=False) / "data" / benchmark / filename
    checksum = cached.with_name(cached.name + ".sha256")
    if cached.is_file():
        if checksum.is_file() and checksum.read_text().strip() != sha256_file(cached):
            raise DataError(f"cached file {cached} does not match its checksum; delete it to download again")
        return cached
    looked.append(str(cached))
    if download:
        url = OFFICIAL_URLS[benchmark].format(name=name)
        try:
            salam_home()
            cached.parent.mkdir(parents=True, exist_ok=True)
            tmp = cached.with_name(cached.name + ".part")
            with urllib.request.urlopen(url, timeout=30) as response, tmp.open("wb") as out:  # noqa: S310 - fixed https URL
                out.write(response.read())
            checksum.write_text(sha256_file(tmp) + "\n")
            tmp.replace(cached)
            return cached
        except OSError as exc:
            looked.append(f"{url} ({type(exc).__name__})")
    raise DataError(
        f"{benchmark} file {filename} not found: looked in {'; '.join(looked)}. "
        f"Point --data-dir or SALAM_DATA_DIR at a folder containing {benchmark}/{filename}"
    )
