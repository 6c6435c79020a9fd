"""The embedded model's conversion cache: a half-written cache is rebuilt, never loaded."""

from __future__ import annotations


def test_unreadable_cache_is_rebuilt_not_loaded(tmp_path, monkeypatch):
    """A half-written cache folder (no completion marker) is never loaded as a model."""
    from salam.models import embedded

    monkeypatch.setenv("SALAM_HOME", str(tmp_path))
    target = embedded.embedded_model_dir()
    target.mkdir(parents=True)
    (target / "config.json").write_text("{truncated")
    called = {}
    monkeypatch.setattr(embedded, "_convert", lambda t: called.setdefault("path", t))
    assert embedded.ensure_embedded_model() == target
    assert called["path"] == target and not (target / "config.json").exists()


def test_concurrent_first_uses_convert_once(tmp_path, monkeypatch):
    """Two threads (or processes) asking for the model at once: one converts, the other waits for it."""
    import threading
    import time

    from salam.models import embedded

    monkeypatch.setenv("SALAM_HOME", str(tmp_path))
    calls = []

    def slow_convert(target):
        calls.append(target)
        time.sleep(0.5)
        target.mkdir(parents=True)
        (target / embedded._COMPLETE_MARKER).write_text("done\n")
        return target

    monkeypatch.setattr(embedded, "_convert", slow_convert)
    results = []
    threads = [threading.Thread(target=lambda: results.append(embedded.ensure_embedded_model())) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and results[0] == results[1]
