"""A device fleet that answers reconfigurations over MQTT (``leasesync simulate devices``).

It plays the far side of :class:`~leasesync.gateways.mqtt.MqttDeviceGateway`: it
listens for configure requests under a topic prefix and, after a delay of real time,
publishes a report for each — completed in mode ``ok``, failed in ``fail``, nothing
in ``silent``. Like real devices, it answers a repeated idempotency key once only;
that is what makes at-least-once delivery safe end to end (SPEC L13).

It speaks the wire format of :mod:`leasesync.gateways.mqtt` through the same
functions, so the two cannot drift apart; the gateway's tests pin that format with
raw MQTT messages. For virtual time, use
:class:`~leasesync.gateways.devices.SimulatedDeviceGateway` instead.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime

from leasesync.domain.errors import RetryLaterError
from leasesync.domain.ports import (
    CommandOutcome,
    ConfigurationReport,
    ConfigurationRequest,
)
from leasesync.gateways.devices import DeviceMode
from leasesync.gateways.mqtt import (
    MqttLink,
    decode_request,
    encode_report,
    report_topic,
)

logger = logging.getLogger(__name__)


class DeviceFleetSimulator:
    """Answers every unit's configure requests under ``topic_prefix``.

    :meth:`start` runs it in the background (tests, the embedded stack);
    :meth:`run_forever` runs it on the calling thread (the CLI). :attr:`answered`
    lists the keys it has taken, in arrival order, whatever the mode.
    """

    def __init__(
        self,
        host: str,
        port: int,
        topic_prefix: str,
        delay_seconds: float = 0.2,
        mode: DeviceMode | str = DeviceMode.OK,
        *,
        timeout: float = 5.0,
    ) -> None:
        self.topic_prefix = topic_prefix
        self.delay_seconds = delay_seconds
        self.mode = DeviceMode(mode)
        self._timeout = timeout
        self._lock = threading.Lock()
        self._seen: set[str] = set()
        self._taken: list[str] = []
        self._timers: set[threading.Timer] = set()
        self._link = MqttLink(
            host,
            port,
            subscription=f"{topic_prefix}/units/#",
            on_message=self._received,
            client_id=f"leasesync-fleet-{id(self):x}",
        )

    @property
    def answered(self) -> list[str]:
        with self._lock:
            return list(self._taken)

    def set_mode(self, mode: DeviceMode | str) -> None:
        """Answer requests received from now on this way."""
        self.mode = DeviceMode(mode)

    def start(self) -> None:
        """Connect and subscribe in the background; raises if the broker is not there."""
        if not self._link.start(self._timeout):
            self._link.stop()
            raise RetryLaterError(
                f"MQTT broker {self._link.host}:{self._link.port} did not answer"
            )

    def run_forever(self) -> None:
        """Serve on this thread until :meth:`stop` is called from another one."""
        logger.info(
            "Device fleet simulator answering under %s/ (%s, %.1f s)",
            self.topic_prefix,
            self.mode.value,
            self.delay_seconds,
            extra={"event": "device_fleet_started"},
        )
        self._link.run_forever()

    def stop(self) -> None:
        """Disconnect; answers not yet sent are dropped, as if the devices lost power."""
        with self._lock:
            timers, self._timers = self._timers, set()
        for timer in timers:
            timer.cancel()
        self._link.stop()

    def _received(self, topic: str, payload: bytes) -> None:
        if not topic.endswith("/configure"):
            return
        try:
            request = decode_request(payload)
        except ValueError:
            logger.warning(
                "Malformed configure request on %s ignored",
                topic,
                extra={"event": "device_request_malformed"},
            )
            return
        if self._take(request.idempotency_key):
            self._schedule(request, self.mode)

    def _take(self, key: str) -> bool:
        with self._lock:
            if key in self._seen:
                logger.debug("Repeated configure request %s dropped", key)
                return False
            self._seen.add(key)
            self._taken.append(key)
            return True

    def _schedule(self, request: ConfigurationRequest, mode: DeviceMode) -> None:
        if mode is DeviceMode.SILENT:
            return
        timer = threading.Timer(self.delay_seconds, self._answer, (request, mode))
        timer.daemon = True
        with self._lock:
            self._timers.add(timer)
        timer.start()

    def _answer(self, request: ConfigurationRequest, mode: DeviceMode) -> None:
        with self._lock:
            self._timers.discard(threading.current_thread())
        completed = mode is DeviceMode.OK
        report = ConfigurationReport(
            idempotency_key=request.idempotency_key,
            outcome=CommandOutcome.COMPLETED if completed else CommandOutcome.FAILED,
            at=datetime.now(UTC),
            detail="" if completed else "simulated device failure",
        )
        topic = report_topic(self.topic_prefix, request.unit_key)
        try:
            self._link.publish(
                topic, encode_report(report, request.unit_key), timeout=5.0
            )
        except RetryLaterError:
            logger.warning(
                "Report %s could not be published",
                request.idempotency_key,
                extra={"event": "device_report_unpublished"},
            )
