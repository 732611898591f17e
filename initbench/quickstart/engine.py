"""The quickstart's rerun-safe stage runner.

A stage is finished when its marker ``OUT/.stages/<stage>.json`` exists (written last, atomically) and holds
the stage's key: a digest of its settings and of the keys of the stages it uses. A rerun reuses finished
stages and redoes the rest; every file is written under a temporary name and renamed, so Ctrl-C leaves
finished files or none, never half of one.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from initbench import __version__
from initbench.leaderboard.entry import canonical_bytes, write_json_atomic

Progress = Callable[[str, int, int, str], None]
OnStage = Callable[[str, str, str], None]


@dataclass(frozen=True)
class Stage:
    """``fn(ctx) -> result``; ``settings`` define its result together with the results of ``after``."""

    name: str
    title: str
    fn: Callable[[Any], dict]
    settings: dict
    after: tuple[str, ...] = ()


@dataclass
class Context:
    opts: Any
    out: Path
    progress: Progress | None
    results: dict[str, Any] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)

    @property
    def data(self) -> Path:
        return self.out / "data"

    def tick(self, stage: str, done: int, total: int, info: str = "") -> None:
        if self.progress is not None:
            self.progress(stage, done, total, info)


def run_stages(ctx: Context, stages: list[Stage], on_stage: OnStage | None = None) -> dict:
    """Run (or reuse) ``stages`` in order; ``{"stages": results, "seconds": {...}, "reused": [...]}``."""
    markers = ctx.out / ".stages"
    seconds: dict[str, float] = {}
    reused: list[str] = []
    for st in stages:
        key = hashlib.sha256(canonical_bytes({"stage": st.name, "settings": st.settings,
                                              "after": [ctx.keys[d] for d in st.after],
                                              "version": __version__})).hexdigest()[:16]
        ctx.keys[st.name] = key
        marker = markers / f"{st.name}.json"
        done = _read_marker(marker)
        if done.get("key") == key and _outputs_exist(done.get("result", {})):
            ctx.results[st.name] = done["result"]
            seconds[st.name] = 0.0
            reused.append(st.name)
            if on_stage:
                on_stage("reused", st.name, st.title)
            continue
        if on_stage:
            on_stage("start", st.name, st.title)
        t0 = time.perf_counter()
        result = st.fn(ctx)
        seconds[st.name] = time.perf_counter() - t0
        ctx.results[st.name] = result
        write_json_atomic(marker, {"key": key, "stage": st.name, "seconds": round(seconds[st.name], 2), "result": result})
        if on_stage:
            on_stage("done", st.name, f"{st.title} ({seconds[st.name]:.1f} s)")
    return {"stages": ctx.results, "seconds": seconds, "reused": reused}


def _read_marker(path: Path) -> dict:
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}


def _outputs_exist(result: dict) -> bool:
    """A marker counts only while the files it names are still there (someone may have deleted them)."""
    return all(Path(result[k]).exists() for k in ("path", "checkpoint", "results", "root") if result.get(k))
