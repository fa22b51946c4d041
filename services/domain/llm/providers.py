"""Provider names a credential may be stored for (AutoGPT's ``ProviderName`` values that matter
here). Unknown names are refused, so a typo fails at creation instead of at run time."""

from __future__ import annotations

from services.domain.llm.models import LLM_PROVIDERS

OTHER_PROVIDERS = (
    "jina", "google_maps", "exa", "e2b", "replicate", "ideogram", "d_id", "revid", "unreal_speech", "fal",
    "mem0", "nvidia", "screenshotone", "apollo", "smartlead", "zerobounce", "enrichlayer", "openweathermap",
    "elevenlabs", "github", "google", "notion", "twitter", "discord", "slack", "linear", "todoist", "hubspot",
    "airtable", "firecrawl", "dataforseo", "wordpress", "reddit", "medium", "pinecone", "http",
)
KNOWN_PROVIDERS: frozenset[str] = frozenset((*LLM_PROVIDERS, *OTHER_PROVIDERS))
