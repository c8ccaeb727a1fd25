"""Prometheus metrics for one Hub (its own registry, so tests can run several Hubs)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["Metrics"]


class Metrics:
    """Counters the Hub and dispatcher update; gauges refreshed when scraped."""

    def __init__(self) -> None:
        #: Deliveries accepted and withheld since start (for `bridgebot status`).
        self.relayed_total = 0
        self.withheld_total = 0
        self.registry = CollectorRegistry()
        self._relayed = Counter(
            "bridgebot_relayed",
            "Deliveries accepted into the outbox",
            ["network"],
            registry=self.registry,
        )
        self._withheld = Counter(
            "bridgebot_withheld",
            "Deliveries the rules withheld",
            ["reason"],
            registry=self.registry,
        )
        self._sent = Counter(
            "bridgebot_sent", "Deliveries sent", ["network"], registry=self.registry
        )
        self._dead = Counter(
            "bridgebot_dead_letters",
            "Deliveries that became dead letters",
            ["network"],
            registry=self.registry,
        )
        self._rate_limited = Counter(
            "bridgebot_rate_limited",
            "Sends the network refused as too many requests (each is retried later)",
            ["network"],
            registry=self.registry,
        )
        self._latency = Histogram(
            "bridgebot_delivery_latency_seconds",
            "From acceptance to the network's answer",
            ["network"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
            registry=self.registry,
        )
        self.queued = Gauge(
            "bridgebot_queued",
            "Deliveries waiting in the outbox",
            ["room"],
            registry=self.registry,
        )
        self.dead_letters = Gauge(
            "bridgebot_dead_letters_waiting",
            "Dead letters not yet retried",
            registry=self.registry,
        )
        self.adapter_up = Gauge(
            "bridgebot_adapter_up",
            "1 if the adapter is connected",
            ["account"],
            registry=self.registry,
        )

    def relayed(self, network: str) -> None:
        self.relayed_total += 1
        self._relayed.labels(network).inc()

    def withheld(self, reason: str) -> None:
        self.withheld_total += 1
        self._withheld.labels(reason).inc()

    def delivered(self, network: str, seconds: float) -> None:
        self._sent.labels(network).inc()
        self._latency.labels(network).observe(max(0.0, seconds))

    def rate_limited(self, network: str) -> None:
        self._rate_limited.labels(network).inc()

    def dead(self, network: str) -> None:
        self._dead.labels(network).inc()

    def render(self) -> bytes:
        """The Prometheus text exposition format."""
        return generate_latest(self.registry)
