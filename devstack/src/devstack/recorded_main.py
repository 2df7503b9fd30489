"""``python -m devstack.recorded_main ARGS``: ``python -m devstack ARGS`` with its Lambdas' AWS
calls recorded (devstack.call_recorder) when ``GEN_AI_RECORD_AWS_CALLS`` names a directory.

The recorder must be installed before the devstack creates its first boto3 client, hence a
launcher rather than an option of the CLI.
"""

import runpy

from devstack.call_recorder import install_from_environment

install_from_environment()
runpy.run_module("devstack", run_name="__main__", alter_sys=True)
