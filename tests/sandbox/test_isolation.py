"""Which fence a program gets: namespaces where the kernel allows them, else the guard."""

from __future__ import annotations

import os
from typing import Any

import pytest

from generation.sandbox import Config, Limits, pool
from generation.sandbox.isolation import GUARD, NAMESPACE, command
from tests.sandbox.conftest import namespaces_work


def test_auto_takes_namespaces_where_the_kernel_gives_them_and_says_why_not() -> None:
    box = pool.Sandbox(Config(isolation="auto", warm=0))
    try:
        mode, works = box.mode(), namespaces_work()
        if not works:
            assert mode == GUARD and box.fallback
        elif os.geteuid() == 0:  # root with namespaces: nothing should stop the view
            assert mode == NAMESPACE and box.fallback == ""
        else:  # a user namespace may still refuse more than a tmpfs (AppArmor): then say so
            assert mode == NAMESPACE or box.fallback
    finally:
        box.close()


def test_auto_falls_back_to_the_guard_when_the_namespace_runner_fails(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(mode: str) -> list[str]:
        return ["/bin/sh", "-c", "echo 'unshare: Operation not permitted' >&2; exit 1"] if (
            mode == NAMESPACE) else command(mode)  # fmt: skip

    monkeypatch.setattr(pool, "command", broken)
    monkeypatch.setattr(pool, "unshare", lambda: "/usr/bin/unshare")  # found, but it fails
    box = pool.Sandbox(Config(isolation="auto", warm=0))
    try:
        assert box.mode() == GUARD and "Operation not permitted" in box.fallback
        result = box.call("def solve():\n    return 'still works'\n", None, "solve", Limits())
        assert result.ok and result.value == "still works" and result.isolation == GUARD
    finally:
        box.close()


def test_a_runner_that_dies_is_a_result_not_an_exception(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pool, "command", lambda mode: ["/bin/sh", "-c", "kill -9 $$"])
    box = pool.Sandbox(Config(isolation="guard", warm=0))
    try:
        result = box.call("pass\n", None, None, Limits())
        assert not result.ok and result.exc_type == "SandboxError"
        assert "exit status -9" in result.exc_message
    finally:
        box.close()


@pytest.mark.parametrize("setting", [{"isolation": "off"}, {"concurrency": 0}])
def test_a_bad_setting_is_refused(setting: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="SEEDBED_SANDBOX_"):
        Config(**setting)


def test_limits_take_their_defaults_from_the_settings(settings: Any) -> None:
    settings.SEEDBED_SANDBOX_WALL_SECONDS = "2.5"
    settings.SEEDBED_SANDBOX_MEMORY_MB = "128"
    assert Limits.defaults() == Limits(wall_s=2.5, memory_mb=128)
    assert Limits.of(cpu_s=1) == Limits(wall_s=2.5, memory_mb=128, cpu_s=1)
    with pytest.raises(TypeError, match="timeout"):
        Limits.of(timeout=3)
    with pytest.raises(ValueError):
        Limits(procs=0)
