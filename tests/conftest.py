"""Fixtures shared by every test area. Never import tests as a package (torch-fidelity ships one
called ``tests``); share helpers here as fixtures."""

from __future__ import annotations

import os

import pytest
import torch

# Small, deterministic, and polite to the 2 CPU cores the suite runs on.
torch.set_num_threads(min(2, os.cpu_count() or 1))
