"""The contract between the API and the worker Lambdas, declared once and bundled into both.

The queue envelope (`queue`), the job record and its statuses (`jobs`), the settings both
functions read (`settings`), the logging rules (`logs`), every task's input and result models
and prompt (`tasks`), and the one LLM client both use (`llm`, imported lazily by the API).
"""

import os

# litellm downloads its model cost map when first imported unless told to use the bundled copy:
# a network call at cold start that we neither need nor may depend on (costs come from the
# bundled map). An explicit environment value still wins.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
