"""What every benchmark script shares: progress lines on stderr and a description of the machine."""

from __future__ import annotations

import os
import platform
import sys


def log(msg: str) -> None:
    """A progress line on stderr (a script's JSON result goes to its --out file)."""
    print(msg, file=sys.stderr, flush=True)


def cpu_model() -> str:
    """The processor's model name (from /proc/cpuinfo where there is one)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine(**extra) -> dict:
    """Platform, Python, CPU model and count, plus ``extra`` facts a benchmark depends on."""
    return {"platform": platform.platform(), "python": platform.python_version(), "cpu": cpu_model(),
            "cpus": os.cpu_count(), **extra}
