"""The ``initbench`` command line: a click group; each command parses, calls the library, renders.

Commands live in one module per area (``dataset_cmds``, ``split_cmds``, ``eval_cmds``,
``train_cmds``, ``leaderboard_cmds``); each module has ``register(group)``. No logic here:
library code returns values, these modules print them.
"""

from __future__ import annotations

import click
from rich_click.patch import patch as _rich_help

# Rich help for every command: patch click before the command modules build their commands.
_rich_help()

from initbench import __version__  # noqa: E402
from initbench.cli import (dataset_cmds, eval_cmds, leaderboard_cmds, official_cmds, pretrained_cmds, quickstart_cmds,
                           report_cmds, split_cmds, train_cmds)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(__version__, prog_name="initbench")
def main() -> None:
    """initbench: the INIT street dataset (sunny, night, cloudy, rainy), a leak-free split,
    loaders, INIT and four baselines, and one versioned evaluator.

    Start with `initbench quickstart` (the whole pipeline on the synthetic mini-INIT).
    Exit codes: 0 success, 1 the check found problems, 2 usage or unreadable input.
    """


for _module in (dataset_cmds, split_cmds, eval_cmds, train_cmds, official_cmds, pretrained_cmds, leaderboard_cmds, quickstart_cmds,
                report_cmds):
    _module.register(main)
