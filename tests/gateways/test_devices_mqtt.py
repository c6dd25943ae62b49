"""Device reconfiguration over real MQTT, through the local Mosquitto (issue #6).

Each test uses a topic prefix of its own; the broker is skipped visibly when absent
(LEASESYNC_REQUIRE_MQTT=1 turns the skip into a failure).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import paho.mqtt.client as mqtt
import pytest
from gateway_doubles import (
    ReportCollector,
    free_port,
    require_mqtt_broker,
    unique_topic_prefix,
)
from paho.mqtt.enums import CallbackAPIVersion

from leasesync.domain.errors import RetryLaterError
from leasesync.domain.ports import (
    CommandOutcome,
    Configuration,
    ConfigurationReport,
    ConfigurationRequest,
)
from leasesync.gateways.mqtt import MqttDeviceGateway
from leasesync.simulators.devices import DeviceFleetSimulator

Gateways = Callable[..., MqttDeviceGateway]


class RawClient:
    """A plain paho client, to see and send exactly what is on the wire."""

    def __init__(self, host: str, port: int, subscription: str | None = None) -> None:
        self.messages: list[tuple[str, dict[str, object]]] = []
        self._subscribed = threading.Event()
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2)
        self._client.on_message = lambda _c, _u, m: self.messages.append(
            (m.topic, json.loads(m.payload))
        )
        self._client.on_subscribe = lambda *_args: self._subscribed.set()
        self._client.connect(host, port)
        self._client.loop_start()
        if subscription:
            self._client.subscribe(subscription, qos=1)
            assert self._subscribed.wait(5)

    def publish(self, topic: str, payload: bytes) -> None:
        self._client.publish(topic, payload, qos=1).wait_for_publish(5)

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


@pytest.fixture
def broker() -> tuple[str, int]:
    return require_mqtt_broker()


@pytest.fixture
def prefix() -> str:
    return unique_topic_prefix()


@pytest.fixture
def gateways(broker: tuple[str, int], prefix: str) -> Iterator[Gateways]:
    """Make started gateways on the test's prefix; all are stopped afterwards."""
    started: list[MqttDeviceGateway] = []

    def make(
        sink: Callable[[ConfigurationReport], None], **options: object
    ) -> MqttDeviceGateway:
        gateway = MqttDeviceGateway(*broker, prefix, sink, **options)  # type: ignore[arg-type]
        gateway.start()
        started.append(gateway)
        return gateway

    yield make
    for gateway in started:
        gateway.stop()


@pytest.fixture
def fleet(broker: tuple[str, int], prefix: str) -> Iterator[DeviceFleetSimulator]:
    simulator = DeviceFleetSimulator(*broker, prefix, delay_seconds=0.05)
    simulator.start()
    yield simulator
    simulator.stop()


@pytest.fixture
def raw(broker: tuple[str, int]) -> Iterator[Callable[..., RawClient]]:
    clients: list[RawClient] = []

    def make(subscription: str | None = None) -> RawClient:
        clients.append(RawClient(*broker, subscription))
        return clients[-1]

    yield make
    for client in clients:
        client.stop()


def vacate(key: str, unit: str = "p1/u1") -> ConfigurationRequest:
    return ConfigurationRequest(
        idempotency_key=key, unit_key=unit, configuration=Configuration.VACANT
    )


def settle(seconds: float = 0.4) -> None:
    """Give a message that should not come the time it would have taken to come."""
    time.sleep(seconds)


def test_a_request_goes_out_as_the_documented_json_at_qos_1(
    gateways: Gateways, raw: Callable[..., RawClient], prefix: str
) -> None:
    listener = raw(f"{prefix}/units/#")
    gateway = gateways(ReportCollector())

    gateway.request(
        ConfigurationRequest(
            idempotency_key="k1",
            unit_key="p1/u1",
            configuration=Configuration.RESIDENT,
            home_id="home-7",
        )
    )

    deadline = time.monotonic() + 5
    while not listener.messages and time.monotonic() < deadline:
        time.sleep(0.01)
    assert listener.messages == [
        (
            f"{prefix}/units/p1/u1/configure",
            {
                "key": "k1",
                "unit": "p1/u1",
                "configuration": "resident",
                "home": "home-7",
            },
        )
    ]


def test_a_completion_comes_back_through_the_fleet_to_the_sink(
    gateways: Gateways, fleet: DeviceFleetSimulator
) -> None:
    sink = ReportCollector()
    before = datetime.now(UTC)

    gateways(sink).request(vacate("k1"))

    [report] = sink.wait_for(1)
    assert report.idempotency_key == "k1"
    assert report.outcome is CommandOutcome.COMPLETED
    assert before <= report.at <= datetime.now(UTC)
    assert fleet.answered == ["k1"]


def test_a_failing_fleet_reports_failure(
    gateways: Gateways, fleet: DeviceFleetSimulator
) -> None:
    fleet.set_mode("fail")
    sink = ReportCollector()

    gateways(sink).request(vacate("k1"))

    [report] = sink.wait_for(1)
    assert report.outcome is CommandOutcome.FAILED


def test_a_silent_fleet_takes_the_request_and_never_answers(
    gateways: Gateways, fleet: DeviceFleetSimulator
) -> None:
    fleet.set_mode("silent")
    sink = ReportCollector()

    gateways(sink).request(vacate("k1"))

    settle()
    assert fleet.answered == ["k1"]
    assert sink.reports == []


def test_a_repeated_key_is_answered_once_even_from_a_restarted_worker(
    gateways: Gateways,
    fleet: DeviceFleetSimulator,
    raw: Callable[..., RawClient],
    prefix: str,
) -> None:
    listener = raw(f"{prefix}/units/#")
    sink = ReportCollector()
    # Two gateways stand for a worker and its replacement after a crash: the
    # second cannot know the first already published the key.
    gateways(sink, shared_group="workers").request(vacate("k1"))
    gateways(sink, shared_group="workers").request(vacate("k1"))

    sink.wait_for(1)
    settle()
    assert len(listener.messages) == 2, "both deliveries reached the devices"
    assert [report.idempotency_key for report in sink.reports] == ["k1"]
    assert fleet.answered == ["k1"]


def test_one_gateway_does_not_publish_a_key_twice(
    gateways: Gateways, raw: Callable[..., RawClient], prefix: str
) -> None:
    listener = raw(f"{prefix}/units/#")
    gateway = gateways(ReportCollector())

    gateway.request(vacate("k1"))
    gateway.request(vacate("k1"))

    settle()
    assert len(listener.messages) == 1


def test_workers_sharing_a_group_get_each_report_once_between_them(
    gateways: Gateways, raw: Callable[..., RawClient], prefix: str
) -> None:
    first, second = ReportCollector(), ReportCollector()
    gateways(first, shared_group="workers")
    gateways(second, shared_group="workers")
    report = {"key": "k1", "outcome": "completed", "at": "2026-03-02T09:05:00+00:00"}

    raw().publish(f"{prefix}/reports/p1/u1", json.dumps(report).encode())

    first.wait_for(1, timeout=1)
    settle(0.2)
    assert len(first.reports) + len(second.reports) == 1


def test_a_report_without_a_time_is_stamped_on_arrival(
    gateways: Gateways, raw: Callable[..., RawClient], prefix: str
) -> None:
    sink = ReportCollector()
    gateways(sink)
    before = datetime.now(UTC)

    raw().publish(
        f"{prefix}/reports/p1/u1", b'{"key": "k1", "outcome": "failed", "detail": "x"}'
    )

    [report] = sink.wait_for(1)
    assert before <= report.at <= datetime.now(UTC)
    assert (report.outcome, report.detail) == (CommandOutcome.FAILED, "x")


def test_a_malformed_report_is_logged_and_ignored_and_the_next_one_still_arrives(
    gateways: Gateways,
    raw: Callable[..., RawClient],
    prefix: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    sink = ReportCollector()
    gateways(sink)
    publisher = raw()
    good = {"key": "k9", "outcome": "completed", "at": "2026-03-02T09:05:00+00:00"}

    with caplog.at_level(logging.WARNING, logger="leasesync.gateways.mqtt"):
        for bad in (
            b"not json",
            b"[1]",
            b'{"key": "k1", "outcome": "maybe"}',
            b'{"key": "k1", "outcome": "completed", "at": "2026-03-02T09:05:00"}',
        ):
            publisher.publish(f"{prefix}/reports/p1/u1", bad)
        publisher.publish(f"{prefix}/reports/p1/u1", json.dumps(good).encode())
        reports = sink.wait_for(1)

    assert [report.idempotency_key for report in reports] == ["k9"]
    malformed = [
        r
        for r in caplog.records
        if getattr(r, "event", "") == "device_report_malformed"
    ]
    assert len(malformed) == 4
    assert all(record.levelno == logging.WARNING for record in malformed)


def test_a_sink_that_raises_does_not_stop_later_reports(
    gateways: Gateways, fleet: DeviceFleetSimulator
) -> None:
    received: list[str] = []

    def picky(report: ConfigurationReport) -> None:
        if report.idempotency_key == "k1":
            raise RuntimeError("database is down")
        received.append(report.idempotency_key)

    gateway = gateways(picky)
    gateway.request(vacate("k1"))
    gateway.request(vacate("k2", unit="p1/u2"))

    deadline = time.monotonic() + 5
    while not received and time.monotonic() < deadline:
        time.sleep(0.01)
    assert received == ["k2"]


def test_unit_keys_with_wildcard_characters_still_round_trip(
    gateways: Gateways, fleet: DeviceFleetSimulator
) -> None:
    sink = ReportCollector()

    gateways(sink).request(vacate("k1", unit="p+1/#u 1"))

    [report] = sink.wait_for(1)
    assert report.idempotency_key == "k1"


def test_an_unreachable_broker_means_retry_later() -> None:
    gateway = MqttDeviceGateway(
        "127.0.0.1", free_port(), "x", ReportCollector(), timeout=0.2
    )
    gateway.start()
    try:
        with pytest.raises(RetryLaterError):
            gateway.request(vacate("k1"))
    finally:
        gateway.stop()


def test_a_fleet_without_a_broker_says_so_at_start() -> None:
    simulator = DeviceFleetSimulator("127.0.0.1", free_port(), "x", timeout=0.2)

    with pytest.raises(RetryLaterError):
        simulator.start()


@pytest.mark.parametrize("prefix", ["", "$SYS", "a/+/b", "a/#"])
def test_unusable_prefixes_are_refused(prefix: str) -> None:
    with pytest.raises(ValueError, match="prefix"):
        MqttDeviceGateway("127.0.0.1", 1883, prefix, ReportCollector())


def test_the_fleet_can_serve_on_its_own_thread_until_stopped(
    broker: tuple[str, int], prefix: str, gateways: Gateways
) -> None:
    simulator = DeviceFleetSimulator(*broker, prefix, delay_seconds=0.0)
    serving = threading.Thread(target=simulator.run_forever)
    serving.start()
    sink = ReportCollector()
    gateway = gateways(sink)

    try:
        deadline = time.monotonic() + 5
        while not sink.reports and time.monotonic() < deadline:
            # Until the fleet has subscribed, a request has no listener: ask again
            # with fresh keys, as the engine's reconfiguration retry would.
            gateway.request(vacate(f"k{time.monotonic_ns()}"))
            time.sleep(0.05)
    finally:
        simulator.stop()
        serving.join(timeout=5)

    assert sink.reports, "the fleet answered while serving"
    assert not serving.is_alive()
