"""The whole stack, wired in one function so tests can run it under mocks (no import effects)."""

from __future__ import annotations

import pulumi

from provisioning.packaging.build import build_function
from provisioning.packaging.freshness import Builder
from provisioning.packaging.targets import TARGETS
from provisioning.stack import dashboard, data, monitoring
from provisioning.stack.artifacts import ArtifactStore, load_package
from provisioning.stack.callbacks import (
    CallbackDelivery,
    CallbackDeliveryArgs,
    CallbackQueue,
)
from provisioning.stack.config import load_config
from provisioning.stack.http_api import HttpApi, HttpApiArgs
from provisioning.stack.queue_worker import QueueWorker, QueueWorkerArgs
from provisioning.stack.settler import DeadLetterSettler, DeadLetterSettlerArgs


def deploy(builder: Builder = build_function) -> dict[str, pulumi.Output[str]]:
    """Create every resource; return the outputs clients and operators need (for export).

    `builder` builds a missing or stale Lambda package (tests pass a fake one)."""
    config = load_config()
    worker_package, worker_zip = load_package(config, "worker", builder)
    api_package, api_zip = load_package(config, "api", builder)
    artifacts = ArtifactStore("lambda-artifacts")
    # One upload of the worker's zip, run by three functions (jobs, webhooks, DLQ settler).
    worker_code = artifacts.code_for(worker_package, worker_zip)
    table = data.jobs_table(config)
    state_table = data.llm_state_table()
    secret = data.app_secret()
    callbacks = CallbackQueue("callbacks", config)
    jobs = QueueWorker(
        "jobs",
        QueueWorkerArgs(
            config=config,
            code=worker_code,
            handler=TARGETS["worker"].handler,
            table_name=table.name,
            table_arn=table.arn,
            secret_arn=secret.arn,
            state_table_name=state_table.name,
            state_table_arn=state_table.arn,
            callbacks_queue_url=callbacks.queue.url,
            callbacks_queue_arn=callbacks.queue.arn,
        ),
    )
    api = HttpApi(
        "api",
        HttpApiArgs(
            config=config,
            code=artifacts.code_for(api_package, api_zip),
            handler=TARGETS["api"].handler,
            queue_urls=jobs.lanes.urls(),
            queue_arns=jobs.lanes.arns(),
            table_name=table.name,
            table_arn=table.arn,
            state_table_name=state_table.name,
            state_table_arn=state_table.arn,
            secret_arn=secret.arn,
            callbacks_queue_url=callbacks.queue.url,
            callbacks_queue_arn=callbacks.queue.arn,
        ),
    )
    delivery = CallbackDelivery(
        "callbacks",
        CallbackDeliveryArgs(
            config=config,
            code=worker_code,
            queue=callbacks,
            jobs_queue_url=jobs.queue.url,
            table_name=table.name,
            table_arn=table.arn,
            secret_arn=secret.arn,
        ),
    )
    settler = DeadLetterSettler(
        "settler",
        DeadLetterSettlerArgs(
            config=config,
            code=worker_code,
            dlq_url=jobs.dlq.url,
            dlq_arn=jobs.dlq.arn,
            jobs_queue_url=jobs.queue.url,
            table_name=table.name,
            table_arn=table.arn,
            callbacks_queue_url=callbacks.queue.url,
            callbacks_queue_arn=callbacks.queue.arn,
        ),
    )
    specs = monitoring.alarm_specs(
        config,
        queue_names={lane: queue.name for lane, queue in jobs.lanes.queues.items()},
        dlq_name=jobs.dlq.name,
        worker_name=jobs.function.name,
        api_name=api.function.name,
        callbacks_dlq_name=callbacks.dlq.name,
        callbacks_name=delivery.function.name,
        settler_name=settler.function.name,
    )
    alarms = monitoring.create_alarms(specs, monitoring.alarm_topic(config))
    board = dashboard.operations_dashboard(
        dashboard.DashboardSources(
            region=config.region,
            queue_names={lane: queue.name for lane, queue in jobs.lanes.queues.items()},
            dlq_name=jobs.dlq.name,
            callbacks_dlq_name=callbacks.dlq.name,
            function_names={
                "api": api.function.name,
                "worker": jobs.function.name,
                "webhooks": delivery.function.name,
                "settler": settler.function.name,
            },
        )
    )
    return {
        "api_url": api.url,
        "queue_url": jobs.queue.url,
        "queue_url_high": jobs.lanes.queues["high"].url,
        "queue_url_low": jobs.lanes.queues["low"].url,
        "dlq_url": jobs.dlq.url,
        "jobs_table_name": table.name,
        "llm_state_table_name": state_table.name,
        "circuit_alarm_name": alarms[monitoring.CIRCUIT_ALARM].name,
        "app_secret_name": secret.name,
        "worker_function_name": jobs.function.name,
        "api_function_name": api.function.name,
        "callbacks_queue_url": callbacks.queue.url,
        "callbacks_dlq_url": callbacks.dlq.url,
        "callbacks_function_name": delivery.function.name,
        "settler_function_name": settler.function.name,
        "dashboard_name": board.dashboard_name,
    }
