"""Benchmark: Self-Instruct throughput against a fake endpoint, ours and distilabel's.

The endpoint is the project's fake OpenAI-compatible server (tests/fakes/openai_server.py),
run in a process of its own with a fixed latency L and C service slots: at most C requests
are served at once and the rest wait in line, as on a real endpoint with C parallel slots.
So no client can beat the ideal

    ideal samples/s = C / L / (LLM calls per sample)

and both sides are measured against the same ceiling. The fake is scripted so that every
generate call yields 5 new tasks (random words from a 5,000-word made-up vocabulary, so
each passes the ROUGE-L <= 0.7 novelty filter), every classification says "No" and every
instance call yields one valid instance with a unique output: 1 generate call per 5 tasks
plus 2 calls per task, 2.2 calls per sample in a perfect run. The bench counts the calls
rather than assuming them.

Ours: a throw-away embedded Postgres, migrations, a user, project, the Self-Instruct seed
set (shared/data/self-instruct) and an endpoint with max_concurrency=C; then
`start_run(recipe_id="self_instruct")` with Celery eager, so the run's driver runs in this
process, slice after slice, exactly as in a worker. Timed from start_run to its return;
calls per sample = LLMCall rows of the run / Run.produced.

distilabel: the same workload through distilabel 1.5.3 (bench/_distilabel_selfinstruct.py,
in a venv of its own, created under .cache/ on first use), against the same fake: its
SelfInstruct task (5 instructions per call), ExpandColumns, a TextGeneration with our
classification prompt, a TextGeneration with our instance prompts, and a step that parses
the instances: the same 2.2 calls per sample. Each LLM step has input_batch_size=C (up to C
requests in flight per step; the fake's C slots cap the total). Timed around
`pipeline.run()`.

    .venv/bin/python bench/generation.py [--concurrency 32] [--latency 0.5] [--samples 400]
        [--slice-seconds S] [--server-slots N] [--no-distilabel] [--no-ours]
        [--verbose] [--dump-requests FILE] [--profile FILE]

Prints one JSON line (fields: bench/README.md). If distilabel cannot be installed or run,
its fields are null and "distilabel_error" says why. Exits 1 if our run did not complete.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import math
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
SEEDS = SHARED / "data" / "self-instruct" / "seed_tasks.jsonl"
PROMPTS = ROOT / "generation" / "recipes" / "prompts" / "self_instruct"
DISTILABEL_SCRIPT = Path(__file__).resolve().parent / "_distilabel_selfinstruct.py"
DISTILABEL_VENV = ROOT / ".cache" / "bench-venv-distilabel"
DISTILABEL_PINS = ["distilabel[openai]==1.5.3", "requests"]
TASKS_PER_CALL = 5
# The workload's floor: one generate call per 5 tasks, then classify + instances per task.
MIN_CALLS_PER_SAMPLE = 1 / TASKS_PER_CALL + 2

sys.path.insert(0, str(ROOT))

# -- the scripted fake endpoint ------------------------------------------------------------

# Which prompt a request carries; the order matters only for the stats.
KINDS = {
    "generate": r"Come up with a series of new tasks",  # ours (generate.v1.txt)
    "generate_distilabel": r"Develop \d+ user queries",  # distilabel's SelfInstruct template
    "classify": r"Is it classification\?\s*$",  # is_classification.v1.txt
    "instances": r"Come up with examples for the task below|list its possible class labels",
}
VERBS = (
    "Describe Explain Summarize Compare Rewrite Classify Translate Outline Suggest Evaluate "
    "Analyze Critique Paraphrase Simplify Expand Rank Extract Predict Estimate Name"
).split()


def vocabulary(size: int = 5000, seed: int = 7) -> list[str]:
    """Made-up words (2-3 syllables): lexically distinct, none on the recipe's blacklist."""
    rng = random.Random(seed)
    onsets = "b c d f g h j k l m n p r s t v w z br cl dr fl gr pl st tr".split()
    vowels = "a e i o u ai ea ou".split()
    words: set[str] = set()
    while len(words) < size:
        words.add(
            "".join(rng.choice(onsets) + rng.choice(vowels) for _ in range(rng.randint(2, 3)))
        )
    return sorted(words)


def prompt_text(body: dict[str, Any]) -> str:
    if "prompt" in body:
        return str(body["prompt"])
    return str(body["messages"][-1]["content"])


class Workload:
    """The scripted replies; thread-safe (the fake serves each request on its own thread)."""

    def __init__(self, seed: int = 1) -> None:
        self.words = vocabulary()
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def _task(self, rng: random.Random) -> str:
        return f"{rng.choice(VERBS)} the {' '.join(rng.sample(self.words, 9))}."

    def _rngs(self) -> random.Random:
        with self._lock:
            return random.Random(self._rng.getrandbits(64))

    def generate(self, body: dict[str, Any]) -> str:
        # The prompt ends with "N."; the model continues that item, then numbers the rest.
        rng = self._rngs()
        tasks = [self._task(rng) for _ in range(TASKS_PER_CALL)]
        return " " + tasks[0] + "".join(f"\n{20 + i}. {t}" for i, t in enumerate(tasks[1:]))

    def generate_distilabel(self, body: dict[str, Any]) -> str:
        rng = self._rngs()
        return "\n".join(self._task(rng) for _ in range(TASKS_PER_CALL))

    @staticmethod
    def instances(body: dict[str, Any]) -> str:
        task = prompt_text(body).rstrip().rsplit("Task:", 1)[-1].strip()
        digest = hashlib.sha256(task.encode()).hexdigest()[:16]
        return f"Example 1\nInput: <noinput>\nOutput: Answer {digest} for {task[:40]}"


def _kind(body: dict[str, Any]) -> str:
    text = prompt_text(body)
    return next((k for k, pattern in KINDS.items() if re.search(pattern, text, re.DOTALL)), "?")


def serve_fake(latency: float, slots: int) -> None:
    """`--serve-fake`: serve the scripted fake; print its URL; answer "stats"/"reset" on stdin."""
    from tests.fakes.openai_server import FakeOpenAI

    class SlottedFake(FakeOpenAI):
        """At most `slots` requests are served at once; the others wait for a slot."""

        def __init__(self, slots: int, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.slots = threading.BoundedSemaphore(slots) if slots > 0 else None
            self.stat_lock = threading.Lock()
            self.reset_stats()

        def reset_stats(self) -> None:
            with self.stat_lock:
                self.outstanding = self.max_outstanding = self.connections_opened = 0
                self.cpu0 = time.process_time()
                self.first_arrival: float | None = None
                self.last_done: float | None = None
                self.intervals: list[tuple[float, float]] = []
                self.kinds: list[str] = []
            with self._lock:
                self.requests.clear()
                self._texts.clear()
                self.max_in_flight = 0

        def _track(self, conn: Any, *, add: bool) -> None:
            if add:
                with self.stat_lock:
                    self.connections_opened += 1
            super()._track(conn, add=add)

        def _handle_post(self, handler: Any, path: str, body: dict[str, Any]) -> None:
            with self.stat_lock:
                self.outstanding += 1
                self.max_outstanding = max(self.max_outstanding, self.outstanding)
                if self.first_arrival is None:
                    self.first_arrival = time.monotonic()
            try:
                with self.slots or contextlib.nullcontext():
                    served = time.monotonic()
                    super()._handle_post(handler, path, body)
            finally:
                with self.stat_lock:
                    self.outstanding -= 1
                    self.last_done = time.monotonic()
                    self.intervals.append((served, self.last_done))
                    self.kinds.append(_kind(body))

        def busy_by_second(self) -> list[float]:
            """Mean busy slots in each second of the window (for --verbose)."""
            if self.first_arrival is None:
                return []
            t0 = self.first_arrival
            seconds = [0.0] * (int(max((e for _, e in self.intervals), default=t0) - t0) + 1)
            for start, end in self.intervals:
                a, b = start - t0, end - t0
                while a < b:
                    edge = min(b, math.floor(a) + 1)
                    seconds[int(a)] += edge - a
                    a = edge
            return [round(x, 1) for x in seconds]

        def stats(self) -> dict[str, Any]:
            with self.stat_lock:
                window = (
                    self.last_done - self.first_arrival
                    if self.first_arrival is not None and self.last_done is not None
                    else None
                )
                out: dict[str, Any] = {
                    "window_s": window,
                    "busy_by_second": self.busy_by_second(),
                    "first_arrival": self.first_arrival,  # time.monotonic(): system-wide
                    "last_done": self.last_done,
                    "max_outstanding": self.max_outstanding,
                    "connections_opened": self.connections_opened,
                    "fake_cpu_s": time.process_time() - self.cpu0,
                    "max_in_flight": self.max_in_flight,
                    "requests": self.count(),
                }
            out.update({kind: self.count(pattern) for kind, pattern in KINDS.items()})
            return out

    work = Workload()
    fake = SlottedFake(slots, latency=latency)
    fake.script(KINDS["generate"], work.generate)
    fake.script(KINDS["generate_distilabel"], work.generate_distilabel)
    fake.script(KINDS["classify"], "No")
    fake.script(KINDS["instances"], work.instances)
    fake.start()
    print(fake.base_url, flush=True)
    try:
        for line in sys.stdin:
            command = line.strip()
            if command == "stats":
                print(json.dumps(fake.stats()), flush=True)
            elif command == "dump":  # every served request: kind, start and end (s)
                t0 = fake.first_arrival or 0.0
                rows = [
                    (k, round(a - t0, 4), round(b - t0, 4))
                    for k, (a, b) in zip(fake.kinds, fake.intervals, strict=True)
                ]
                print(json.dumps(rows), flush=True)
            elif command == "reset":
                fake.reset_stats()
                print("{}", flush=True)
    finally:
        fake.stop()


class FakeProcess:
    def __init__(self, latency: float, slots: int) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                str(Path(__file__).resolve()),
                "--serve-fake",
                "--latency",
                str(latency),
                "--server-slots",
                str(slots),
            ],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.base_url = self.proc.stdout.readline().strip()
        if not self.base_url.startswith("http"):
            self.close()
            raise RuntimeError("the fake server did not start")

    def _ask(self, command: str) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return dict(json.loads(self.proc.stdout.readline()))

    def stats(self) -> dict[str, Any]:
        return self._ask("stats")

    def dump(self) -> list[Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("dump\n")
        self.proc.stdin.flush()
        return list(json.loads(self.proc.stdout.readline()))

    def reset(self) -> None:
        self._ask("reset")

    def close(self) -> None:
        with contextlib.suppress(Exception):
            assert self.proc.stdin is not None
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# -- ours -------------------------------------------------------------------------------------


def run_ours(args: argparse.Namespace, fake: FakeProcess, tmp: Path) -> dict[str, Any]:
    """Set up Django on a throw-away embedded Postgres, then one Self-Instruct run."""
    import warnings

    warnings.filterwarnings("ignore", module="platformdirs")  # no XDG_RUNTIME_DIR here
    from _pg import database_url, start_postgres

    server, host, port = start_postgres(tmp)
    try:
        os.environ.update(
            {
                "DJANGO_SETTINGS_MODULE": "curation.settings",
                "SEEDBED_SKIP_ENV_FILE": "1",
                "DEBUG": "1",
                "SECRET_KEY": "bench-generation-secret-key-0123456789",
                "CELERY_BROKER_URL": "memory://",
                "CELERY_TASK_ALWAYS_EAGER": "1",
                "DATABASE_URL": database_url(host, port),
                "SEEDBED_RUN_SLICE_SECONDS": str(args.slice_seconds),
                "MEDIA_ROOT": str(tmp / "media"),
                "LOG_LEVEL": os.environ.get("LOG_LEVEL", "WARNING"),
            }
        )
        import logging

        import django

        django.setup()
        logging.getLogger("kombu").setLevel(logging.ERROR)  # memory:// has no hostname
        try:
            return _ours_run(args, fake)
        finally:
            from django.db import connections

            connections.close_all()
    finally:
        server.cleanup()


def _ours_run(args: argparse.Namespace, fake: FakeProcess) -> dict[str, Any]:
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from curation.projects.models import LLMCall
    from curation.projects.services import create_project, save_endpoint
    from curation.samples.models import Sample
    from curation.seeds.services import import_seed_set
    from generation.runs.models import Run
    from generation.runs.services import start_run

    call_command("migrate", verbosity=0, interactive=False)
    owner = get_user_model().objects.create_user("bench")
    project = create_project(owner, "Bench")
    seed_set = import_seed_set(
        owner, project, name="self-instruct", data=SEEDS.read_bytes(), filename=SEEDS.name
    )
    endpoint = save_endpoint(
        owner,
        project,
        name="fake",
        base_url=fake.base_url,
        chat_model="fake-model",
        max_concurrency=args.concurrency,
        is_default=True,
    )
    fake.reset()
    profiler = None
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    cpu0, t0, mono0 = time.process_time(), time.perf_counter(), time.monotonic()
    run = start_run(
        owner,
        project,
        recipe_id="self_instruct",
        endpoint=endpoint,
        seed_set=seed_set,
        target_count=args.samples,
        name="bench",
    )
    wall, cpu, mono1 = time.perf_counter() - t0, time.process_time() - cpu0, time.monotonic()
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(args.profile)
    stats = fake.stats()
    if args.dump_requests:
        stats["dump"] = fake.dump()
    run = Run.objects.get(pk=run.pk)
    calls = LLMCall.objects.filter(run=run).count()
    return {
        "status": run.status,
        "error": run.last_error,
        "produced": run.produced,
        "samples_stored": Sample.objects.filter(run=run).count(),
        "llm_calls": calls,
        "wall_s": wall,
        # start_run until the first request reached the fake; the last reply until it returned
        "before_first_call_s": stats["first_arrival"] - mono0 if stats["first_arrival"] else None,
        "after_last_call_s": mono1 - stats["last_done"] if stats["last_done"] else None,
        "cpu_s": cpu,
        "active_s": run.active_seconds,
        "slices": run.slices,
        "filtered": run.filtered,
        "server": stats,
    }


# -- distilabel -------------------------------------------------------------------------------


def distilabel_python(log: Path) -> Path:
    """The distilabel venv's python, created on first use (no torch: OpenAILLM needs none)."""
    python = DISTILABEL_VENV / "bin" / "python"
    probe = [
        str(python),
        "-c",
        "import distilabel, requests; assert distilabel.__version__ == '1.5.3'",
    ]
    if python.exists() and subprocess.run(probe, capture_output=True).returncode == 0:
        return python
    with open(log, "ab") as out:
        if not python.exists():
            base = shutil.which("python3.11") or sys.executable
            subprocess.run([base, "-m", "venv", str(DISTILABEL_VENV)], check=True, stdout=out)
        pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check"]
        # What would be installed, first: distilabel[openai] needs no torch, and a CUDA
        # build of it (gigabytes of nvidia-* wheels) must never come in by accident.
        plan = subprocess.run(
            [*pip, "--dry-run", "--quiet", "--report", "-", *DISTILABEL_PINS],
            check=True,
            capture_output=True,
            text=True,
        )
        names = {i["metadata"]["name"].lower() for i in json.loads(plan.stdout)["install"]}
        heavy = sorted(n for n in names if n == "torch" or n.startswith("nvidia-"))
        if heavy:
            raise RuntimeError(f"installing distilabel would pull in {', '.join(heavy)}")
        subprocess.run([*pip, "-q", *DISTILABEL_PINS], check=True, stdout=out, stderr=out)
    subprocess.run(probe, check=True, capture_output=True)
    return python


def run_distilabel(args: argparse.Namespace, fake: FakeProcess, tmp: Path) -> dict[str, Any]:
    log = tmp / "distilabel.log"
    python = distilabel_python(log)
    fake.reset()
    out_json = tmp / "distilabel.json"
    command = [
        str(python),
        str(DISTILABEL_SCRIPT),
        "--base-url",
        fake.base_url,
        "--concurrency",
        str(args.distilabel_batch or args.concurrency),
        "--generate-rows",
        str(math.ceil(args.samples / TASKS_PER_CALL)),
        "--seeds",
        str(SEEDS),
        "--prompts",
        str(PROMPTS),
        "--cache-dir",
        str(tmp / "distilabel-cache"),
        "--out",
        str(out_json),
    ]
    env = {**os.environ, "DISTILABEL_LOG_LEVEL": "WARNING", "PYTHONWARNINGS": "ignore"}
    with open(log, "ab") as err:
        done = subprocess.run(command, cwd=tmp, env=env, stdout=err, stderr=err, timeout=900)
    if done.returncode != 0 or not out_json.exists():
        tail = log.read_text(errors="replace")[-1500:]
        raise RuntimeError(f"distilabel exited {done.returncode}: {tail}")
    result = dict(json.loads(out_json.read_text()))
    result["server"] = fake.stats()
    if args.dump_requests:
        result["server"]["dump"] = fake.dump()
    return result


# -- the report --------------------------------------------------------------------------------


def rounded(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def utilisation(calls: int, server: dict[str, Any], args: argparse.Namespace) -> float | None:
    """Busy share of the endpoint's slots between the first request and the last reply."""
    window = server.get("window_s")
    return rounded(calls * args.latency / (args.concurrency * window)) if window else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--concurrency", "-c", type=int, default=32, help="endpoint slots C")
    parser.add_argument("--latency", "-l", type=float, default=0.5, help="seconds per call L")
    parser.add_argument("--samples", "-n", type=int, default=400, help="target samples")
    parser.add_argument(
        "--server-slots",
        type=int,
        default=None,
        help="requests the fake serves at once (default C; 0: unlimited)",
    )
    parser.add_argument(
        "--distilabel-batch", type=int, default=None, help="distilabel input_batch_size (C)"
    )
    parser.add_argument(
        "--slice-seconds",
        type=float,
        default=3600.0,
        help="SEEDBED_RUN_SLICE_SECONDS for our run (default: one slice for the whole run)",
    )
    parser.add_argument("--no-distilabel", action="store_true", help="measure ours only")
    parser.add_argument("--no-ours", action="store_true", help="measure distilabel only")
    parser.add_argument("--profile", help="write a cProfile of our run (main thread) here")
    parser.add_argument("--verbose", action="store_true", help="add the raw measurements")
    parser.add_argument(
        "--dump-requests", help="write every served request (side, kind, start, end) here"
    )
    parser.add_argument("--serve-fake", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    slots = args.concurrency if args.server_slots is None else args.server_slots
    if args.serve_fake:
        serve_fake(args.latency, slots)
        return

    report: dict[str, Any] = {
        "bench": "generation",
        "recipe": "self_instruct",
        "concurrency": args.concurrency,
        "latency_s": args.latency,
        "server_slots": slots,
        "target_samples": args.samples,
    }
    tmp = Path(tempfile.mkdtemp(prefix="sbg-"))  # short: the Postgres socket lives inside
    fake = FakeProcess(args.latency, slots)
    raw: dict[str, Any] = {}
    try:
        ideal_calls_per_s = args.concurrency / args.latency
        if not args.no_ours:
            ours = run_ours(args, fake, tmp)
            raw["ours"] = ours
            produced = ours["produced"]
            cps = ours["llm_calls"] / produced if produced else None
            rate = produced / ours["wall_s"] if ours["wall_s"] else None
            ideal = ideal_calls_per_s / cps if cps else None
            report.update(
                samples=produced,
                calls_per_sample=rounded(cps),
                min_calls_per_sample=MIN_CALLS_PER_SAMPLE,
                ours_samples_per_s=rounded(rate, 2),
                ours_ideal_samples_per_s=rounded(ideal, 2),
                ours_fraction_of_ideal=rounded(rate / ideal if rate and ideal else None),
                ours_fraction_of_ideal_at_min_calls=rounded(
                    rate / (ideal_calls_per_s / MIN_CALLS_PER_SAMPLE) if rate else None
                ),
                ours_slot_utilisation=utilisation(ours["llm_calls"], ours["server"], args),
                ours_wall_s=rounded(ours["wall_s"], 2),
                ours_cpu_s=rounded(ours["cpu_s"], 2),
                ours_cpu_ms_per_call=rounded(
                    1000 * ours["cpu_s"] / ours["llm_calls"] if ours["llm_calls"] else None, 2
                ),
                ours_max_in_flight=ours["server"]["max_outstanding"],
                ours_slices=ours["slices"],
                ours_status=ours["status"],
            )
        if not args.no_distilabel:
            try:
                dl = run_distilabel(args, fake, tmp)
            except Exception as exc:  # never fake numbers: report why there are none
                report.update(
                    distilabel_samples_per_s=None,
                    distilabel_fraction_of_ideal=None,
                    ours_over_distilabel=None,
                    distilabel_error=f"{type(exc).__name__}: {exc}"[:2000],
                )
            else:
                raw["distilabel"] = dl
                samples, calls = dl["samples"], dl["server"]["requests"]
                cps = calls / samples if samples else None
                rate = samples / dl["run_s"] if dl["run_s"] else None
                ideal = ideal_calls_per_s / cps if cps else None
                report.update(
                    distilabel_version=dl.get("version"),
                    distilabel_samples=samples,
                    distilabel_calls_per_sample=rounded(cps),
                    distilabel_samples_per_s=rounded(rate, 2),
                    distilabel_fraction_of_ideal=rounded(rate / ideal if rate and ideal else None),
                    distilabel_slot_utilisation=utilisation(calls, dl["server"], args),
                    distilabel_wall_s=rounded(dl["run_s"], 2),
                    distilabel_max_in_flight=dl["server"]["max_outstanding"],
                )
                ours_rate = report.get("ours_samples_per_s")
                report["ours_over_distilabel"] = (
                    rounded(ours_rate / rate, 2) if ours_rate and rate else None
                )
    finally:
        fake.close()
        shutil.rmtree(tmp, ignore_errors=True)
    if args.dump_requests:
        rows = [
            [side, *row] for side, result in raw.items() for row in result["server"].pop("dump", [])
        ]
        Path(args.dump_requests).write_text(json.dumps(rows))
    if args.verbose:
        report["raw"] = raw
    print(json.dumps(report), flush=True)
    if not args.no_ours and (
        report.get("ours_status") != "completed" or report.get("samples", 0) < args.samples
    ):
        sys.exit(1)  # our run did not finish: a failure, not a slow result


if __name__ == "__main__":
    main()
