"""HTTP API wiring, throttling and access logs; log retention; the alarms and where they go."""

from __future__ import annotations

import contextlib
import io
import json

import pytest

from worker.services.metrics import JobMetrics

from .harness import StackRunner, stack_file_config

STAGE = "aws:apigatewayv2/stage:Stage"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"


def test_api_lambda_sits_behind_an_http_api_with_payload_v2(stack_runner: StackRunner) -> None:
    run = stack_runner()
    assert run.one("aws:apigatewayv2/api:Api", "api-http")["protocolType"] == "HTTP"
    integration = run.one("aws:apigatewayv2/integration:Integration", "api-lambda-integration")
    assert (integration["integrationType"], integration["payloadFormatVersion"]) == (
        "AWS_PROXY",
        "2.0",
    )
    api_function_arn = "arn:aws:lambda:us-east-1:123456789012:function/api"
    assert (
        integration["integrationUri"]
        == f"arn:aws:apigateway:us-east-1:lambda:path/functions/{api_function_arn}"
    )
    route = run.one("aws:apigatewayv2/route:Route", "api-default-route")
    assert route["routeKey"] == "$default"
    assert route["target"] == "integrations/api-lambda-integration-id"
    permission = run.one("aws:lambda/permission:Permission", "api-invoke-permission")
    assert permission["principal"] == "apigateway.amazonaws.com"
    assert permission["sourceArn"] == "arn:aws:execute-api:us-east-1:123456789012:api-http-id/*/*"
    env = run.function_env("api")
    # The API sends each job to its lane's queue; budgets, LLM limits and the DLQ are the
    # worker's. It shares the LLM state table only for its per-tenant request limit.
    assert (env["QUEUE_URL"], env["QUEUE_URL_HIGH"], env["QUEUE_URL_LOW"]) == (
        run.outputs["queue_url"],
        run.outputs["queue_url_high"],
        run.outputs["queue_url_low"],
    )
    assert env["LLM_STATE_TABLE_NAME"] == run.outputs["llm_state_table_name"]
    assert not {
        "QUEUE_MAX_RECEIVE_COUNT",
        "JOB_MAX_ATTEMPTS",
        "DLQ_URL",
        "LLM_RPM_LIMIT",
        "LLM_TPM_LIMIT",
    } & set(env)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_stage_throttling_comes_from_the_stack_config(
    stack_runner: StackRunner, stack: str
) -> None:
    config = stack_file_config(stack)
    stage = stack_runner(stack).one(STAGE, "api-default-stage")
    assert stage["defaultRouteSettings"] == {
        "throttlingRateLimit": float(config["gen-ai-on-aws:apiThrottlingRateLimit"]),
        "throttlingBurstLimit": int(config["gen-ai-on-aws:apiThrottlingBurstLimit"]),
    }


def test_stage_writes_json_access_logs_to_its_own_log_group(stack_runner: StackRunner) -> None:
    run = stack_runner()
    settings = run.one(STAGE, "api-default-stage")["accessLogSettings"]
    log_group = run.one("aws:cloudwatch/logGroup:LogGroup", "api-access-logs")
    assert (
        settings["destinationArn"]
        == f"arn:aws:logs:us-east-1:123456789012:log-group:{log_group['name']}"
    )
    assert set(json.loads(settings["format"])) >= {
        "requestId",
        "status",
        "latencyMs",
        "integrationError",
    }


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_log_group_has_the_configured_retention(
    stack_runner: StackRunner, stack: str
) -> None:
    retention = int(stack_file_config(stack)["gen-ai-on-aws:logRetentionDays"])
    run = stack_runner(stack)
    groups = run.of_type("aws:cloudwatch/logGroup:LogGroup")
    assert len(groups) == 5
    assert {group.inputs["retentionInDays"] for group in groups} == {retention}
    for name in ("api", "worker", "callbacks", "settler"):
        function = run.one("aws:lambda/function:Function", name)
        assert (
            function["loggingConfig"]["logGroup"]
            == run.one("aws:cloudwatch/logGroup:LogGroup", name)["name"]
        )


def test_alarms_cover_dead_letters_backlog_per_lane_worker_errors_and_throttles(
    stack_runner: StackRunner,
) -> None:
    run = stack_runner(oldestMessageAlarmSeconds="1200")
    alarms = {alarm.name: alarm.inputs for alarm in run.of_type(ALARM)}
    expected = {
        # One DLQ for the three lanes, so one alarm
        "dlq-not-empty": (
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
            {"QueueName": "jobs-dlq"},
            0,
        ),
        **{
            f"queue-{lane}oldest-message-age": (
                "AWS/SQS",
                "ApproximateAgeOfOldestMessage",
                {"QueueName": queue},
                1200,
            )
            for lane, queue in (
                ("high-", "jobs-high-queue"),
                ("", "jobs-queue"),
                ("low-", "jobs-low-queue"),
            )
        },
        "worker-errors": ("AWS/Lambda", "Errors", {"FunctionName": "worker"}, 0),
        "worker-throttles": ("AWS/Lambda", "Throttles", {"FunctionName": "worker"}, 0),
        "api-errors": ("AWS/Lambda", "Errors", {"FunctionName": "api"}, 0),
        "callbacks-dlq-not-empty": (
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
            {"QueueName": "callbacks-dlq"},
            0,
        ),
        "callbacks-errors": ("AWS/Lambda", "Errors", {"FunctionName": "callbacks"}, 0),
        "settler-errors": ("AWS/Lambda", "Errors", {"FunctionName": "settler"}, 0),
    }
    assert set(alarms) == set(expected) | {"llm-circuit-open"}
    topic_arn = "arn:aws:sns:us-east-1:123456789012:topic/alarms"
    for name, (namespace, metric, dimensions, threshold) in expected.items():
        alarm = alarms[name]
        assert (alarm["namespace"], alarm["metricName"], alarm["dimensions"]) == (
            namespace,
            metric,
            dimensions,
        )
        assert (alarm["comparisonOperator"], alarm["threshold"]) == (
            "GreaterThanThreshold",
            threshold,
        )
        assert alarm["alarmActions"] == [topic_arn]


def test_an_open_circuit_alarms_on_the_workers_emf_metric_where_the_worker_writes_it(
    stack_runner: StackRunner,
) -> None:
    # GIVEN the namespace the stack gives the worker and the service its metrics are tagged with
    run = stack_runner()
    namespace = run.function_env("worker")["POWERTOOLS_METRICS_NAMESPACE"]
    emitted = _emitted_circuit_metric(namespace)

    # THEN the alarm reads exactly that metric: any opened circuit in a minute notifies the topic
    alarm = run.one(ALARM, "llm-circuit-open")
    assert (alarm["namespace"], alarm["metricName"], alarm["dimensions"]) == emitted
    assert (alarm["statistic"], alarm["period"], alarm["evaluationPeriods"]) == ("Sum", 60, 1)
    assert (alarm["comparisonOperator"], alarm["threshold"]) == (
        "GreaterThanOrEqualToThreshold",
        1,
    )
    assert alarm["treatMissingData"] == "notBreaching"
    topic_arn = "arn:aws:sns:us-east-1:123456789012:topic/alarms"
    assert alarm["alarmActions"] == alarm["okActions"] == [topic_arn]
    assert run.outputs["circuit_alarm_name"] == "llm-circuit-open"


def _emitted_circuit_metric(namespace: str) -> tuple[str, str, dict[str, str]]:
    """(namespace, metric, dimensions) of the EMF blob the worker prints for an open circuit."""
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        metrics = JobMetrics(namespace)
        metrics.circuit_opened()
        metrics.flush()
    blob = json.loads(output.getvalue())
    (directive,) = blob["_aws"]["CloudWatchMetrics"]
    (dimension_names,) = directive["Dimensions"]
    (metric,) = directive["Metrics"]
    return (
        directive["Namespace"],
        metric["Name"],
        {name: blob[name] for name in dimension_names},
    )


def test_alarm_email_subscribes_only_when_configured(stack_runner: StackRunner) -> None:
    assert stack_runner().of_type("aws:sns/topicSubscription:TopicSubscription") == []
    subscription = stack_runner(alarmEmail="ops@example.com").one(
        "aws:sns/topicSubscription:TopicSubscription", "alarms-email"
    )
    assert (subscription["protocol"], subscription["endpoint"]) == ("email", "ops@example.com")


def test_outputs_name_everything_a_client_or_operator_needs(stack_runner: StackRunner) -> None:
    outputs = stack_runner().outputs
    assert set(outputs) == {
        "api_url",
        "queue_url",
        "queue_url_high",
        "queue_url_low",
        "dlq_url",
        "jobs_table_name",
        "llm_state_table_name",
        "circuit_alarm_name",
        "app_secret_name",
        "worker_function_name",
        "api_function_name",
        "callbacks_queue_url",
        "callbacks_dlq_url",
        "callbacks_function_name",
        "settler_function_name",
        "dashboard_name",
    }
    assert outputs["api_url"].startswith("https://")
    assert outputs["dlq_url"].endswith("/jobs-dlq")
    assert outputs["queue_url_high"].endswith("/jobs-high-queue")
    assert outputs["queue_url_low"].endswith("/jobs-low-queue")
    assert outputs["llm_state_table_name"] == "llm-state"
