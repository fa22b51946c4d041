"""Every language model the AI blocks accept: which provider serves it, how much context and output
it allows, and what one call costs in credits when the platform's own ("system") key pays for it.

Model names and their providers are AutoGPT's (``LlmModel`` / ``MODEL_METADATA``), so exported
graphs naming a model keep working. Costs follow AutoGPT's ``MODEL_COST`` where it publishes one
(o3-mini 2, gpt-4o 3, gpt-4o-mini 1, gpt-4-turbo 10, gpt-5.2 6, claude-opus-4.1 21, ...); the rest
are set by model class. A deployment can override any price with ``AGENTLOOM_BLOCK_COSTS``.
"""

from __future__ import annotations

from dataclasses import dataclass

LLM_PROVIDERS = ("openai", "anthropic", "groq", "open_router", "ollama", "aiml_api", "llama_api", "v0")
DEFAULT_LLM_MODEL = "gpt-5.2-2025-12-11"


@dataclass(frozen=True)
class ModelInfo:
    provider: str
    context_window: int
    max_output_tokens: int | None
    cost: int  # credits per call with system credentials


def _m(provider: str, context: int, output: int | None, cost: int) -> ModelInfo:
    return ModelInfo(provider, context, output, cost)


MODELS: dict[str, ModelInfo] = {
    # OpenAI
    "o3-mini": _m("openai", 200_000, 100_000, 2),
    "o3-2025-04-16": _m("openai", 200_000, 100_000, 4),
    "o1": _m("openai", 200_000, 100_000, 16),
    "o1-mini": _m("openai", 128_000, 65_536, 4),
    "gpt-5.2-2025-12-11": _m("openai", 400_000, 128_000, 6),
    "gpt-5.1-2025-11-13": _m("openai", 400_000, 128_000, 5),
    "gpt-5-2025-08-07": _m("openai", 400_000, 128_000, 5),
    "gpt-5-mini-2025-08-07": _m("openai", 400_000, 128_000, 1),
    "gpt-5-nano-2025-08-07": _m("openai", 400_000, 128_000, 1),
    "gpt-5-chat-latest": _m("openai", 400_000, 16_384, 5),
    "gpt-4.1-2025-04-14": _m("openai", 1_047_576, 32_768, 2),
    "gpt-4.1-mini-2025-04-14": _m("openai", 1_047_576, 32_768, 1),
    "gpt-4o-mini": _m("openai", 128_000, 16_384, 1),
    "gpt-4o": _m("openai", 128_000, 16_384, 3),
    "gpt-4-turbo": _m("openai", 128_000, 4_096, 10),
    "gpt-3.5-turbo": _m("openai", 16_385, 4_096, 1),
    # Anthropic
    "claude-opus-4-1-20250805": _m("anthropic", 200_000, 32_000, 21),
    "claude-opus-4-20250514": _m("anthropic", 200_000, 32_000, 21),
    "claude-opus-4-5-20251101": _m("anthropic", 200_000, 64_000, 14),
    "claude-sonnet-4-20250514": _m("anthropic", 200_000, 64_000, 5),
    "claude-sonnet-4-5-20250929": _m("anthropic", 200_000, 64_000, 9),
    "claude-haiku-4-5-20251001": _m("anthropic", 200_000, 64_000, 4),
    "claude-3-7-sonnet-20250219": _m("anthropic", 200_000, 64_000, 5),
    "claude-3-haiku-20240307": _m("anthropic", 200_000, 4_096, 1),
    # Groq
    "llama-3.3-70b-versatile": _m("groq", 128_000, 32_768, 1),
    "llama-3.1-8b-instant": _m("groq", 128_000, 8_192, 1),
    # Ollama (local; the system credential is a placeholder key)
    "llama3.3": _m("ollama", 8_192, None, 1),
    "llama3.2": _m("ollama", 8_192, None, 1),
    "llama3": _m("ollama", 8_192, None, 1),
    "llama3.1:405b": _m("ollama", 8_192, None, 1),
    "dolphin-mistral:latest": _m("ollama", 32_768, None, 1),
    # AI/ML API
    "Qwen/Qwen2.5-72B-Instruct-Turbo": _m("aiml_api", 32_000, 8_000, 1),
    "nvidia/llama-3.1-nemotron-70b-instruct": _m("aiml_api", 128_000, 40_000, 1),
    "meta-llama/Llama-3.3-70B-Instruct-Turbo": _m("aiml_api", 128_000, None, 1),
    "meta-llama/Meta-Llama-3.1-70B-Instruct-Turbo": _m("aiml_api", 131_000, 2_000, 1),
    "meta-llama/Llama-3.2-3B-Instruct-Turbo": _m("aiml_api", 128_000, None, 1),
    # Llama API
    "Llama-4-Scout-17B-16E-Instruct-FP8": _m("llama_api", 128_000, 4_028, 1),
    "Llama-4-Maverick-17B-128E-Instruct-FP8": _m("llama_api", 128_000, 4_028, 1),
    "Llama-3.3-8B-Instruct": _m("llama_api", 128_000, 4_028, 1),
    "Llama-3.3-70B-Instruct": _m("llama_api", 128_000, 4_028, 1),
    # v0
    "v0-1.5-md": _m("v0", 128_000, 64_000, 1),
    "v0-1.5-lg": _m("v0", 512_000, 64_000, 1),
    "v0-1.0-md": _m("v0", 128_000, 64_000, 1),
    # OpenRouter
    "google/gemini-2.5-pro-preview-03-25": _m("open_router", 1_050_000, 8_192, 4),
    "google/gemini-3-pro-preview": _m("open_router", 1_048_576, 65_535, 5),
    "google/gemini-2.5-flash": _m("open_router", 1_048_576, 65_535, 1),
    "google/gemini-2.0-flash-001": _m("open_router", 1_048_576, 8_192, 1),
    "google/gemini-2.5-flash-lite-preview-06-17": _m("open_router", 1_048_576, 65_535, 1),
    "google/gemini-2.0-flash-lite-001": _m("open_router", 1_048_576, 8_192, 1),
    "mistralai/mistral-nemo": _m("open_router", 128_000, 4_096, 1),
    "cohere/command-r-08-2024": _m("open_router", 128_000, 4_096, 1),
    "cohere/command-r-plus-08-2024": _m("open_router", 128_000, 4_096, 3),
    "deepseek/deepseek-chat": _m("open_router", 64_000, 2_048, 2),
    "deepseek/deepseek-r1-0528": _m("open_router", 163_840, 163_840, 1),
    "perplexity/sonar": _m("open_router", 127_000, 8_000, 1),
    "perplexity/sonar-pro": _m("open_router", 200_000, 8_000, 5),
    "perplexity/sonar-deep-research": _m("open_router", 128_000, 16_000, 10),
    "nousresearch/hermes-3-llama-3.1-405b": _m("open_router", 131_000, 4_096, 1),
    "nousresearch/hermes-3-llama-3.1-70b": _m("open_router", 12_288, 12_288, 1),
    "openai/gpt-oss-120b": _m("open_router", 131_072, 131_072, 1),
    "openai/gpt-oss-20b": _m("open_router", 131_072, 32_768, 1),
    "amazon/nova-lite-v1": _m("open_router", 300_000, 5_120, 1),
    "amazon/nova-micro-v1": _m("open_router", 128_000, 5_120, 1),
    "amazon/nova-pro-v1": _m("open_router", 300_000, 5_120, 1),
    "microsoft/wizardlm-2-8x22b": _m("open_router", 65_536, 4_096, 1),
    "gryphe/mythomax-l2-13b": _m("open_router", 4_096, 4_096, 1),
    "meta-llama/llama-4-scout": _m("open_router", 131_072, 131_072, 1),
    "meta-llama/llama-4-maverick": _m("open_router", 1_048_576, 1_000_000, 1),
    "x-ai/grok-4": _m("open_router", 256_000, 256_000, 9),
    "x-ai/grok-4-fast": _m("open_router", 2_000_000, 30_000, 1),
    "x-ai/grok-4.1-fast": _m("open_router", 2_000_000, 30_000, 1),
    "x-ai/grok-code-fast-1": _m("open_router", 256_000, 10_000, 1),
    "moonshotai/kimi-k2": _m("open_router", 131_000, 131_000, 1),
    "qwen/qwen3-235b-a22b-thinking-2507": _m("open_router", 262_144, 262_144, 1),
    "qwen/qwen3-coder": _m("open_router", 262_144, 262_144, 3),
}

MODEL_NAMES: tuple[str, ...] = tuple(sorted(MODELS))


def model_info(model: str) -> ModelInfo | None:
    return MODELS.get(model)


def provider_of(model: str) -> str | None:
    info = MODELS.get(model)
    return info.provider if info else None


def discriminator_mapping() -> dict[str, str]:
    """model -> provider, the ``discriminator_mapping`` of an LLM block's credentials field."""
    return {name: MODELS[name].provider for name in MODEL_NAMES}
