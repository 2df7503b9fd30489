"""Parsing litellm's Bedrock model strings into the ARNs to grant."""

from __future__ import annotations

import pytest

from provisioning.stack.bedrock import parse_bedrock_model

MODEL = "anthropic.claude-3-haiku-20240307-v1:0"


@pytest.mark.parametrize(
    "llm_model", ["openai/gpt-4o-mini", "anthropic/claude-3-haiku", "gpt-4o", "bedrockish/x"]
)
def test_other_providers_need_no_bedrock_grant(llm_model: str) -> None:
    assert parse_bedrock_model(llm_model) is None


@pytest.mark.parametrize(
    "llm_model", [f"bedrock/{MODEL}", f"bedrock/converse/{MODEL}", f"bedrock/invoke/{MODEL}"]
)
def test_foundation_models_map_to_one_regional_arn(llm_model: str) -> None:
    model = parse_bedrock_model(llm_model)
    assert model is not None
    assert not model.needs_account
    assert model.arns("eu-west-1") == [f"arn:aws:bedrock:eu-west-1::foundation-model/{MODEL}"]


@pytest.mark.parametrize("geography", ["us", "eu", "apac", "global"])
def test_inference_profiles_map_to_the_profile_and_the_model_it_routes_to(geography: str) -> None:
    model = parse_bedrock_model(f"bedrock/{geography}.{MODEL}")
    assert model is not None
    assert model.needs_account
    assert model.arns("us-east-1", "111122223333") == [
        f"arn:aws:bedrock:us-east-1:111122223333:inference-profile/{geography}.{MODEL}",
        f"arn:aws:bedrock:*::foundation-model/{MODEL}",
    ]


def test_an_explicit_arn_is_granted_as_given() -> None:
    arn = "arn:aws:bedrock:us-east-1:111122223333:application-inference-profile/abc123"
    model = parse_bedrock_model(f"bedrock/{arn}")
    assert model is not None
    assert model.arns("us-east-1") == [arn]


def test_a_bedrock_model_without_id_is_rejected() -> None:
    with pytest.raises(ValueError, match="names no Bedrock model id"):
        parse_bedrock_model("bedrock/converse/")
