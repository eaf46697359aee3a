"""The shape every probe shares (cf. perfSONAR pScheduler test plug-ins) and their registry.

A probe is a class with a ``name``, an ``options_model`` (pydantic, validated before the run)
and ``run(options, context) -> Result``. A probe never raises for a target's failure: it
returns a record with status ``failed`` and an error a person understands.

Built-in probes are registered by module path and imported only when asked for, so the CLI
does not load paramiko to run a ping. Others register with ``@register``.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Generic, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from waddleperf.probes.progress import Event, EventSink
from waddleperf.probes.targets import parse_endpoint, parse_host, parse_url
from waddleperf.results.model import (
    MetricValue,
    Result,
    Sample,
    Scalar,
    Status,
    cap_samples,
    default_agent,
    new_run_id,
    utc_now,
)

#: Progress callback: (done, total) units of work, e.g. packets sent.
Progress = Callable[[int, int], None]


def _host(value: str) -> str:
    parse_host(value)
    return value


def _endpoint(value: str) -> str:
    # The port may come from --port instead; only the host part is checked here.
    parse_endpoint(value, default_port=1)
    return value


def _url(value: str) -> str:
    parse_url(value)
    return value


#: Option types that check a target's form when options are validated (usage errors).
HostTarget = Annotated[str, AfterValidator(_host)]
EndpointTarget = Annotated[str, AfterValidator(_endpoint)]
UrlTarget = Annotated[str, AfterValidator(_url)]
Family = Literal["any", "ipv4", "ipv6"]


class ProbeOptions(BaseModel):
    """Options every probe has; each probe's model adds its own. Unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    target: str = Field(min_length=1, description="What to probe; each probe says the form.")
    timeout_s: float = Field(
        default=2.0, gt=0, le=120, description="Seconds to wait for an answer."
    )


@dataclass(frozen=True, slots=True)
class RunContext:
    """Who runs the probe and how: copied into the record (agent, tier, run_id); where its
    progress and live events go; whether Ctrl-C ends the run with a partial record.

    ``partial_on_interrupt``: a KeyboardInterrupt during the attempts stops them and the probe
    returns the record of what it measured so far, status ``interrupted`` (the interactive
    command). Off (the library's and AutoPerf's default), KeyboardInterrupt propagates.
    """

    agent: str | None = None
    tier: int | None = None
    run_id: str | None = None
    progress: Progress | None = None
    events: EventSink | None = None
    partial_on_interrupt: bool = False


OptT = TypeVar("OptT", bound=ProbeOptions)


class Probe(ABC, Generic[OptT]):
    """A probe kind: validated options in, one Result out."""

    name: ClassVar[str]  # short name on the command line, e.g. "icmp"
    options_model: ClassVar[type[ProbeOptions]]
    summary: ClassVar[str]  # one line for help text

    @property
    def kind(self) -> str:
        """The record's ``kind``: ``probe.<name>``."""
        return f"probe.{self.name}"

    def options(self, raw: Mapping[str, Any]) -> OptT:
        """Validate raw options; raises pydantic.ValidationError naming the bad key."""
        validated: OptT = self.options_model.model_validate(dict(raw))  # type: ignore[assignment]
        return validated

    @abstractmethod
    def run(self, options: OptT, context: RunContext | None = None) -> Result:
        """Measure once and return the record (never raises for the target's failure)."""


class Recording:
    """Collects one run's record: start time now, everything else at ``finish``."""

    def __init__(self, kind: str, options: ProbeOptions, context: RunContext | None) -> None:
        self.kind = kind
        self.options = options
        self.context = context or RunContext()
        self.started_at = utc_now()
        self.interrupted = False

    def progress(self, done: int, total: int) -> None:
        """Report progress to the caller, if it asked for it."""
        if self.context.progress is not None:
            self.context.progress(done, total)

    @property
    def live(self) -> bool:
        """Whether anyone listens to events (build costly ones only then)."""
        return self.context.events is not None

    def emit(self, event: Event) -> None:
        """Hand a live event to the caller's sink, if any (call it outside timed sections)."""
        if self.context.events is not None:
            self.context.events(event)

    @contextmanager
    def attempts(self) -> Iterator[None]:
        """Around a probe's attempt loop: when the caller asked for partial results, Ctrl-C
        (KeyboardInterrupt) ends the loop, the probe goes on to summarise what it has, and the
        record's status says ``interrupted``; otherwise KeyboardInterrupt propagates."""
        try:
            yield
        except KeyboardInterrupt as exc:
            self.interrupt(exc)

    def interrupt(self, exc: KeyboardInterrupt) -> None:
        """In a probe's ``except KeyboardInterrupt`` clause: re-raise it, unless the caller
        asked for partial results; then the record will say ``interrupted``."""
        if not self.context.partial_on_interrupt:
            raise exc
        self.interrupted = True

    def finish(
        self,
        *,
        status: Status,
        metrics: Mapping[str, MetricValue] | None = None,
        error: str | None = None,
        samples: list[Sample] | None = None,
        info: Mapping[str, Scalar] | None = None,
        raw: str | dict[str, Any] | None = None,
    ) -> Result:
        """Build the record; samples beyond the cap are dropped and counted."""
        kept, dropped = cap_samples(samples) if samples is not None else (None, 0)
        if self.interrupted:
            status = Status.INTERRUPTED
            error = f"{INTERRUPTED}; {error.rstrip('.')}" if error else INTERRUPTED
        error = sentence(error) if error else None
        ctx = self.context
        return Result(
            kind=self.kind,
            target=self.options.target,
            started_at=self.started_at,
            finished_at=max(utc_now(), self.started_at),
            agent=ctx.agent or default_agent(),
            tier=ctx.tier,
            run_id=ctx.run_id or new_run_id(),
            params=self.options.model_dump(mode="json", exclude={"target"}),
            metrics=dict(metrics or {}),
            info=dict(info or {}),
            samples=kept,
            samples_dropped=dropped,
            status=status,
            error=error,
            raw=raw,
        )

    def failed(self, error: str, metrics: Mapping[str, MetricValue] | None = None) -> Result:
        """A record for a run that measured nothing usable."""
        return self.finish(status=Status.FAILED, error=error, metrics=metrics)


#: The error sentence of a record whose run Ctrl-C ended early.
INTERRUPTED = "Interrupted (Ctrl-C, SIGINT): the figures cover what was measured until then"


def paced(
    count: int, interval_s: float, wait: Callable[[float], None] | None = None
) -> Iterator[int]:
    """0..count−1, each yielded at start + i·interval_s (seconds, monotonic clock).

    Absolute deadlines: a slow iteration does not push every later one back. ``wait(seconds)``
    passes the time until the next one (by default a sleep; or work, such as printing
    replies, that returns by then).
    """
    start = time.monotonic()
    for i in range(count):
        delay = start + i * interval_s - time.monotonic()
        if delay > 0:
            (wait or time.sleep)(delay)
        yield i


def sentence(text: str) -> str:
    """``text`` as one sentence: first letter capital, exactly one final full stop."""
    text = text.strip().rstrip(".")
    return text[:1].upper() + text[1:] + "."


def status_of(succeeded: int, attempted: int) -> Status:
    """ok when every attempt succeeded, failed when none did, degraded in between."""
    if attempted > 0 and succeeded == attempted:
        return Status.OK
    return Status.FAILED if succeeded == 0 else Status.DEGRADED


class UnknownProbeError(KeyError):
    """No probe of that name is registered."""

    def __str__(self) -> str:
        return f"unknown probe {self.args[0]!r}; known: {', '.join(names())}"


_BUILTIN: dict[str, str] = {
    "icmp": "waddleperf.probes.icmp:IcmpProbe",
    "tcp": "waddleperf.probes.tcp:TcpProbe",
    "udp": "waddleperf.probes.udp:UdpProbe",
    "http": "waddleperf.probes.http:HttpProbe",
    "dns": "waddleperf.probes.dns:DnsProbe",
    "ssh": "waddleperf.probes.ssh:SshProbe",
    "iperf": "waddleperf.probes.iperf:IperfProbe",
    "speedtest": "waddleperf.probes.speedtest:SpeedtestProbe",
    "rpm": "waddleperf.probes.rpm:RpmProbe",
    "trace": "waddleperf.probes.trace:TraceProbe",
    "mtu": "waddleperf.probes.mtu:MtuProbe",
}
_REGISTRY: dict[str, type[Probe[Any]]] = {}

P = TypeVar("P", bound=type[Probe[Any]])


def register(cls: P) -> P:
    """Class decorator: make a probe kind available by its ``name``."""
    _REGISTRY[cls.name] = cls
    return cls


def names() -> list[str]:
    """Every probe name, built-in or registered, sorted."""
    return sorted(set(_BUILTIN) | set(_REGISTRY))


def _discover(name: str) -> None:
    """Import ``waddleperf.probes.<name>`` and register its probe called ``name``, if any."""
    if not name.isidentifier():
        return
    module_name = f"{__package__}.{name}"
    if importlib.util.find_spec(module_name) is None:
        return
    module = importlib.import_module(module_name)
    for value in vars(module).values():
        if (
            isinstance(value, type)
            and issubclass(value, Probe)
            and value.__dict__.get("name") == name
        ):
            register(value)


def summary_of(name: str) -> str:
    """The one-line ``summary`` of probe ``name``, read without importing its module.

    Help that lists every kind must not load paramiko, scapy and dnspython: the class's
    ``summary = "..."`` literal is read from the module's source; a probe registered at run
    time (or written otherwise) is asked directly.
    """
    if name in _BUILTIN and name not in _REGISTRY:
        module, _, cls_name = _BUILTIN[name].partition(":")
        spec = importlib.util.find_spec(module)
        if spec is not None and spec.origin and spec.origin.endswith(".py"):
            with open(spec.origin, encoding="utf-8") as fh:
                tree = ast.parse(fh.read())
            for node in ast.walk(tree):
                if isinstance(node, ast.ClassDef) and node.name == cls_name:
                    for item in node.body:
                        if (
                            isinstance(item, ast.Assign)
                            and [getattr(t, "id", None) for t in item.targets] == ["summary"]
                            and isinstance(item.value, ast.Constant)
                            and isinstance(item.value.value, str)
                        ):
                            return item.value.value
    return get(name).summary


def get(name: str) -> Probe[Any]:
    """An instance of the probe called ``name``.

    Built-in probes are imported on first use; a module ``waddleperf.probes.<name>`` that
    defines a probe of that name is found by convention even before it is listed.
    """
    if name not in _REGISTRY:
        if name in _BUILTIN:
            module, _, attr = _BUILTIN[name].partition(":")
            register(getattr(importlib.import_module(module), attr))
        else:
            _discover(name)
    if name not in _REGISTRY:
        raise UnknownProbeError(name)
    return _REGISTRY[name]()


def run_probe(
    name: str, raw_options: Mapping[str, Any], context: RunContext | None = None
) -> Result:
    """Validate ``raw_options`` for probe ``name`` and run it once.

    Raises UnknownProbeError or pydantic.ValidationError for bad usage; the target's own
    failure comes back as a record with status ``failed``.
    """
    probe = get(name)
    return probe.run(probe.options(raw_options), context)
