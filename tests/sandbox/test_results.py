"""What comes back from the sandbox: values, exceptions, output, timings, as plain data."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from generation import sandbox
from generation.sandbox import Limits, Result
from tests.sandbox.conftest import CONCURRENCY, alongside, mode_in_use

pytestmark = pytest.mark.usefixtures("isolation")


def test_a_function_returns_its_value_with_keyword_or_positional_inputs() -> None:
    code = "def solve(a, b=10):\n    print('adding')\n    return {'sum': a + b}\n"
    by_name = sandbox.run_sync(code, {"a": 1, "b": 2}, entry="solve")
    assert by_name.ok and by_name.value == {"sum": 3}, by_name
    assert by_name.stdout == "adding\n" and by_name.exit_status == 0
    by_position = sandbox.run_sync(code, [5], entry="solve")
    assert by_position.ok and by_position.value == {"sum": 15}


def test_a_script_reads_its_inputs_and_prints() -> None:
    result = sandbox.run_sync("print(sum(inputs))\n", [1, 2, 3])
    assert result.ok and result.value is None and result.stdout == "6\n", result


def test_an_async_entry_function_is_awaited() -> None:
    code = "import asyncio\nasync def solve(n):\n    await asyncio.sleep(0)\n    return n\n"
    assert sandbox.run_sync(code, [7], entry="solve").value == 7


def test_an_exception_is_reported_with_its_type_message_and_the_programs_traceback() -> None:
    result = alongside("def solve(x):\n    return x / 0\n", [1], entry="solve")
    assert not result.ok and result.limit is None
    assert result.exc_type == "ZeroDivisionError" and result.exc_message == "division by zero"
    assert 'File "<sandbox>", line 2, in solve' in result.traceback
    assert "return x / 0" in result.traceback
    assert "worker.py" not in result.traceback  # the runner's own frames are cut
    assert result.error == "ZeroDivisionError: division by zero"


def test_a_missing_entry_a_syntax_error_and_sys_exit_are_results_too() -> None:
    missing = sandbox.run_sync("x = 1\n", entry="solve")
    assert missing.exc_type == "NameError" and "'solve'" in missing.exc_message
    broken = sandbox.run_sync("def solve(:\n", entry="solve")
    assert broken.exc_type == "SyntaxError"
    exited = sandbox.run_sync("import sys\nsys.exit(3)\n")
    assert not exited.ok and exited.exit_status == 3 and exited.exc_type is None
    assert exited.error == "exit status 3"


def test_a_return_value_that_is_not_json_is_an_error() -> None:
    result = sandbox.run_sync("def solve():\n    return {1, 2}\n", entry="solve")
    assert not result.ok and result.exc_type == "ValueError"
    assert "not JSON-serialisable" in result.exc_message
    too_big = sandbox.run_sync(
        "def solve():\n    return 'x' * 5000\n", entry="solve", limits=Limits(result_kb=4)
    )
    assert too_big.limit == "output" and "over 4 KB" in too_big.exc_message


def test_stdout_and_stderr_are_capped_and_flagged() -> None:
    # The first stream past its cap stops the program; what came before it is kept.
    code = "import sys\nsys.stderr.write('e' * 99 + '\\n')\nprint('x' * 100_000)\n"
    result = alongside(code, limits=Limits(output_kb=4))
    assert not result.ok and result.limit == "output", result
    assert result.stdout == "x" * 4096 and result.stdout_truncated
    assert result.stderr == "e" * 99 + "\n" and not result.stderr_truncated
    code = "import sys\nprint('fine')\nsys.stderr.write('e' * 100_000)\n"
    result = sandbox.run_sync(code, limits=Limits(output_kb=4))
    assert result.limit == "output" and result.stderr == "e" * 4096 and result.stderr_truncated
    assert result.stdout == "fine\n" and not result.stdout_truncated


def test_a_file_over_the_size_limit_fails_with_fsize() -> None:
    code = "with open('big', 'wb') as f:\n    f.write(b'0' * 3 * 1024 * 1024)\n"
    result = alongside(code, limits=Limits(file_mb=1))
    assert not result.ok and result.limit == "fsize", result
    assert result.exc_type == "OSError" and "File too large" in result.exc_message


def test_the_work_dir_is_thrown_away_after_each_call() -> None:
    code = "import os\nopen('note.txt', 'w').write('x')\nprint(os.getcwd())\n"
    first = sandbox.run_sync(code)
    assert first.ok, first
    second = sandbox.run_sync("import os\nprint(os.listdir('.'))\n")
    assert second.ok and second.stdout == "[]\n", second
    workdir = Path(first.stdout.strip())
    if first.isolation == "guard":  # a host directory: deleted
        assert not workdir.exists()
    else:  # a tmpfs in the program's own mount namespace: gone with it
        assert str(workdir) == "/sandbox" and not (workdir / "note.txt").exists()


def test_timings_and_the_isolation_are_reported_and_the_result_is_json(isolation: str) -> None:
    result = sandbox.run_sync("def solve():\n    return sum(range(10 ** 6))\n", entry="solve")
    assert result.ok and result.value == sum(range(10**6))
    assert 0 < result.wall_s <= result.elapsed_s
    assert result.cpu_s is not None and 0 < result.cpu_s <= result.wall_s + 0.05
    assert result.isolation == mode_in_use(isolation)
    again = Result.from_json(json.loads(json.dumps(result.to_json())))
    assert again == result


def test_concurrent_calls_overlap_up_to_the_cap_without_blocking_the_loop() -> None:
    code = "import time\ndef solve():\n    t = time.time()\n    time.sleep(0.4)\n"
    code += "    return [t, time.time()]\n"

    async def go() -> tuple[list[Result], int]:
        calls = asyncio.gather(*(sandbox.run(code, entry="solve") for _ in range(6)))
        ticks = 0
        while not calls.done():
            await asyncio.sleep(0.01)
            ticks += 1
        return await calls, ticks

    results, ticks = asyncio.run(go())
    assert all(r.ok for r in results), results
    spans: list[Any] = [r.value for r in results]
    most = max(sum(1 for s, e in spans if s <= t < e) for t, _ in spans)
    assert 2 <= most <= CONCURRENCY
    assert ticks >= 20  # the loop kept turning while the programs ran (≥ 0.8 s)


def test_inputs_that_are_not_json_are_the_callers_error() -> None:
    with pytest.raises(TypeError):
        sandbox.run_sync(NOTHING, {"x": object()})


NOTHING = "pass\n"
