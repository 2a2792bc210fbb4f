"""Tool specs: OpenAI tools JSON, BFCL function docs and OpenAPI 3, and hostile inputs."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from curation.seeds.kinds import openai_tool
from curation.seeds.kinds.openapi import NODES_PER_TOOL, tool_name
from curation.seeds.parsing import ParsedSeed, SeedImportError, detect_format, parse_seed_file

WEATHER = {
    "name": "get_weather",
    "description": "Current weather for a city.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string", "description": "City name"}},
        "required": ["city"],
    },
}


def jsonl(*records: Any) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in records).encode()


def only(data: bytes, **options: Any) -> ParsedSeed:
    seeds = parse_seed_file(data, **options)
    assert len(seeds) == 1
    return seeds[0]


def import_error(data: bytes, **options: Any) -> SeedImportError:
    with pytest.raises(SeedImportError) as caught:
        parse_seed_file(data, **options)
    return caught.value


def openapi(paths: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"openapi": "3.0.3", "info": {"title": "Pets", "version": "1"}, "paths": paths} | extra


# --- OpenAI tools -----------------------------------------------------------------------


def test_an_openai_tools_array_imports_one_tool_seed_per_tool() -> None:
    tools = [
        {"type": "function", "function": WEATHER},
        {"type": "function", "function": {"name": "now", "description": "The time."}},
    ]

    seeds = parse_seed_file(json.dumps(tools, indent=2).encode())

    assert [s.kind for s in seeds] == ["tool_spec", "tool_spec"]
    assert seeds[0].payload == {
        "type": "function",
        "function": WEATHER,
        "method": "",
        "path": "",
        "server": "",
        "param_in": {},
        "meta": {},
    }
    assert openai_tool(seeds[0].payload) == tools[0]
    # A tool without parameters gets an empty argument object, as the API expects.
    assert seeds[1].payload["function"]["parameters"] == {"type": "object", "properties": {}}
    assert seeds[0].text == "get_weather: Current weather for a city.\n- city (string): City name"


def test_a_single_pretty_printed_tool_without_the_wrapper_imports() -> None:
    seed = only(json.dumps(WEATHER | {"strict": True}, indent=2).encode())

    assert seed.payload["function"] == WEATHER
    assert seed.payload["meta"] == {"strict": True}


def test_a_wrapped_tool_keeps_strict_inside_the_function() -> None:
    seed = only(jsonl({"type": "function", "function": WEATHER | {"strict": True}, "id": 9}))

    assert seed.payload["function"] == WEATHER | {"strict": True}
    assert seed.payload["meta"] == {"id": 9}


@pytest.mark.parametrize(
    ("tool", "message"),
    [
        (WEATHER | {"name": "get weather"}, "tool name 'get weather' is not valid"),
        (WEATHER | {"name": "x" * 65}, "tool name 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx..."),
        (
            WEATHER | {"parameters": {"type": "string"}},
            "field 'parameters' must be a JSON Schema of type 'object', got type 'string'",
        ),
        (
            WEATHER | {"parameters": {"type": "object", "required": ["town"]}},
            "field 'parameters.required' names 'town', which is not in 'parameters.properties'",
        ),
        (
            WEATHER | {"parameters": {"type": "object", "properties": {"a": {"type": "HashMap"}}}},
            "field 'parameters.properties.a.type' has unknown type 'HashMap'",
        ),
        (
            WEATHER | {"parameters": {"type": "object", "properties": {"a": 5}}},
            "field 'parameters.properties.a' must be a schema object, got a number",
        ),
    ],
    ids=["space", "too-long", "not-object", "required", "unknown-type", "not-schema"],
)
def test_an_invalid_tool_is_refused_with_its_line_and_field(
    tool: dict[str, Any], message: str
) -> None:
    error = import_error(jsonl(WEATHER | {"name": "first"}, tool))

    assert str(error).startswith(f"line 2: {message}")
    assert error.line == 2


def test_two_tools_with_the_same_name_are_refused() -> None:
    error = import_error(jsonl(WEATHER, {"name": "now", "parameters": {}}, WEATHER))

    assert str(error) == "line 3: tool name 'get_weather' is already used by line 1"


def test_a_wrapped_tool_of_another_type_is_refused() -> None:
    error = import_error(jsonl({"type": "retrieval", "function": WEATHER}), kind="tool_spec")

    assert str(error) == "line 1: field 'type' must be 'function', got 'retrieval'"


# --- BFCL -------------------------------------------------------------------------------


def test_bfcl_python_type_names_become_json_schema_types() -> None:
    bfcl = {
        "name": "math.triangle_area",
        "description": "Area of a triangle.",
        "parameters": {
            "type": "dict",
            "properties": {
                "base": {"type": "integer", "description": "Base length."},
                "height": {"type": "float"},
                "unit": {"type": "string", "enum": ["cm", "m"], "default": "cm"},
                "exact": {"type": "boolean"},
                "points": {"type": "array", "items": {"type": "tuple", "items": {"type": "float"}}},
                "options": {"type": "dict", "properties": {"round": {"type": "integer"}}},
                "extra": {"type": "any"},
            },
            "required": ["base", "height"],
        },
    }

    seed = only(jsonl(bfcl))

    assert seed.payload["function"]["name"] == "math.triangle_area"
    assert seed.payload["function"]["parameters"] == {
        "type": "object",
        "properties": {
            "base": {"type": "integer", "description": "Base length."},
            "height": {"type": "number"},
            "unit": {"type": "string", "enum": ["cm", "m"], "default": "cm"},
            "exact": {"type": "boolean"},
            "points": {"type": "array", "items": {"type": "array", "items": {"type": "number"}}},
            "options": {"type": "object", "properties": {"round": {"type": "integer"}}},
            "extra": {},
        },
        "required": ["base", "height"],
    }


def test_a_tool_file_can_be_mapped_from_other_key_names() -> None:
    record = {"tool": "lookup", "doc": "Find a word.", "args": {"type": "dict", "properties": {}}}

    seed = only(
        jsonl(record),
        kind="tool_spec",
        mapping={"name": "tool", "description": "doc", "parameters": "args"},
    )

    assert seed.payload["function"] == {
        "name": "lookup",
        "description": "Find a word.",
        "parameters": {"type": "object", "properties": {}},
    }


# --- OpenAPI ----------------------------------------------------------------------------


PETSTORE = openapi(
    {
        "/pets/{petId}": {
            "parameters": [{"$ref": "#/components/parameters/PetId"}],
            "get": {
                "operationId": "showPetById",
                "summary": "Info for a pet",
                "tags": ["pets"],
                "parameters": [
                    {"name": "fields", "in": "query", "schema": {"type": "string"}},
                ],
            },
            "put": {
                "summary": "Update a pet",
                "requestBody": {"$ref": "#/components/requestBodies/PetBody"},
            },
        },
        "/pets": {
            "post": {
                "operationId": "uploadPhoto",
                "requestBody": {
                    "content": {"image/png": {"schema": {"type": "string", "format": "binary"}}}
                },
            }
        },
    },
    servers=[{"url": "https://pets.example/v1"}],
    components={
        "parameters": {
            "PetId": {
                "name": "petId",
                "in": "path",
                "description": "The pet's id",
                "schema": {"type": "integer"},
            }
        },
        "requestBodies": {
            "PetBody": {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Pet"}}},
            }
        },
        "schemas": {
            "Pet": {
                "type": "object",
                "required": ["name"],
                "properties": {
                    "name": {"type": "string"},
                    "tag": {"$ref": "#/components/schemas/Tag"},
                },
            },
            "Tag": {"type": "object", "properties": {"label": {"type": "string"}}},
        },
    },
)


def test_an_openapi_document_gives_one_tool_per_operation_with_refs_resolved() -> None:
    seeds = parse_seed_file(json.dumps(PETSTORE, indent=2).encode(), filename="pets.json")

    assert [s.payload["function"]["name"] for s in seeds] == [
        "showPetById",
        "put_pets_petId",
        "uploadPhoto",
    ]
    get, put, post = (s.payload for s in seeds)
    assert get == {
        "type": "function",
        "function": {
            "name": "showPetById",
            "description": "Info for a pet",
            "parameters": {
                "type": "object",
                "properties": {
                    "petId": {"type": "integer", "description": "The pet's id"},
                    "fields": {"type": "string"},
                },
                "required": ["petId"],
            },
        },
        "method": "GET",
        "path": "/pets/{petId}",
        "server": "https://pets.example/v1",
        "param_in": {"petId": "path", "fields": "query"},
        "meta": {
            "operation_id": "showPetById",
            "tags": ["pets"],
            "api": {"title": "Pets", "version": "1"},
        },
    }
    # The JSON body's properties join the arguments; its $refs are inlined.
    assert put["function"]["parameters"] == {
        "type": "object",
        "properties": {
            "petId": {"type": "integer", "description": "The pet's id"},
            "name": {"type": "string"},
            "tag": {"type": "object", "properties": {"label": {"type": "string"}}},
        },
        "required": ["petId", "name"],
    }
    assert put["param_in"] == {"petId": "path", "name": "body", "tag": "body"}
    # A body that is not an object is one argument.
    assert post["function"]["parameters"]["properties"] == {
        "body": {"type": "string", "format": "binary"}
    }
    assert post["param_in"] == {"body": "request_body"}
    assert "PUT /pets/{petId}" in seeds[1].text


def test_an_openapi_document_in_yaml_imports_like_its_json() -> None:
    pytest.importorskip("yaml")
    data = b"""
openapi: 3.0.0
info: {title: Todo, version: "2"}
paths:
  /todos:
    get:
      operationId: listTodos
      parameters:
        - {name: limit, in: query, required: true, schema: {type: integer}}
"""

    seed = only(data, filename="todo.yaml")

    assert detect_format(data) == "yaml"
    assert seed.payload["function"]["parameters"] == {
        "type": "object",
        "properties": {"limit": {"type": "integer"}},
        "required": ["limit"],
    }


def test_a_recursive_schema_is_left_unexpanded_where_it_recurs() -> None:
    doc = openapi(
        {"/tree": {"post": {"operationId": "plant", "requestBody": {"content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/Node"}}}}}}},
        components={"schemas": {"Node": {"type": "object", "properties": {
            "children": {"type": "array", "items": {"$ref": "#/components/schemas/Node"}}}}}},
    )  # fmt: skip

    seed = only(json.dumps(doc, indent=1).encode())

    children = seed.payload["function"]["parameters"]["properties"]["children"]
    assert children["items"] == {
        "description": "(recursive reference to #/components/schemas/Node, not expanded)"
    }


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"swagger": "2.0", "paths": {}}, "Swagger 2.0 documents are not supported"),
        ({"openapi": "4.0", "paths": {}}, "field 'openapi' must be a 3.x version, got '4.0'"),
        (openapi({}), "the OpenAPI document has no operations under 'paths'"),
        (
            openapi({"/a": {"get": {"parameters": [{"$ref": "other.yaml#/P"}]}}}),
            "operation GET /a: field 'paths./a.get.parameters[0].$ref' is 'other.yaml#/P': "
            "only references inside the document",
        ),
        (
            openapi({"/a": {"get": {"parameters": [{"$ref": "#/components/parameters/Nope"}]}}}),
            "points to '#/components/parameters/Nope', which the document does not have",
        ),
        (
            openapi({"/a": {"get": {"parameters": [{"name": "x", "in": "body"}]}}}),
            "operation GET /a: field 'paths./a.get.parameters[0]' needs a 'name' and an 'in'",
        ),
        (
            openapi({"/a/{x}": {"get": {"parameters": [
                {"name": "x", "in": "path"}, {"name": "x", "in": "query"}]}}}),
            "operation GET /a/{x}: parameter 'x' is given both in path and in query",
        ),
    ],
    ids=["swagger", "version", "empty", "external-ref", "missing-ref", "bad-in", "twice"],
)  # fmt: skip
def test_a_bad_openapi_document_is_refused_naming_the_operation_and_field(
    doc: dict[str, Any], message: str
) -> None:
    error = import_error(json.dumps(doc, indent=2).encode())

    assert message in str(error)


def test_an_openapi_document_on_one_jsonl_line_names_the_line() -> None:
    bad = openapi({"/a": {"get": {"parameters": [{"$ref": "#/nope"}]}}})

    error = import_error(jsonl(WEATHER, bad))

    assert str(error).startswith("line 2: operation GET /a: field ")


def test_operation_names_are_made_valid_tool_names() -> None:
    assert tool_name("get_/pets/{petId}/photos") == "get_pets_petId_photos"
    assert tool_name("list pets (v2)") == "list_pets_v2"
    assert len(tool_name("x" * 300)) == 64


# --- hostile and huge inputs ------------------------------------------------------------


def test_refs_that_multiply_stop_at_the_node_budget() -> None:
    # Each schema refers to the next one twice: 2**40 nodes if expanded.
    schemas = {
        f"S{i}": {"type": "object", "properties": {
            "a": {"$ref": f"#/components/schemas/S{i + 1}"},
            "b": {"$ref": f"#/components/schemas/S{i + 1}"}}}
        for i in range(15)
    } | {"S15": {"type": "string"}}  # fmt: skip
    doc = openapi(
        {"/x": {"post": {"requestBody": {"content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/S0"}}}}}}},
        components={"schemas": schemas},
    )  # fmt: skip

    started = time.perf_counter()
    error = import_error(json.dumps(doc).encode() + b"\n")

    assert time.perf_counter() - started < 5
    assert f"expands to more than {NODES_PER_TOOL:,} nodes" in str(error)


def test_refs_nested_deeper_than_the_limit_are_refused() -> None:
    schemas = {f"S{i}": {"$ref": f"#/components/schemas/S{i + 1}"} for i in range(40)}
    doc = openapi(
        {"/x": {"get": {"parameters": [{"name": "q", "in": "query",
                                         "schema": {"$ref": "#/components/schemas/S0"}}]}}},
        components={"schemas": schemas | {"S40": {"type": "string"}}},
    )  # fmt: skip

    assert "references deep" in str(import_error(json.dumps(doc, indent=1).encode()))


def test_a_yaml_alias_bomb_is_bounded() -> None:
    pytest.importorskip("yaml")
    lines = ["openapi: 3.0.0", "x0: &a0 {type: string}"]
    for i in range(1, 21):
        lines.append(f"x{i}: &a{i} {{type: object, properties: {{p: *a{i - 1}, q: *a{i - 1}}}}}")
    lines += [
        "paths:",
        "  /b:",
        "    get:",
        "      parameters:",
        "        - {name: z, in: query, schema: *a20}",
    ]

    started = time.perf_counter()
    error = import_error("\n".join(lines).encode(), filename="bomb.yaml")

    assert time.perf_counter() - started < 5
    assert "expands to more than" in str(error)


def test_deeply_nested_parameters_are_refused_not_crashed() -> None:
    schema: dict[str, Any] = {"type": "string"}
    for _ in range(200):
        schema = {"type": "object", "properties": {"x": schema}}
    tool = WEATHER | {"parameters": schema}

    for data in (jsonl(tool), json.dumps([tool]).encode(), json.dumps(tool, indent=1).encode()):
        message = str(import_error(data))
        assert "nested more than" in message


def test_ten_thousand_tools_import_quickly_and_a_row_limit_stops_them_cleanly() -> None:
    tools = [
        {"type": "function", "function": WEATHER | {"name": f"tool_{i}"}} for i in range(10_000)
    ]
    data = json.dumps(tools).encode()

    started = time.perf_counter()
    seeds = parse_seed_file(data)
    elapsed = time.perf_counter() - started

    assert len(seeds) == 10_000
    assert elapsed < 5
    assert str(import_error(data, max_rows=5_000)) == "file has 10,000 seeds; the limit is 5,000"


def test_an_openapi_document_with_more_operations_than_the_row_limit_is_refused() -> None:
    doc = openapi({f"/p{i}": {"get": {}, "post": {}} for i in range(3_000)})

    error = import_error(json.dumps(doc).encode() + b"\n", max_rows=5_000)

    assert str(error) == "file has more than 5,000 seeds; the limit is 5,000"


def test_an_operation_keeps_its_success_response_schema_for_the_tool_simulator() -> None:
    from generation.tools.definitions import ToolDef

    doc = openapi(
        {
            "/pets/{petId}": {
                "get": {
                    "operationId": "showPetById",
                    "parameters": [
                        {"name": "petId", "in": "path", "schema": {"type": "integer"}}
                    ],
                    "responses": {
                        "404": {"description": "gone", "content": {"application/json": {
                            "schema": {"type": "object", "properties": {"error": {}}}}}},
                        "200": {"description": "the pet", "content": {"application/json": {
                            "schema": {"$ref": "#/components/schemas/Pet"}}}},
                    },
                },
                "delete": {"operationId": "deletePet", "responses": {"204": {"description": "ok"}}},
            }
        },
        components={"schemas": {"Pet": {"type": "object", "required": ["name"],
                                        "properties": {"name": {"type": "string"}}}}},
    )  # fmt: skip
    get, delete = (s.payload for s in parse_seed_file(json.dumps(doc).encode()))

    assert get["meta"]["response_schema"] == {
        "type": "object",
        "required": ["name"],
        "properties": {"name": {"type": "string"}},
    }
    assert "response_schema" not in delete["meta"]
    tool = ToolDef.from_payload(get)
    assert tool.response_schema == get["meta"]["response_schema"]
