"""DNS resolution time per resolver (dnspython), with NXDOMAIN, SERVFAIL and timeouts told apart.

Each query is one message to one resolver over UDP (or TCP), timed from send to answer;
nothing is cached or retried, so the figure is the resolver's, not a stub's.
"""

from __future__ import annotations

import socket
import time
from collections import Counter
from dataclasses import dataclass, field

import dns.exception
import dns.flags
import dns.inet
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import dns.resolver
from pydantic import Field, field_validator

from waddleperf.probes import progress, stats
from waddleperf.probes.base import Probe, ProbeOptions, Recording, RunContext, paced, status_of
from waddleperf.probes.targets import Endpoint, TargetError, parse_endpoint
from waddleperf.results.model import MetricValue, Result, Sample, Scalar

_RCODE_WORDS = {
    "NXDOMAIN": "the name does not exist",
    "SERVFAIL": "the resolver failed to answer",
    "REFUSED": "the resolver refused the query",
}


def _resolver(text: str) -> Endpoint:
    endpoint = parse_endpoint(text, default_port=53)
    if endpoint.host.family == "name":
        raise TargetError(f"resolver {text!r} must be an IP address (optionally with :port)")
    return endpoint


class DnsOptions(ProbeOptions):
    """Options of the DNS probe. ``target`` is the name to resolve."""

    target: str = Field(min_length=1, description="The DNS name to resolve.")
    record_type: str = Field(default="A", description="A, AAAA, MX, TXT, …")
    resolvers: list[str] = Field(
        default_factory=list,
        description="Resolver ip, ip:port or [v6]:port (default: the system's).",
    )
    tcp: bool = Field(default=False, description="Query over TCP.")
    count: int = Field(default=3, ge=1, le=10_000, description="Queries per resolver.")
    interval_s: float = Field(default=0.0, ge=0, le=60, description="Between queries.")

    @field_validator("target")
    @classmethod
    def _name(cls, value: str) -> str:
        try:
            dns.name.from_text(value)
        except dns.exception.DNSException as exc:
            raise ValueError(f"{value!r} is not a DNS name: {exc}") from None
        return value

    @field_validator("record_type")
    @classmethod
    def _rdtype(cls, value: str) -> str:
        try:
            dns.rdatatype.from_text(value.upper())
        except dns.exception.DNSException:
            raise ValueError(f"unknown record type {value!r}") from None
        return value.upper()

    @field_validator("resolvers")
    @classmethod
    def _resolvers(cls, value: list[str]) -> list[str]:
        for text in value:
            _resolver(text)
        return value


@dataclass
class Query:
    """One query's outcome: rcode name (or timeout/error), time in ns, answers as text."""

    resolver: str
    outcome: str
    elapsed_ns: int | None
    answers: list[str] = field(default_factory=list)
    detail: str | None = None

    @property
    def succeeded(self) -> bool:
        """An answer with records of the asked type."""
        return self.outcome == "NOERROR" and bool(self.answers)


def query_once(options: DnsOptions, resolver: Endpoint) -> Query:
    """One timed query to ``resolver``; never raises for the resolver's failure."""
    where = str(resolver)
    message = dns.message.make_query(options.target, options.record_type)
    host, port, timeout = resolver.host.name, resolver.port, options.timeout_s
    try:
        if options.tcp:
            start = time.perf_counter_ns()
            response = dns.query.tcp(message, host, timeout=timeout, port=port)
            elapsed = time.perf_counter_ns() - start
        else:
            # Like dig's "Query time": from send to the answer's arrival. Making the socket and
            # parsing the answer is Python's time, not the resolver's (~0.3 ms here, more for a
            # large answer), so the socket exists before dnspython starts its clock and
            # response.time stops before parsing.
            with socket.socket(dns.inet.af_for_address(host), socket.SOCK_DGRAM) as sock:
                sock.setblocking(False)
                response = dns.query.udp(message, host, timeout=timeout, port=port, sock=sock)
            elapsed = round(response.time * 1e9)
    except dns.exception.Timeout:
        return Query(where, "timeout", None, detail=f"no answer within {options.timeout_s:g} s")
    except (dns.exception.DNSException, OSError) as exc:
        return Query(where, "error", None, detail=str(exc) or type(exc).__name__)
    rdtype = dns.rdatatype.from_text(options.record_type)
    answers = [rd.to_text() for rrset in response.answer if rrset.rdtype == rdtype for rd in rrset]
    query = Query(where, dns.rcode.to_text(response.rcode()), elapsed, answers)
    if query.outcome == "NOERROR" and not answers:
        query.detail = f"no {options.record_type} records"
    if response.flags & dns.flags.TC:
        query.detail = "answer truncated over UDP (try --tcp)"
    return query


def summarize(queries: list[Query]) -> tuple[dict[str, MetricValue], list[Sample]]:
    """Query-time figures (ms) over answered queries and a count per outcome."""
    times = [q.elapsed_ns / 1e6 for q in queries if q.elapsed_ns is not None]
    metrics: dict[str, MetricValue] = stats.series_metrics(
        "query", times, figures=("min", "avg", "max", "mdev", "p50", "p95")
    )
    counts = Counter(q.outcome for q in queries)
    metrics["query_count"] = len(queries)
    for outcome in ("NOERROR", "NXDOMAIN", "SERVFAIL", "REFUSED", "timeout", "error"):
        metrics[f"{outcome.lower()}_count"] = counts.get(outcome, 0)
    answered = [q for q in queries if q.succeeded]
    metrics["answer_count"] = len(answered[-1].answers) if answered else None
    samples: list[Sample] = [
        {
            "resolver": q.resolver,
            "outcome": q.outcome,
            "query_ms": q.elapsed_ns / 1e6 if q.elapsed_ns is not None else None,
            "answers": " ".join(q.answers),
            "detail": q.detail,
        }
        for q in queries
    ]
    return metrics, samples


def per_resolver(
    queries: list[Query], resolvers: list[str]
) -> tuple[dict[str, MetricValue], dict[str, Scalar]]:
    """With several resolvers: ``resolver<N>_query_{avg,p50}_ms`` and ``resolver<N>_ok_count``
    for the N-th (from 1), and ``info["resolver<N>"]`` naming it. Empty for one resolver."""
    metrics: dict[str, MetricValue] = {}
    info: dict[str, Scalar] = {}
    if len(resolvers) < 2:
        return metrics, info
    for n, where in enumerate(resolvers, 1):
        mine = [q for q in queries if q.resolver == where]
        times = [q.elapsed_ns / 1e6 for q in mine if q.elapsed_ns is not None]
        metrics.update(stats.series_metrics(f"resolver{n}_query", times, figures=("avg", "p50")))
        metrics[f"resolver{n}_ok_count"] = sum(1 for q in mine if q.succeeded)
        info[f"resolver{n}"] = where
    return metrics, info


def failure_sentence(queries: list[Query], name: str, rdtype: str) -> str | None:
    """e.g. "2 of 3 queries for x.lab.test A failed: 2 NXDOMAIN (the name does not exist)…"."""
    failed = [q for q in queries if not q.succeeded]
    if not failed:
        return None
    by_kind: dict[tuple[str, str | None], list[Query]] = {}
    for q in failed:
        by_kind.setdefault((q.outcome, q.detail), []).append(q)
    parts = []
    for (outcome, detail), group in by_kind.items():
        why = _RCODE_WORDS.get(outcome) or detail or outcome
        where = ", ".join(sorted({q.resolver for q in group}))
        parts.append(f"{len(group)} {outcome} ({why}) at {where}")
    return (
        f"{len(failed)} of {len(queries)} queries for {name} {rdtype} failed: {'; '.join(parts)}."
    )


def system_resolvers() -> list[str]:
    """The system's resolvers from /etc/resolv.conf, as ip strings."""
    try:
        return [str(ns) for ns in dns.resolver.Resolver(configure=True).nameservers]
    except dns.exception.DNSException:
        return []


def query_event(seq: int, query: Query) -> progress.Reply:
    """The live line of one query: resolver, rcode and answers (or why it failed)."""
    rtt = query.elapsed_ns / 1e6 if query.elapsed_ns is not None else None
    said = " ".join(query.answers) if query.succeeded else query.detail or ""
    detail = f"{query.resolver} {query.outcome}" + (f" {said}" if said else "")
    return progress.Reply(seq, query.succeeded, rtt, detail)


class DnsProbe(Probe[DnsOptions]):
    """DNS resolution time and answers per resolver."""

    name = "dns"
    options_model = DnsOptions
    summary = "DNS resolution time per resolver; NXDOMAIN / SERVFAIL / timeout reported as such"

    def run(self, options: DnsOptions, context: RunContext | None = None) -> Result:
        """Query each resolver ``count`` times; query time in ms (send → answer)."""
        rec = Recording(self.kind, options, context)
        names = options.resolvers or system_resolvers()
        if not names:
            return rec.failed("No resolver given and none configured in /etc/resolv.conf.")
        resolvers = [_resolver(n) for n in names]
        queries: list[Query] = []
        total = options.count * len(resolvers)
        with rec.attempts():
            for _round in paced(options.count, options.interval_s):
                for resolver in resolvers:
                    queries.append(query_once(options, resolver))
                    rec.progress(len(queries), total)
                    rec.emit(query_event(len(queries) - 1, queries[-1]))
        if not queries:  # interrupted before the first query ended
            return rec.failed("no query had finished")
        metrics, samples = summarize(queries)
        each, each_info = per_resolver(queries, [str(r) for r in resolvers])
        metrics.update(each)
        ok = sum(1 for q in queries if q.succeeded)
        error = failure_sentence(queries, options.target, options.record_type)
        if error is None and any(v is None for v in metrics.values()):
            error = "Some figures could not be measured."
        answered = [q for q in queries if q.succeeded]
        info: dict[str, Scalar] = {
            "record_type": options.record_type,
            "transport": "tcp" if options.tcp else "udp",
            "resolvers": " ".join(str(r) for r in resolvers),
            "answers": " ".join(answered[-1].answers) if answered else None,
            "rcode": queries[-1].outcome,
            **each_info,
        }
        return rec.finish(
            status=status_of(ok, len(queries)),
            metrics=metrics,
            error=error,
            samples=samples,
            info=info,
        )
