"""GPT4Tools (METHODS.md #46, Yang et al., NeurIPS 2023): visual tool-use chains taught
from image content given as text, by self-instruction.

① SAMPLE an image (caption + object boxes, as text) and a subset of the visual tools →
② GEN one instruction and its tool-use chain (Thought / Action / Action Input /
Observation …, then "Do I need to use a tool? No" and the answer) → ③ negative samples:
a request none of the tools is needed for, answered at once → ④ context samples: a chain
cut after a random step, its first steps given as context, the rest to continue → ⑤ CHECK
every step's tool and arguments against the shown tools → DEDUP-L the instructions → ⑥ FMT
an OpenAI tool trajectory (the shown tools as its tools list).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from generation.recipes import kit
from generation.recipes.base import RecipeParams, SeedRow, Step
from generation.recipes.gpt4tools_chain import (
    Checked,
    Image,
    check_step,
    final_turn,
    image_of,
    messages_of,
    parse_chain,
    paths_in,
    user_turn,
)
from generation.recipes.gpt4tools_tools import TOOLS, VisualTool, by_name, from_tool_spec
from generation.recipes.kit import fmt
from generation.tools import bfcl

IMAGE_KINDS = frozenset({"document", "text"})
Kind = Literal["positive", "negative", "context"]


class Params(RecipeParams):
    tools_per_item: int = Field(
        5, ge=1, le=len(TOOLS), description="Visual tools shown per item (a random subset)."
    )
    negative_share: float = Field(
        0.2, ge=0.0, le=0.9, description="Share of items that are negative samples (no tool "
        "is needed; the answer comes at once)."
    )  # fmt: skip
    context_share: float = Field(
        0.2, ge=0.0, le=0.9, description="Share of items that are context samples (a chain "
        "cut after a random step; the model continues from there)."
    )  # fmt: skip
    max_steps: int = Field(3, ge=1, le=8, description="Tool steps a chain may take (at most).")
    caption_in_prompt: bool = Field(
        True, description="The training prompt gives the image's caption with its file name "
        "(GPT4Tools' 'Provide an image named … Description: …'); off: the file name only."
    )  # fmt: skip
    decision_line: bool = Field(
        True, description="Final answers begin with 'No tool needed.' (GPT4Tools' 'Do I need "
        "to use a tool? No'); off: the answer alone."
    )  # fmt: skip
    novelty_threshold: float = Field(
        0.7, gt=0.0, le=1.0, description="Instructions with ROUGE-L above this vs earlier drop."
    )
    temperature: float = Field(0.7, ge=0.0, le=2.0)
    max_tokens: int = Field(768, ge=64, le=8192)

    @model_validator(mode="after")
    def _shares(self) -> Params:
        if self.negative_share + self.context_share > 0.95:
            raise ValueError("negative_share + context_share must leave room for positives")
        return self


def kind_of(draw: float, p: Params) -> Kind:
    """③/④: which sample an item makes, by its shares."""
    if draw < p.negative_share:
        return "negative"
    if draw < p.negative_share + p.context_share:
        return "context"
    return "positive"


@kit.register
class GPT4Tools(kit.Recipe[Params]):
    meta = kit.Meta(
        "gpt4tools", "GPT4Tools", entry=46, version="1", output="tool_trajectory",
        section="tools", inputs=IMAGE_KINDS | {"tool_spec"}, roles=(kit.POLICY,),
        summary="Visual tool-use chains (Thought / Action / Action Input / Observation) "
        "self-instructed from image descriptions given as text, with negative (no tool "
        "needed) and context (continue mid-chain) samples; every call checked against the "
        "tool list.",
    )  # fmt: skip
    steps = (
        Step("SAMPLE", "image", "One image description (caption + object boxes) and 5 of "
             "the visual tools."),
        Step("GEN", "generate", "An instruction about the image and its tool-use chain, "
             "observations written from the description."),
        Step("GEN", "negative", "A share of items (0.2): a request none of the tools is "
             "needed for, answered at once."),
        Step("SAMPLE", "context", "A share of items (0.2): the chain cut after a random "
             "step; the first steps become context, the rest is continued."),
        Step("CHECK", "tools", "Every Action names a shown tool; its Action Input has the "
             "tool's arguments, none empty, image paths that exist, boxes that are boxes."),
        Step("DEDUP-L", "novelty", "ROUGE-L ≤ 0.7 against earlier instructions."),
        Step("FMT", "tool_trajectory", "User turn (image file name + caption + request), "
             "assistant tool calls with their thoughts, tool results, the final answer."),
    )  # fmt: skip
    deviations = (
        "Text only: the image is its description (caption + object boxes from the seed); "
        "no vision model runs, and the teacher writes each tool's observation from the "
        "description (a tool that makes an image returns a new file name).",
        "The visual tools are our own list of 19 (gpt4tools_tools.py, our wording, after "
        "GPT4Tools' kinds of tools); a run's tool_spec seeds replace it, their arguments "
        "typed as strings.",
        "One chain per item, from a random subset of 5 tools; the paper's teacher saw the "
        "image content with all its tools. Prompt wording is ours.",
        "Negative and context samples are a share of items (0.2 each; the paper's 71K mix "
        "gives no exact split): a negative is generated by its own prompt; a context item "
        "generates a chain and keeps only its cut version.",
        "Output is an OpenAI tool trajectory, not GPT4Tools' text chain, so it exports as "
        "tool-calling SFT (OpenAI, ShareGPT); thoughts are the assistant turns' content and "
        "every final answer begins with 'No tool needed.' (decision_line). A context "
        "sample's first steps carry \"weight\": 0 (OpenAI's per-message weight).",
        "Dedup is ROUGE-L ≤ 0.7 over instructions (the paper removes duplicates without "
        "naming a measure). The LoRA fine-tuning on the data happens outside Seedbed.",
    )

    async def setup(self, run: Any) -> None:
        run.rouge_pool("instructions", run.params.novelty_threshold, [])
        own = [from_tool_spec(s.payload) for s in run.seeds if s.kind == "tool_spec"]
        self.tools: list[VisualTool] = [t for t in own if t] or list(TOOLS)
        self.images: list[SeedRow] = [s for s in run.seeds if s.kind in IMAGE_KINDS]

    def source(self, run: Any) -> Any:
        return kit.Source.numbered("gpt4tools")

    async def make(self, it: kit.Item[Params]) -> kit.Out:
        p = it.params
        if not self.images:
            raise kit.Fatal("GPT4Tools needs image descriptions: document or text seeds.")
        kind = kind_of(it.rng.random(), p)
        seed = (await it.sample(self.images, 1))[0]
        image = image_of(seed)
        it.check(bool(image.caption or image.objects), "empty_image_description")
        names = await it.sample([t.name for t in self.tools], p.tools_per_item)
        known = by_name(self.tools)
        tools = [known[n] for n in names]
        made = await it.gen(
            "negative" if kind == "negative" else "generate",
            image_path=image.path, image=image.described(), max_steps=p.max_steps,
            tool_list="\n".join(t.listing() for t in tools),
            temperature=p.temperature, max_tokens=p.max_tokens,
        )  # fmt: skip
        chain = parse_chain(made.text)
        it.check(bool(chain.instruction.strip()), "no_instruction")
        it.check(bool(chain.answer.strip()), "no_final_answer")
        if kind == "negative":
            it.check(not chain.steps, "tool_in_negative")
        else:
            it.check(bool(chain.steps), "no_tool_step")
            it.check(len(chain.steps) <= p.max_steps, "too_many_steps")
        checked = self._checked(it, chain.steps, tools, image)
        schemas = [t.schema() for t in tools]
        calls = [bfcl.Call(c.tool.name, c.arguments) for c in checked]
        if calls:
            verdict = bfcl.check(calls, schemas, None)
            it.check(verdict.valid, "schema_mismatch", "; ".join(verdict.reasons))
        novelty = await it.dedup_l("instructions", chain.instruction)
        it.check(novelty.novel, "duplicate_instruction", f"ROUGE-L {novelty.score}")
        cut = it.rng.randint(1, len(checked)) if kind == "context" else 0
        prompt = user_turn(image, chain.instruction.strip(), p.caption_in_prompt)
        thoughts = [s.thought.strip() for s in chain.steps]
        final = final_turn(chain.answer.strip(), p.decision_line)
        messages = messages_of(prompt, checked, thoughts, final, context=cut)
        used = [c.tool.name for c in checked]
        metadata = {
            "sample": kind,
            "image": image.path,
            "tools_shown": names,
            "tools_used": used,
            "steps": len(checked),
            "observations": "simulated from the image description",
        }
        if cut:
            metadata |= {"context_steps": cut, "continue_from": 1 + 2 * cut}
        extra = {
            "metadata": metadata,
            "tags": [f"gpt4tools:{kind}", *dict.fromkeys(f"tool:{n}" for n in used)],
        }
        return fmt.tool_trajectory(messages, schemas, step="tool_trajectory", extra=extra)

    def _checked(
        self, it: kit.Item[Params], steps: list[Any], tools: list[VisualTool], image: Image
    ) -> list[Checked]:
        """⑤ CHECK each step in order; image paths an observation names become known."""
        known = {image.path}
        out: list[Checked] = []
        stem = image.path.rsplit(".", 1)[0]
        for i, step in enumerate(steps):
            result = check_step(step, tools, known, f"{stem}_{i + 1}.png")
            if isinstance(result, str):
                raise kit.Drop(result, f"step {i + 1}: {step.action} | {step.action_input}")
            known |= paths_in(result.observation)
            out.append(result)
        return out
