"""Fixtures shared by every test tree (app, worker, devstack, contract): see devstack.testing."""

pytest_plugins = ["devstack.testing"]
