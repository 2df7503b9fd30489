"""Fixtures shared by every test tree (app, worker, devstack, contract): see devstack.testing.

Also the IAM proof (provisioning/README.md, "Least privilege, proven"): every AWS call a Lambda
makes while the tests run is recorded (here, in xdist workers and in the devstack processes the
e2e tests start, which inherit GEN_AI_RECORD_AWS_CALLS), then judged once at the end against the
Pulumi program's policies. Denied calls always fail the run; grants nothing exercised fail a run
of the whole suite (a partial run cannot tell).
"""

import os
import shutil
import sys
import tempfile
import warnings
from pathlib import Path

import pytest

# Before anything imports litellm: never fetch the model cost map over the network.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

# The member folders `bench/` and `worker/` sit beside this file; under --import-mode=importlib
# pytest could otherwise resolve `bench` or `worker` to those folders (namespace packages)
# instead of the installed packages. Importing them first pins the real ones.
import bench  # noqa: F401
import worker  # noqa: F401
from devstack.call_recorder import RECORD_ENV, install, install_from_environment, read_calls

pytest_plugins = ["devstack.testing"]

# Where this session's calls are recorded.
RECORDINGS = pytest.StashKey[Path]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--soak",
        action="store_true",
        help="run the long fault-injection soak (thousands of jobs) instead of the CI-sized run",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Record before any test creates a boto3 client; xdist workers and devstack processes find
    the directory in their environment."""
    if hasattr(config, "workerinput"):
        install_from_environment()
        return
    named = os.environ.get(RECORD_ENV, "").strip()
    directory = Path(named) if named else Path(tempfile.mkdtemp(prefix="gen-ai-aws-calls-"))
    os.environ[RECORD_ENV] = str(directory)
    config.stash[RECORDINGS] = directory
    if not named:
        config.add_cleanup(lambda: shutil.rmtree(directory, ignore_errors=True))
    install(directory)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """The IAM proof, once, on the controller, after every worker and devstack has stopped.
    Every process first ends the worker's shared event loop cleanly, as the devstack does."""
    loop = sys.modules.get("worker.services.loop")
    if loop is not None:
        loop.shared_loop.close()
    config = session.config
    if hasattr(config, "workerinput") or RECORDINGS not in config.stash:
        return
    finished = exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED)
    if finished and not config.option.collectonly:
        _prove_least_privilege(session, config.stash[RECORDINGS])


def _prove_least_privilege(session: pytest.Session, directory: Path) -> None:
    complete = _ran_whole_suite(session.config)
    records = list(read_calls(directory))
    if not records and not complete:
        return  # no Lambda code ran: nothing to prove, and no time spent on it
    with warnings.catch_warnings():
        # pulumi_aws warns about its deprecated classes as it loads (not ours to fix).
        warnings.filterwarnings("ignore", category=DeprecationWarning, module="pulumi_aws")
        from provisioning.iam_proof.session import evaluate_session  # pulumi: only when needed

        outcome = evaluate_session(records, complete=complete)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.ensure_newline()
        reporter.write_sep("-", "least privilege (provisioning/provisioning/iam_proof)")
        for line in outcome.report():
            reporter.write_line(line)
    if outcome.failures() and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def _ran_whole_suite(config: pytest.Config) -> bool:
    """The configured testpaths, nothing deselected: only then must every grant be exercised."""
    option = config.option
    narrowed = (
        option.keyword,
        option.markexpr,
        option.deselect,
        option.ignore,
        option.ignore_glob,
        getattr(option, "lf", False),
        getattr(option, "stepwise", False),
    )
    return config.args_source is pytest.Config.ArgsSource.TESTPATHS and not any(narrowed)
