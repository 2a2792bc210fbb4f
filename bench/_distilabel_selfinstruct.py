"""The distilabel side of bench/generation.py (run by it, in distilabel's own venv).

Not a benchmark by itself: `make bench` skips files whose name starts with "_".

The same Self-Instruct workload as our recipe, built from distilabel 1.5.3 parts, so that
it makes the same LLM calls per sample against the same scripted fake:

    LoadDataFromDicts   one row per generate call; "input" is a seed instruction
    SelfInstruct        distilabel's own task: one call -> 5 instructions  (1 call / 5 samples)
    ExpandColumns       instructions -> one row per instruction
    TextGeneration      our is_classification prompt, verbatim               (1 call / sample)
    TextGeneration      our instance prompt, output-first when the verdict
                        is "Yes", input-first otherwise (as the recipe does)  (1 call / sample)
    to_samples          parse "Input:/Output:" instances, drop invalid ones   (1 row / instance)

Generation settings mirror the recipe's (temperature, top_p, presence penalty, max tokens,
stop). Each LLM step has input_batch_size=C: distilabel sends one batch per step at a time,
all of its rows concurrently (asyncio.gather in AsyncLLM), so a step has up to C requests
in flight; steps run in their own processes, so the pipeline as a whole can have more, and
the fake's C slots cap what is served. There is no ROUGE-L filter or instruction heuristic
step (distilabel has none built in, and on this workload they drop nothing): distilabel
does strictly less work per sample than our recipe.

Writes {"samples", "run_s", "version"} as JSON to --out.
"""

# No `from __future__ import annotations`: distilabel's @step reads the StepInput hint at
# run time and does not resolve string annotations.
import argparse
import json
import re
import time
from pathlib import Path
from typing import Any

from distilabel import __version__
from distilabel.models import OpenAILLM
from distilabel.pipeline import Pipeline
from distilabel.steps import ExpandColumns, LoadDataFromDicts, StepInput, step
from distilabel.steps.tasks import SelfInstruct, TextGeneration


def template(path: Path) -> str:
    return path.read_text().rstrip("\n")


@step(inputs=["instruction", "generation"], outputs=["input", "output", "verdict"])
def to_samples(inputs: StepInput) -> Any:
    """One row per valid instance, as the recipe's parse_instances + instance_filter."""
    rows = []
    for row in inputs:
        is_clf = (row.get("verdict") or "").strip().lower().startswith("yes")
        text = row.get("generation") or ""
        if is_clf:
            pairs = []
            for block in re.split(r"(?im)^\s*class label\s*:", text)[1:]:
                label, _, rest = block.partition("\n")
                m = re.search(r"(?is)input\s*:\s*(.*)", rest)
                pairs.append((m.group(1).strip() if m else "", label.strip()))
        else:
            pairs = []
            for block in re.split(r"(?im)^\s*example\s*\d*\s*:?\s*$", text):
                m = re.search(r"(?is)input\s*:\s*(.*?)\n\s*output\s*:\s*(.*)", block)
                if m:
                    pairs.append((m.group(1).strip(), m.group(2).strip()))
        seen = set()
        for inp, out in pairs:
            inp = "" if inp.lower() == "<noinput>" else inp
            if not out or inp == out or (inp, out) in seen:
                continue
            seen.add((inp, out))
            rows.append({**row, "input": inp, "output": out})
    yield rows


def build(args: argparse.Namespace) -> Pipeline:
    prompts = Path(args.prompts)
    seeds = [json.loads(line)["instruction"] for line in Path(args.seeds).read_text().splitlines()]
    data = [{"input": seeds[i % len(seeds)]} for i in range(args.generate_rows)]
    classify = template(prompts / "is_classification.v1.txt")
    output_first = template(prompts / "instances_output_first.v1.txt")
    input_first = template(prompts / "instances_input_first.v1.txt")
    instances = (
        "{% if verdict and verdict.strip().lower().startswith('yes') %}"
        + output_first
        + "{% else %}"
        + input_first
        + "{% endif %}"
    )
    c = args.concurrency

    def llm(**kwargs: Any) -> OpenAILLM:
        return OpenAILLM(
            model="fake-model",
            base_url=args.base_url,
            api_key="not-needed",
            max_retries=0,
            timeout=120,
            generation_kwargs=kwargs,
        )

    with Pipeline(name="bench-self-instruct", cache_dir=args.cache_dir) as pipeline:
        load = LoadDataFromDicts(data=data, batch_size=c)
        generate = SelfInstruct(
            llm=llm(max_new_tokens=1024, temperature=0.7, top_p=0.5, presence_penalty=2.0),
            num_instructions=5,
            input_batch_size=c,
        )
        expand = ExpandColumns(columns={"instructions": "instruction"})
        judge = TextGeneration(
            name="is_classification",
            llm=llm(max_new_tokens=3, temperature=0.0, stop=["\nTask:"]),
            template=classify,
            columns=["instruction"],
            output_mappings={"generation": "verdict", "model_name": "judge_model"},
            input_batch_size=c,
        )
        make = TextGeneration(
            name="instances",
            llm=llm(max_new_tokens=512, temperature=0.0, presence_penalty=1.5, stop=["\nTask:"]),
            template=instances,
            columns=["instruction", "verdict"],
            input_batch_size=c,
        )
        load >> generate >> expand >> judge >> make >> to_samples(input_batch_size=c)
    return pipeline


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--concurrency", type=int, required=True)
    parser.add_argument("--generate-rows", type=int, required=True)
    parser.add_argument("--seeds", required=True)
    parser.add_argument("--prompts", required=True)
    parser.add_argument("--cache-dir", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    pipeline = build(args)
    t0 = time.perf_counter()
    distiset = pipeline.run(use_cache=False)
    run_s = time.perf_counter() - t0
    samples = sum(split.num_rows for config in distiset.values() for split in config.values())
    Path(args.out).write_text(
        json.dumps({"samples": samples, "run_s": run_s, "version": __version__})
    )


if __name__ == "__main__":
    main()
