"""SharedSettings: the names both Lambdas read; model lists, allow-list and fallback order."""

from __future__ import annotations

import pytest

from gen_ai_contracts.settings import ConfigurationError, SharedSettings, load_settings

REQUIRED = {"queue_url": "q", "jobs_table_name": "t"}


def _settings(**values: object) -> SharedSettings:
    return SharedSettings(**REQUIRED, **values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "value",
    ["openai/a, openai/b", '["openai/a", "openai/b"]', " openai/a ,, openai/b ,"],
)
def test_model_lists_accept_commas_or_json_and_drop_blanks(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("QUEUE_URL", "q")
    monkeypatch.setenv("JOBS_TABLE_NAME", "t")
    monkeypatch.setenv("LLM_FALLBACK_MODELS", value)
    settings = load_settings(SharedSettings)
    assert settings.llm_fallback_models == ("openai/a", "openai/b")


def test_allowed_models_default_to_the_model_and_its_fallbacks() -> None:
    settings = _settings(llm_model="openai/a", llm_fallback_models="openai/b,openai/a")
    assert settings.allowed_models == ("openai/a", "openai/b")


def test_an_explicit_allow_list_wins() -> None:
    settings = _settings(llm_model="openai/a", llm_allowed_models="openai/x, openai/y")
    assert settings.allowed_models == ("openai/x", "openai/y")


def test_models_to_try_start_with_the_chosen_one_and_never_repeat() -> None:
    settings = _settings(llm_model="openai/a", llm_fallback_models="openai/b, openai/c")
    assert settings.models_to_try(None) == ("openai/a", "openai/b", "openai/c")
    assert settings.models_to_try("openai/c") == ("openai/c", "openai/b")
    assert _settings(llm_model="openai/a").models_to_try(None) == ("openai/a",)


def test_a_missing_required_setting_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QUEUE_URL", raising=False)
    monkeypatch.setenv("JOBS_TABLE_NAME", "t")
    with pytest.raises(ConfigurationError, match="QUEUE_URL"):
        load_settings(SharedSettings)
