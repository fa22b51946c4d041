"""Platform-owned ("system") credentials: the deployment's own provider keys, offered to every user.

Ids and titles are AutoGPT's (``integrations/credentials_store.py``), so graphs exported from
AutoGPT that reference "Use Credits for OpenAI" by id resolve here too, and the per-model price
table can name them (COMPAT §2.7: a run with a system credential is charged, a run with the user's
own key is not). A provider's system credential exists only when its key is configured; Ollama's
always exists, because Ollama needs no key (AutoGPT does the same).
"""

from __future__ import annotations

from pydantic import SecretStr

from services.domain.integrations.credentials import APIKeyCredentials

# provider -> the settings field holding the platform's own key for it (``Settings`` declares them).
SYSTEM_KEY_FIELDS = {"openai": "openai_api_key", "anthropic": "anthropic_api_key", "groq": "groq_api_key",
                     "open_router": "open_router_api_key", "aiml_api": "aiml_api_key", "llama_api": "llama_api_key",
                     "v0": "v0_api_key"}

# provider -> (AutoGPT's system credential id, title); the key itself is the setting named in
# ``settings.SYSTEM_KEY_FIELDS`` (Ollama has none: it needs no key).
SYSTEM_CREDENTIALS: dict[str, tuple[str, str]] = {
    "ollama": ("744fdc56-071a-4761-b5a5-0af0ce10a2b5", "Use Credits for Ollama"),
    "openai": ("53c25cb8-e3ee-465c-a4d1-e75a4c899c2a", "Use Credits for OpenAI"),
    "anthropic": ("24e5d942-d9e3-4798-8151-90143ee55629", "Use Credits for Anthropic"),
    "groq": ("4ec22295-8f97-4dd1-b42b-2c6957a02545", "Use Credits for Groq"),
    "open_router": ("b5a0e27d-0c98-4df3-a4b9-10193e1f3c40", "Use Credits for Open Router"),
    "aiml_api": ("aad82a89-9794-4ebb-977f-d736aa5260a3", "Use Credits for AI/ML API"),
    "llama_api": ("d44045af-1c33-4833-9e19-752313214de2", "Use Credits for Llama API"),
    "v0": ("c4e6d1a0-3b5f-4789-a8e2-9b123456789f", "Use Credits for v0 by Vercel"),
}
SYSTEM_CREDENTIAL_IDS = frozenset(entry[0] for entry in SYSTEM_CREDENTIALS.values())
OLLAMA_PLACEHOLDER_KEY = "FAKE_API_KEY"


def system_meta(provider: str) -> dict[str, str]:
    """The ``{id, provider, type}`` reference of a provider's system credential (for price filters)."""
    return {"id": SYSTEM_CREDENTIALS[provider][0], "provider": provider, "type": "api_key"}


def configured_system_credentials(settings) -> dict[str, APIKeyCredentials]:
    """Every system credential this deployment offers, by id."""
    found: dict[str, APIKeyCredentials] = {}
    for provider, (cred_id, title) in SYSTEM_CREDENTIALS.items():
        attr = SYSTEM_KEY_FIELDS.get(provider)
        if attr is None:
            key = OLLAMA_PLACEHOLDER_KEY
        else:
            secret: SecretStr = getattr(settings, attr)
            key = secret.get_secret_value()
            if not key:
                continue
        found[cred_id] = APIKeyCredentials(id=cred_id, provider=provider, title=title,
                                           api_key=SecretStr(key), is_system=True)
    return found
