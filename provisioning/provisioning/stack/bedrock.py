"""The Bedrock ARNs litellm model strings need `bedrock:InvokeModel` on (none if not Bedrock)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

# Geography prefixes of cross-region inference profiles ("us.anthropic.claude-...").
_PROFILE_GEOGRAPHIES = frozenset({"us", "us-gov", "eu", "apac", "jp", "au", "ca", "global"})


@dataclass(frozen=True)
class BedrockModel:
    """A model reference; `needs_account` when the ARN includes the caller's account id."""

    model_id: str
    inference_profile: bool
    explicit_arn: str | None = None

    @property
    def needs_account(self) -> bool:
        return self.inference_profile and self.explicit_arn is None

    def arns(self, region: str, account_id: str = "") -> list[str]:
        """One ARN per policy statement."""
        if self.explicit_arn:
            return [self.explicit_arn]
        if not self.inference_profile:
            return [f"arn:aws:bedrock:{region}::foundation-model/{self.model_id}"]
        base_model = self.model_id.split(".", 1)[1]
        return [
            f"arn:aws:bedrock:{region}:{account_id}:inference-profile/{self.model_id}",
            # A profile routes each call to any region of its geography, chosen by AWS at call
            # time, so the foundation-model grant cannot name the region: the one `*` we need.
            f"arn:aws:bedrock:*::foundation-model/{base_model}",
        ]


def parse_bedrock_model(llm_model: str) -> BedrockModel | None:
    """Parse "bedrock/[route/]<model id or ARN>" (litellm's syntax); None for other providers."""
    if not llm_model.startswith("bedrock/"):
        return None
    rest = llm_model.removeprefix("bedrock/")
    if "arn:" in rest:
        return BedrockModel(
            model_id=rest, inference_profile=False, explicit_arn=rest[rest.index("arn:") :]
        )
    model_id = rest.rsplit("/", 1)[-1]  # drops litellm route prefixes such as "converse/"
    if not model_id:
        raise ValueError(f"llmModel {llm_model!r} names no Bedrock model id")
    return BedrockModel(
        model_id=model_id, inference_profile=model_id.split(".", 1)[0] in _PROFILE_GEOGRAPHIES
    )


def parse_bedrock_models(llm_models: Iterable[str]) -> tuple[BedrockModel, ...]:
    """The Bedrock models among `llm_models` (default, fallbacks, allowed), once each."""
    parsed = (parse_bedrock_model(llm_model) for llm_model in llm_models)
    return tuple(dict.fromkeys(model for model in parsed if model is not None))
