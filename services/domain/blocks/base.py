"""The block contract: what every runnable node type in a graph looks like.

A block is a small class with a permanent UUID id, pydantic ``Input``/``Output`` models and an async
generator ``run`` that yields ``(pin, value)`` pairs. The same output pin may be yielded many times;
each yield is routed downstream at once by the executor. Blocks hold no I/O handles of their own:
anything that reaches outside the process (key/value storage, child executions, HTTP policy) comes
in through ``RunContext`` so blocks stay testable without a database.

The shape mirrors AutoGPT's block system (ids, pin names, ``test_input``/``test_output`` pairs) so
exported graphs run unchanged.
"""

from __future__ import annotations

import copy
import enum
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class BlockType(str, enum.Enum):
    STANDARD = "Standard"
    INPUT = "Input"
    OUTPUT = "Output"
    NOTE = "Note"
    WEBHOOK = "Webhook"
    WEBHOOK_MANUAL = "Webhook (manual)"
    AGENT = "Agent"
    AI = "AI"
    HUMAN_IN_THE_LOOP = "Human In The Loop"


class BlockCategory(str, enum.Enum):
    AI = "Block that leverages AI to perform a task."
    SOCIAL = "Block that interacts with social media platforms."
    TEXT = "Block that processes text data."
    SEARCH = "Block that searches or extracts information from the internet."
    BASIC = "Block that performs basic operations."
    INPUT = "Block that interacts with input of the graph."
    OUTPUT = "Block that interacts with output of the graph."
    LOGIC = "Programming logic to control the flow of your agent"
    COMMUNICATION = "Block that interacts with communication platforms."
    DEVELOPER_TOOLS = "Developer tools such as GitHub blocks."
    DATA = "Block that interacts with structured data."
    AGENT = "Block that interacts with other agents."

    def to_dict(self) -> dict[str, str]:
        return {"category": self.name, "description": self.value}


def SchemaField(  # noqa: N802 - reads like pydantic's Field on purpose
    default: Any = ...,
    *,
    default_factory: Callable[[], Any] | None = None,
    description: str | None = None,
    title: str | None = None,
    placeholder: str | None = None,
    advanced: bool | None = None,
    secret: bool = False,
    hidden: bool = False,
    depends_on: list[str] | None = None,
    ge: float | None = None,
    le: float | None = None,
    json_schema_extra: dict[str, Any] | None = None,
) -> Any:
    """A pydantic field carrying AutoGPT's UI hints in its JSON schema.

    ``advanced`` defaults to False for required fields and True for fields with a default,
    as AutoGPT does.
    """
    has_default = default is not ... or default_factory is not None
    extra: dict[str, Any] = {
        "advanced": (has_default if advanced is None else advanced),
        "secret": secret,
    }
    if placeholder is not None:
        extra["placeholder"] = placeholder
    if hidden:
        extra["hidden"] = True
    if depends_on:
        extra["depends_on"] = depends_on
    extra.update(json_schema_extra or {})
    kwargs: dict[str, Any] = {"description": description, "title": title, "json_schema_extra": extra}
    if ge is not None:
        kwargs["ge"] = ge
    if le is not None:
        kwargs["le"] = le
    if default_factory is not None:
        return Field(default_factory=default_factory, **kwargs)
    return Field(default, **kwargs)


def CredentialsField(  # noqa: N802 - mirrors SchemaField
    *,
    providers: list[str],
    types: tuple[str, ...] = ("api_key",),
    discriminator: str | None = None,
    discriminator_mapping: dict[str, str] | None = None,
    description: str | None = None,
    title: str | None = None,
) -> Any:
    """An input field holding a credentials *reference* (``CredentialsMeta``), with AutoGPT's
    schema hints: ``credentials_provider``, ``credentials_types`` and, for blocks whose provider
    depends on another input (LLM blocks: the model), ``discriminator`` + ``discriminator_mapping``.
    The field must be named ``credentials`` or ``*_credentials``."""
    extra: dict[str, Any] = {"credentials_provider": list(providers), "credentials_types": list(types),
                             "advanced": False, "secret": False}
    if discriminator:
        extra["discriminator"] = discriminator
        extra["discriminator_mapping"] = dict(discriminator_mapping or {})
    return Field(..., description=description or "The credentials to use", title=title,
                 json_schema_extra=extra)


class BlockSchemaInput(BaseModel):
    """Base of every block ``Input``. Unknown keys are ignored: resolved node input keeps the
    flattened dynamic-pin keys next to the merged values, and the block never sees them."""

    model_config = ConfigDict(extra="ignore", arbitrary_types_allowed=True)


class BlockSchemaOutput(BaseModel):
    """Base of every block ``Output``: every block can yield on the ``error`` pin."""

    model_config = ConfigDict(extra="allow")
    error: str = SchemaField(default="", description="Error message if the block failed")


class KeyValueStore(Protocol):
    """Per-user durable key/value storage used by Persist/Retrieve blocks."""

    async def get(self, user_id: str, key: str) -> Any: ...

    async def set(self, user_id: str, key: str, value: Any) -> None: ...


class ChildRunner(Protocol):
    """Runs a sub-graph as a child execution and streams ``(output_name, value)`` back."""

    def run_child(
        self, *, graph_id: str, graph_version: int, inputs: dict[str, Any]
    ) -> AsyncIterator[tuple[str, Any]]: ...


@dataclass
class RunContext:
    """Everything a block may know about where it runs, plus the few ports to the outside."""

    user_id: str = "test-user"
    graph_id: str = "test-graph"
    graph_version: int = 1
    graph_exec_id: str = "test-graph-exec"
    node_id: str = "test-node"
    node_exec_id: str = "test-node-exec"
    kv_store: KeyValueStore | None = None
    child_runner: ChildRunner | None = None
    http_allow_hosts: tuple[str, ...] = ()
    # Language-model port (``services.domain.llm.types.LlmCaller``); None where no provider is set up.
    llm: Any = None
    # Template renderer (``services.blocks.sandbox.TemplateRenderer``, the process's TemplatePool);
    # None renders in-process, for block unit tests only.
    templates: Any = None
    # Resolved credentials by input field name (``credentials`` -> ``APIKeyCredentials``). The
    # executor fills it just before the block runs; the secret never enters the node's input.
    credentials: dict[str, Any] = field(default_factory=dict)
    # The run is a dry run (AutoGPT's ``ExecutionContext.dry_run``): blocks with external effects
    # are simulated by the executor and never see it; pure blocks run as usual.
    dry_run: bool = False
    # The owner's decision on this node's review (``NodeReviewed``), for a block that asked for
    # one (HumanInTheLoop); None when no review was asked (the graph's safe mode is off).
    review: Any = None
    stats: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


class BlockInputError(ValueError):
    """The input did not satisfy the block's schema."""


class Block:
    """Base class of every block. Subclasses set the class attributes and implement ``run``."""

    id: ClassVar[str]
    description: ClassVar[str] = ""
    categories: ClassVar[frozenset[BlockCategory]] = frozenset({BlockCategory.BASIC})
    block_type: ClassVar[BlockType] = BlockType.STANDARD
    static_output: ClassVar[bool] = False
    disabled: ClassVar[bool] = False
    contributors: ClassVar[list[dict[str, Any]]] = []

    Input: ClassVar[type[BlockSchemaInput]] = BlockSchemaInput
    Output: ClassVar[type[BlockSchemaOutput]] = BlockSchemaOutput

    # Conformance examples: each input (a dict, or a list of dicts) must yield exactly
    # ``test_output`` in sequence. An expected value may be a type or a predicate.
    test_input: ClassVar[dict[str, Any] | list[dict[str, Any]]] = {}
    test_output: ClassVar[list[tuple[str, Any]]] = []
    # Method name -> replacement, applied by the block test runner (for blocks that reach out).
    test_mock: ClassVar[dict[str, Any] | None] = None
    # Whether running the block reaches outside the process: the network, a model provider, mail or
    # webhooks, durable storage. A dry run never runs such a block; its node yields
    # ``dry_run_output()`` instead, so the run has no side effects and the outputs downstream
    # blocks get have the block's declared shape.
    external_effects: ClassVar[bool] = False

    @classmethod
    def safe_to_repeat(cls, data: dict[str, Any]) -> bool:
        """Whether running the block again with ``data`` after a crash cut it short does no harm
        beyond running it once: true for pure blocks and idempotent effects (a GET, a keyed write,
        an LLM call, charged once per node execution). A block whose effect must not happen twice
        (an HTTP POST, an email) says false for that input, and an interrupted node of it goes to
        review as "outcome unknown" instead of running again."""
        return True

    @classmethod
    def name(cls) -> str:
        return cls.__name__

    def run(self, input_data: Any, ctx: RunContext) -> AsyncIterator[tuple[str, Any]]:
        raise NotImplementedError

    # -- schema helpers used by validation, the planner and the blocks API -----------------

    @classmethod
    def input_schema(cls) -> dict[str, Any]:
        return _schema_of(cls.Input)

    @classmethod
    def output_schema(cls) -> dict[str, Any]:
        return _schema_of(cls.Output)

    @classmethod
    def input_fields(cls) -> set[str]:
        return set(cls.Input.model_fields)

    @classmethod
    def output_fields(cls) -> set[str]:
        return set(cls.Output.model_fields)

    @classmethod
    def required_inputs(cls) -> set[str]:
        return {n for n, f in cls.Input.model_fields.items() if f.is_required()}

    def parse_input(self, data: dict[str, Any]) -> BaseModel:
        """Build the pydantic ``Input`` (None values dropped, as AutoGPT does)."""
        clean = {k: v for k, v in data.items() if v is not None}
        try:
            return self.Input(**clean)
        except ValidationError as exc:
            raise BlockInputError(_describe_validation_error(exc)) from None

    async def execute(
        self, data: dict[str, Any], ctx: RunContext | None = None
    ) -> AsyncIterator[tuple[str, Any]]:
        """Validate ``data`` and stream the block's outputs."""
        parsed = self.parse_input(data)
        async for pin, value in self.run(parsed, ctx or RunContext()):
            yield pin, value

    @classmethod
    def dry_run_output(cls) -> list[tuple[str, Any]]:
        """What a node of this block yields in a dry run, if the block has external effects.

        By default its declared example output, which must then be concrete values (not the types
        or predicates ``test_output`` may hold) for one plausible run. A block whose examples are
        not concrete, or cover several inputs (which would yield on several branches at once),
        overrides this. The block contract test holds every such block to it."""
        return list(cls.test_output)

    async def simulate(
        self, data: dict[str, Any], ctx: RunContext | None = None
    ) -> AsyncIterator[tuple[str, Any]]:
        """A dry run of the block: ``data`` is validated as for a real run (a dry run still finds
        bad input), then ``dry_run_output()`` is yielded. ``run`` is never called."""
        self.parse_input(data)
        for pin, value in self.dry_run_output():
            yield pin, copy.deepcopy(value)  # the class's own values are never handed out

    @classmethod
    def to_dict(cls) -> dict[str, Any]:
        """AutoGPT's ``GET /api/blocks`` item shape."""
        return {
            "id": cls.id,
            "name": cls.name(),
            "inputSchema": cls.input_schema(),
            "outputSchema": cls.output_schema(),
            "description": cls.description,
            "categories": [c.to_dict() for c in sorted(cls.categories, key=lambda c: c.name)],
            "contributors": cls.contributors,
            "staticOutput": cls.static_output,
            "uiType": cls.block_type.value,
            "disabled": cls.disabled,
        }


_SCHEMA_CACHE: dict[type, dict[str, Any]] = {}


def _schema_of(model: type[BaseModel]) -> dict[str, Any]:
    """JSON schema with ``$ref``s inlined (the frontend and validation expect flat schemas)."""
    cached = _SCHEMA_CACHE.get(model)
    if cached is None:
        raw = model.model_json_schema()
        defs = raw.pop("$defs", {})
        cached = _inline_refs(raw, defs)
        _SCHEMA_CACHE[model] = cached
    return cached


def _inline_refs(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            target = defs.get(ref.split("/")[-1], {})
            merged = {**_inline_refs(target, defs), **{k: v for k, v in node.items() if k != "$ref"}}
            return merged
        return {k: _inline_refs(v, defs) for k, v in node.items()}
    if isinstance(node, list):
        return [_inline_refs(v, defs) for v in node]
    return node


def _describe_validation_error(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err.get("loc", ())) or "input"
        parts.append(f"{loc}: {err.get('msg')}")
    return "; ".join(parts)

