"""Fixtures for the method tests."""

from __future__ import annotations

import warnings

import pytest
import torch


@pytest.fixture(autouse=True, scope="module")
def _native_cpu_kernels():
    """oneDNN compiles a kernel for every new conv shape, and two threads contend on a busy CPU: both
    dominate these tiny nets, so they run single-threaded on the native kernels (restored afterwards)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        with torch.backends.mkldnn.flags(enabled=False):
            yield
    torch.set_num_threads(threads)
