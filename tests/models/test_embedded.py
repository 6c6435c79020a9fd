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
