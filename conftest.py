"""Fixtures shared by every test tree (app, worker, devstack, contract): see devstack.testing."""

import os

import pytest

# Before anything imports litellm: never fetch the model cost map over the network.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

# The member folders `bench/` and `worker/` sit beside this file; under --import-mode=importlib
# pytest could otherwise resolve `bench` or `worker` to those folders (namespace packages)
# instead of the installed packages. Importing them first pins the real ones.
import bench  # noqa: F401
import worker  # noqa: F401

pytest_plugins = ["devstack.testing"]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--soak",
        action="store_true",
        help="run the long fault-injection soak (thousands of jobs) instead of the CI-sized run",
    )
