"""The data card (README.md) of a version, written from its manifest.

Names in it (project, recipes, models, queues) are user or model text: they are escaped
so that a Markdown viewer shows them as text, never as HTML or links.
"""

from __future__ import annotations

import re
from typing import Any

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|~>-])")

FORMAT_HELP = {
    "openai": 'OpenAI chat: `{"messages": [...]}`, plus `tools` on tool-calling samples. '
    "Loads in TRL's SFTTrainer as a conversational dataset.",
    "sharegpt": 'ShareGPT: `{"conversations": [{"from": "human"|"gpt"|"system", "value": ...}]}`; '
    'tool calls follow LLaMA-Factory: `function_call` turns (`{"name", "arguments"}` '
    "as JSON text, a list for parallel calls), `observation` turns for the results, and "
    "a `tools` column of function docs as JSON text.",
    "alpaca": "Alpaca: `instruction`, `input`, `output` (and `system` when the sample had one).",
    "dpo": "DPO, TRL's standard form: `prompt`, `chosen`, `rejected` as plain text.",
    "dpo_conversational": "DPO, TRL's conversational form: `prompt`, `chosen`, `rejected` as "
    "lists of chat messages.",
    "kto": "KTO, conversational: `prompt` and `completion` as messages, `label` true or false.",
    "classification": "Classification: `text`, `label`.",
    "bfcl": "BFCL (Berkeley Function Calling Leaderboard): `id`, `question` (one turn of chat "
    "messages), `function` (the tools as BFCL function docs) and `ground_truth` (per expected "
    'call, each parameter\'s acceptable values; `""` means it may be omitted). The file serves '
    "as BFCL's question file and as its possible_answer file.",
    "step_labels": "Step labels of agent trajectories (PRM-style), one row per trajectory: "
    "`prompt` (messages), `tools`, `steps` (`thought`, `actions` [`name`, `arguments`], "
    "`observations`, `error`), `labels` (1 right, -1 wrong, 0 unlabelled, one per step), "
    "`label_source`, `first_wrong_step`, `success`, `score` (the env checker's) and "
    "`trajectory_id` when known. The rules are below.",
    "trajectory_pairs": "Preference pairs of agent trajectories, TRL's conversational form: "
    "`prompt` (the shared start), `chosen` (the continuation that succeeded) and `rejected` "
    "(the one that failed) as lists of chat messages with tool calls and results, plus "
    "`tools`. The rules are below.",
}


def esc(value: Any) -> str:
    text = " ".join(str(value).split())  # one line: no headings or lists smuggled in
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", text)


def _table(rows: list[dict[str, Any]], columns: list[str]) -> list[str]:
    if not rows:
        return ["(none)", ""]
    out = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    out += ["| " + " | ".join(esc(r.get(c, "")) for c in columns) + " |" for r in rows]
    return [*out, ""]


def render(m: dict[str, Any]) -> str:
    counts = m["counts"]
    lines = [
        f"# {esc(m['dataset'])}, version {m['version']}",
        "",
        f"Exported by Seedbed on {esc(m['built_at'])}. "
        f"{m['rows']} rows from {m['samples']} samples.",
        "",
        "## Format",
        "",
        FORMAT_HELP[m["format"]],
        f"Files are {m['file_type'].upper()}; `manifest.json` lists each with its sha256.",
        "",
        "## Splits",
        "",
    ]
    if m["split"]:
        lines += [
            f"Seeded split (seed {esc(m['split'].get('seed', 0))}, validation fraction "
            f"{esc(m['split'].get('validation', 0))}). A row's side is decided by a hash of its "
            "prompt and the seed, so it is stable across versions and every answer to one prompt "
            "is on the same side.",
            "",
        ]
    lines += _table(
        [{"split": k, "rows": v} for k, v in counts["by_split"].items()], ["split", "rows"]
    )
    lines += ["## Sources", ""]
    lines += _table(
        [{"source": k, "rows": v} for k, v in counts["by_source"].items()], ["source", "rows"]
    )
    if counts["skipped"]:
        lines += ["Samples left out because the format cannot hold them:", ""]
        lines += _table(
            [{"reason": k, "samples": v} for k, v in counts["skipped"].items()],
            ["reason", "samples"],
        )
    lines += _system_prompts(m)
    lines += _training_signal(m)
    if m.get("pair_rules"):
        lines += ["## How pairs are made", "", m["pair_rules"], ""]
    if m.get("step_label_rules"):
        lines += ["## How steps are labelled", "", m["step_label_rules"], ""]
    lines += ["## Filters", "", "```json", _json(m["filters"]), "```", ""]
    lineage = m["lineage"]
    lines += ["## Lineage", "", "Recipes:", ""]
    lines += _table(lineage["recipes"], ["recipe_id", "recipe_version", "samples"])
    lines += ["Models:", "", *_table(lineage["models"], ["model", "samples"])]
    lines += ["Prompt versions:", ""]
    lines += _table(lineage["prompt_versions"], ["recipe_id", "prompt_version", "samples"])
    lines += ["Runs:", "", *_table(lineage["runs"], ["run_id", "samples"])]
    lines += _decided_by(lineage)
    lines += ["## Files", "", *_table(m.get("files", []), ["name", "rows", "bytes", "sha256"])]
    lines += ["## Annotator agreement", ""]
    lines += _table(
        m["agreement"],
        [
            "queue",
            "annotators",
            "items_with_two_or_more",
            "percent_agreement",
            "krippendorff_alpha",
        ],
    )
    return "\n".join(lines)


def _decided_by(lineage: dict[str, Any]) -> list[str]:
    """Who accepted the samples: a section only when a run's confidence rule accepted some."""
    auto = sum(r["samples"] for r in lineage.get("decided_by", []) if r["auto_accepted"])
    if not auto:
        return []
    total = sum(r["samples"] for r in lineage.get("decided_by", []))
    return [
        "## Decided by",
        "",
        f"{auto} of {total} selected samples were accepted automatically: their run sent "
        "samples whose judge confidence was below a threshold to people and accepted the "
        "rest. `auto_accepted_ids.txt` lists the exported ones; the filter "
        '`"decided_by": "people"` leaves them out.',
        "",
    ]


SYSTEM_PROMPT_HELP = {
    "stored": "System messages are as stored: for Orca 2 rows, the generic system prompt "
    "that replaced the teacher's (prompt erasure).",
    "teacher": "The teacher's system prompt is restored where a sample kept it (Orca 2's "
    "erased prompt); other samples are as stored.",
    "none": "System messages are left out of every row.",
}


def _system_prompts(m: dict[str, Any]) -> list[str]:
    """A section when the version changes system messages or holds erased teacher prompts."""
    info = m.get("system_prompts")
    if not isinstance(info, dict):
        return []
    mode, kept = info.get("mode", "stored"), int(info.get("teacher_prompts") or 0)
    if mode == "stored" and not kept:
        return []
    text = f"Option `system_prompt`: `{esc(mode)}`. {SYSTEM_PROMPT_HELP.get(mode, '')}"
    if kept:
        text += f" {kept} selected samples kept a teacher's system prompt."
    if mode != "stored" and m.get("split"):
        text += " Splits are decided without system turns: one question's answers stay together."
    return ["## System prompts", "", text, ""]


def _training_signal(m: dict[str, Any]) -> list[str]:
    """A section when rows carry a loss mask or a weight column (weights.py)."""
    info = m.get("weights")
    if not isinstance(info, dict):
        return []
    out = []
    if info.get("loss_mask") == "assistant":
        out.append(
            'Option `loss_mask`: `assistant`. Every message carries `"weight": 1` on assistant '
            'turns and `"weight": 0` on the others (system, user, tool): train on the assistant '
            "turns only, e.g. with axolotl's per-turn weight (`message_field_training: weight` "
            "in its chat_template datasets); trainers that do not read the key ignore it."
        )
    samples = int(info.get("samples") or 0)
    if info.get("column"):
        out.append(
            f"Each row has a `weight` column (a float): {samples} selected samples carry a "
            "training weight of their own (SPAG's advantage-weighted rows); the others are 1.0. "
            "Multiply each row's loss by it."
        )
    elif samples:
        out.append(
            f"{samples} selected samples carry a training weight, left out of these rows "
            "(option `sample_weight`: false)."
        )
    lines = ["## Training signal", ""] if out else []
    for text in out:
        lines += [text, ""]
    return lines


def _json(value: Any) -> str:
    import json

    # Inside a code fence nothing is rendered; only a fence could end it early.
    return json.dumps(value, indent=2, ensure_ascii=False).replace("```", "`\u200b``")
