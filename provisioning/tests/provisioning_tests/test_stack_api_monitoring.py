"""HTTP API wiring, throttling and access logs; log retention; the alarms and where they go."""

from __future__ import annotations

import json

import pytest

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
    assert run.function_env("api")["QUEUE_URL"] == run.outputs["queue_url"]
    assert "QUEUE_MAX_RECEIVE_COUNT" not in run.function_env("api")


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
    assert len(groups) == 4
    assert {group.inputs["retentionInDays"] for group in groups} == {retention}
    for name in ("api", "worker", "callbacks"):
        function = run.one("aws:lambda/function:Function", name)
        assert (
            function["loggingConfig"]["logGroup"]
            == run.one("aws:cloudwatch/logGroup:LogGroup", name)["name"]
        )


def test_alarms_cover_dead_letters_backlog_worker_errors_and_throttles(
    stack_runner: StackRunner,
) -> None:
    run = stack_runner(oldestMessageAlarmSeconds="1200")
    alarms = {alarm.name: alarm.inputs for alarm in run.of_type(ALARM)}
    expected = {
        "dlq-not-empty": (
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
            {"QueueName": "jobs-dlq"},
            0,
        ),
        "queue-oldest-message-age": (
            "AWS/SQS",
            "ApproximateAgeOfOldestMessage",
            {"QueueName": "jobs-queue"},
            1200,
        ),
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
    }
    assert set(alarms) == set(expected)
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
        "dlq_url",
        "jobs_table_name",
        "app_secret_name",
        "worker_function_name",
        "api_function_name",
        "callbacks_queue_url",
        "callbacks_dlq_url",
        "callbacks_function_name",
    }
    assert outputs["api_url"].startswith("https://")
    assert outputs["dlq_url"].endswith("/jobs-dlq")
