"""Helpers shared by the command modules: consoles, error handling, JSON output."""

from __future__ import annotations

import functools
import json
import os
import sys
from pathlib import Path
from typing import Any, Callable

import click
from rich.console import Console

from initbench.errors import InitbenchError

#: Results go to stdout; progress and logs to stderr.
console = Console()
err_console = Console(stderr=True)


def handle_errors(fn: Callable) -> Callable:
    """Turn initbench's typed exceptions into a one-line message on stderr and their exit code."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except InitbenchError as exc:
            err_console.print(f"[bold red]error:[/] {exc}", highlight=False, markup=True)
            sys.exit(exc.exit_code)

    return wrapper


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` as indented JSON atomically (temporary name, then rename); ``-`` means stdout."""
    text = json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n"
    if str(path) == "-":
        click.echo(text, nl=False)
        return
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(f".{p.name}.tmp-{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, p)
