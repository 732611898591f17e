"""Helpers shared by the command modules: consoles, error handling, JSON output.

Conventions every command follows (one mechanism, here):

* ``--json FILE|-`` (:func:`json_option`): the command's result as one JSON document. With ``-``
  stdout carries that document and nothing else: while the command runs, the human-readable
  console and anything written to ``sys.stdout`` (a library's chatter, e.g. pycocotools) go to
  stderr, and :func:`write_json` writes the document to the real stdout at the end.
* Errors: initbench's typed exceptions become one line on stderr and their exit code; anything
  unexpected becomes one line too (``INITBENCH_DEBUG=1`` shows the traceback), exit 2.
* Ctrl-C (SIGINT) exits 130 with ``interrupted`` and, where the command can resume, how.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import sys
from pathlib import Path
from typing import Any, Callable, Iterator, NoReturn, TextIO

import click
from rich.console import Console

from initbench.errors import InitbenchError, UsageError
from initbench.files import write_atomic

#: Results go to stdout; progress and logs to stderr.
console = Console()
err_console = Console(stderr=True)

#: Exit code of a command stopped by SIGINT (128 + 2, the shell's convention).
EXIT_INTERRUPTED = 130

#: The real stdout while a command's stdout is reserved for its JSON document (else None).
_json_stdout: TextIO | None = None


def json_option(what: str = "the result", *, name: str = "--json", dest: str = "json_out") -> Callable:
    """The ``--json FILE|-`` option: ``what`` as one JSON document, to FILE or (``-``) to stdout alone."""
    return click.option(name, dest, type=click.Path(dir_okay=False, allow_dash=True), default=None, metavar="FILE|-",
                        help=f"Write {what} as one JSON document to FILE ('-': stdout, and nothing else there).")


@contextlib.contextmanager
def stdout_reserved_for_json() -> Iterator[None]:
    """While inside: human output and stray ``print``s go to stderr; :func:`write_json` ``-`` reaches stdout."""
    global _json_stdout
    saved_file, saved_real = console._file, _json_stdout  # _file: None means "whatever sys.stdout is"
    _json_stdout = sys.stdout
    console.file = sys.stderr
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        console.file = saved_file
        _json_stdout = saved_real


def _interrupted(hint: str | None) -> None:
    err_console.print("[yellow]interrupted[/]" + (f"; {hint}" if hint else ""), highlight=False, soft_wrap=True)
    sys.exit(EXIT_INTERRUPTED)


def handle_errors(fn: Callable | None = None, *, json_params: tuple[str, ...] = ("json_out",),
                  interrupt_hint: Callable[[dict], str | None] | None = None) -> Callable:
    """Decorate a command: typed errors -> one line + exit code; SIGINT -> 130; ``--json -`` keeps stdout pure.

    ``json_params``: the command's parameters whose value ``-`` means "the JSON document goes to
    stdout". ``interrupt_hint(params)``: what to tell the user after Ctrl-C (e.g. how to resume).
    Usable bare (``@handle_errors``) or with arguments (``@handle_errors(interrupt_hint=...)``).
    """

    def decorate(command: Callable) -> Callable:
        @functools.wraps(command)
        def wrapper(*args, **kwargs):
            to_stdout = any(str(kwargs.get(p)) == "-" for p in json_params if kwargs.get(p) is not None)
            guard = stdout_reserved_for_json() if to_stdout else contextlib.nullcontext()
            try:
                with guard:
                    return command(*args, **kwargs)
            except KeyboardInterrupt:
                _interrupted(interrupt_hint(kwargs) if interrupt_hint else None)
            except InitbenchError as exc:
                fail(exc)
            except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort, SystemExit):
                raise
            except Exception as exc:  # a bug or an unforeseen failure: one line, never a traceback
                if os.environ.get("INITBENCH_DEBUG"):
                    raise
                msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                err_console.print(f"[bold red]error:[/] unexpected {type(exc).__name__}: {msg} "
                                  "(set INITBENCH_DEBUG=1 for the traceback, and please report it)",
                                  highlight=False, markup=False, soft_wrap=True)
                sys.exit(2)

        return wrapper

    return decorate(fn) if fn is not None else decorate


def fail(exc: InitbenchError) -> NoReturn:
    """One line on stderr for a typed error, then its exit code."""
    err_console.print(f"[bold red]error:[/] {exc}", highlight=False, markup=True, soft_wrap=True)
    sys.exit(exc.exit_code)


def pretrained_option(*, exclusive: tuple[str, ...] = ("ckpt",), required: bool = False) -> Callable:
    """``--pretrained NAME``: a bundled reference model in place of ``--ckpt`` (``initbench pretrained`` lists them).

    Place it right above the ``--ckpt`` option (it is shown after it). The command gets ``ckpt`` = the model's file
    (its sha256 checked) and ``pretrained`` = the :class:`~initbench.pretrained.PretrainedModel`, or None without the
    option, to record in what it writes. ``--method``, where given, must be the model's. ``exclusive``: the
    command's parameters that name a checkpoint too; ``required``: one of them or ``--pretrained`` must be given.
    Errors exit 2 with one line, as :func:`handle_errors` does.
    """
    option = click.Option(["--pretrained", "pretrained"], default=None, metavar="NAME",
                          help="A bundled reference model (`initbench pretrained` lists them), instead of --ckpt.")
    flags = " / ".join("--" + p.replace("_", "-") for p in exclusive)

    def decorate(command: Callable) -> Callable:
        @functools.wraps(command)
        def wrapper(*args, **kwargs):
            try:
                kwargs["pretrained"] = _resolve_pretrained_option(kwargs, exclusive, required, flags)
            except InitbenchError as exc:
                fail(exc)
            if kwargs["pretrained"] is not None:
                kwargs["ckpt"] = str(kwargs["pretrained"].path)
            return command(*args, **kwargs)

        params = wrapper.__dict__.setdefault("__click_params__", [])
        at = next((i for i, p in enumerate(params) if p.name == "ckpt"), len(params))
        params.insert(at, option)  # click lists options in reverse order of this list: --pretrained after --ckpt
        return wrapper

    return decorate


def _resolve_pretrained_option(kwargs: dict, exclusive: tuple[str, ...], required: bool, flags: str):
    name = kwargs.get("pretrained")
    given = ["--" + p.replace("_", "-") for p in exclusive if kwargs.get(p)]
    if name is None:
        if required and not given:
            raise UsageError(f"{flags} / --pretrained: expected one of them")
        return None
    if given:
        raise UsageError(f"--pretrained: not with {' / '.join(given)} (give one model)")
    from initbench.pretrained import resolve_pretrained

    model = resolve_pretrained(name)
    method = kwargs.get("method")
    if method is not None and method != model.method:
        raise UsageError(f"--pretrained {name}: holds a {model.method!r} model; --method says {method!r}")
    return model


def write_text_to_stdout(text: str) -> None:
    """The command's one document (JSON, Markdown, HTML) on stdout, also while stdout is reserved for it."""
    out = _json_stdout or sys.stdout
    out.write(text)
    out.flush()


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` as indented JSON atomically (temporary name, then rename); ``-`` means stdout."""
    text = json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n"
    if str(path) == "-":
        write_text_to_stdout(text)
        return
    write_atomic(Path(path), text)
