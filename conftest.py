"""Fixtures shared by every test tree (app, worker, devstack, contract): see devstack.testing."""

import os

# Before anything imports litellm: never fetch the model cost map over the network.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

pytest_plugins = ["devstack.testing"]
