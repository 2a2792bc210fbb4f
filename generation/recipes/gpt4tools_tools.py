"""GPT4Tools' visual tools, in our own words: what each does, its arguments in order
(GPT4Tools' "Action Input" is a comma-separated string of them) and what it returns.

No vision model runs behind them: the recipe's observations are text stand-ins (a new
image's file name, or what the teacher says the tool would report from the description).
A run's tool_spec seeds, when it has any, replace this list (`from_tool_spec`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

ArgKind = Literal["image", "text", "box"]
Output = Literal["image", "text"]
_BOX_SCHEMA = {"type": "array", "items": {"type": "number"}, "minItems": 4, "maxItems": 4}


@dataclass(frozen=True)
class Arg:
    name: str
    kind: ArgKind
    description: str


@dataclass(frozen=True)
class VisualTool:
    name: str  # the function name in the exported tools list
    title: str  # the name GPT4Tools-style chains may also write in "Action:"
    description: str
    args: tuple[Arg, ...]
    output: Output

    def schema(self) -> dict[str, Any]:
        """The entry of an OpenAI `tools` list."""
        props: dict[str, Any] = {
            a.name: ({**_BOX_SCHEMA} if a.kind == "box" else {"type": "string"})
            | {"description": a.description}
            for a in self.args
        }
        parameters = {
            "type": "object",
            "properties": props,
            "required": [a.name for a in self.args],
        }
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": parameters,
            },
        }

    def listing(self) -> str:
        """One line of the generation prompt's tool list."""
        args = ", ".join(a.name for a in self.args)
        return f"- {self.name} ({self.title}): {self.description} Action Input: {args}"


IMAGE = Arg("image_path", "image", "File name of the image, e.g. image/ab12cd34.png")
OBJECT = Arg("object", "text", "The object to look for, in a few words")
PROMPT = Arg("prompt", "text", "What the new image should show")
NEW_IMAGE = "Returns the file name of the new image."


def _tool(name: str, title: str, does: str, args: tuple[Arg, ...], output: Output) -> VisualTool:
    return VisualTool(
        name, title, does if output == "text" else f"{does} {NEW_IMAGE}", args, output
    )


TOOLS: tuple[VisualTool, ...] = (
    _tool("describe_image", "Describe The Image",
          "Tells what the picture shows, in one or two sentences.", (IMAGE,), "text"),
    _tool("answer_image_question", "Answer Question About The Image",
          "Answers a question about what can be seen in the picture.",
          (IMAGE, Arg("question", "text", "The question about the picture")), "text"),
    _tool("detect_object", "Detect The Given Object",
          "Draws a box around every instance of an object in the picture.", (IMAGE, OBJECT),
          "image"),
    _tool("locate_object", "Locate The Given Object",
          "Reports the box [x1, y1, x2, y2] of an object in the picture, in pixels.",
          (IMAGE, OBJECT), "text"),
    _tool("count_objects", "Count The Given Object",
          "Counts how many instances of an object the picture holds.", (IMAGE, OBJECT), "text"),
    _tool("read_text", "Read Text In The Image",
          "Reads printed or written text in the picture (signs, labels, pages).", (IMAGE,),
          "text"),
    _tool("segment_object", "Segment The Given Object",
          "Paints a mask over one object of the picture.", (IMAGE, OBJECT), "image"),
    _tool("segment_image", "Segment The Image",
          "Splits the whole picture into labelled regions.", (IMAGE,), "image"),
    _tool("crop_region", "Crop The Image Region",
          "Cuts out the part of the picture inside a box.",
          (IMAGE, Arg("box", "box", "The region as [x1, y1, x2, y2] in pixels")), "image"),
    _tool("remove_object", "Remove Something From The Photo",
          "Erases an object from the picture and fills in the background.", (IMAGE, OBJECT),
          "image"),
    _tool("replace_object", "Replace Something In The Photo",
          "Swaps an object of the picture for something else.",
          (IMAGE, OBJECT, Arg("replacement", "text", "What to put in its place")), "image"),
    _tool("edit_image", "Edit The Image With Text",
          "Changes the picture as a written instruction says (style, colour, weather).",
          (IMAGE, Arg("instruction", "text", "The change to make")), "image"),
    _tool("generate_image", "Generate Image From User Input Text",
          "Draws a new picture from a text description.", (PROMPT,), "image"),
    _tool("detect_edges", "Detect Edges In The Image",
          "Makes an edge map (the outlines) of the picture.", (IMAGE,), "image"),
    _tool("image_from_edges", "Generate Image From Edge Map",
          "Draws a new picture that follows the outlines of an edge map.", (IMAGE, PROMPT),
          "image"),
    _tool("estimate_depth", "Predict Depth Of The Image",
          "Makes a depth map: near things bright, far things dark.", (IMAGE,), "image"),
    _tool("image_from_depth", "Generate Image From Depth Map",
          "Draws a new picture with the layout of a depth map.", (IMAGE, PROMPT), "image"),
    _tool("detect_pose", "Detect Human Pose",
          "Draws the skeletons of the people in the picture.", (IMAGE,), "image"),
    _tool("image_from_pose", "Generate Image From Pose",
          "Draws new people standing in the poses of a pose image.", (IMAGE, PROMPT), "image"),
)  # fmt: skip


def by_name(tools: tuple[VisualTool, ...] | list[VisualTool]) -> dict[str, VisualTool]:
    return {t.name: t for t in tools}


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def resolve(written: str, tools: list[VisualTool]) -> VisualTool | None:
    """The tool an "Action:" names, by function name or title (case and spacing ignored)."""
    key = _norm(written.strip().strip("`'\"[]"))
    return next((t for t in tools if key in (_norm(t.name), _norm(t.title))), None)


def from_tool_spec(payload: Mapping[str, Any]) -> VisualTool | None:
    """A tool_spec seed as a visual tool: its parameters (required ones first) are the
    arguments; one named like image_path takes a known image, one ending in "box" a box.
    meta.output "image" marks a tool that returns a new image. None without a name."""
    function = payload.get("function") or {}
    name = str(function.get("name") or "")
    if not name:
        return None
    params = function.get("parameters") or {}
    props = params.get("properties") or {}
    required = [p for p in params.get("required") or [] if p in props]
    order = required + [p for p in props if p not in required]
    args = tuple(
        Arg(p, _kind_of(p), str((props.get(p) or {}).get("description") or "")) for p in order
    )
    output: Output = "image" if (payload.get("meta") or {}).get("output") == "image" else "text"
    title = name.replace("_", " ").replace(".", " ").title()
    return VisualTool(name, title, str(function.get("description") or ""), args, output)


def _kind_of(param: str) -> ArgKind:
    low = param.lower()
    if low in ("image", "image_path", "image_file", "img", "img_path"):
        return "image"
    return "box" if low.endswith("box") or low == "bbox" else "text"
