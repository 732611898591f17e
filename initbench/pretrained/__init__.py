"""Trained reference models shipped with the package (``--pretrained NAME`` wherever ``--ckpt`` works).

:mod:`~initbench.pretrained.catalogue` lists them (``catalogue.json``, checked by its JSON Schema),
:mod:`~initbench.pretrained.resolve` finds one by name and checks its sha256, and
:mod:`~initbench.pretrained.bundle` turns a training run into a bundled model
(``python -m initbench.pretrained.bundle RUN_DIR --name ...``).
"""

from initbench.pretrained.catalogue import catalogue_entries, files_dir, load_catalogue
from initbench.pretrained.resolve import PretrainedModel, inspect, resolve_pretrained

__all__ = ["PretrainedModel", "catalogue_entries", "files_dir", "inspect", "load_catalogue", "resolve_pretrained"]
