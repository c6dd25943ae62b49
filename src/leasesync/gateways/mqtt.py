"""The MQTT device gateway: reconfigurations to a device fleet through a broker.

Production devices listen on a broker (Mosquitto in tests). A request goes out as
JSON, QoS 1, on ``<prefix>/units/<unit key>/configure``; devices answer on
``<prefix>/reports/<unit key>`` and the gateway hands each parsed answer to its
report sink. The wire format lives here, in the ``encode_…``/``decode_…`` functions,
and the bundled fleet simulator (:mod:`leasesync.simulators.devices`) speaks it
through the same functions::

    request  {"key": "…", "unit": "p1/u1", "configuration": "vacant", "home": null}
    report   {"key": "…", "unit": "p1/u1", "outcome": "completed|failed",
              "at": "2026-03-01T10:05:00+00:00", "detail": ""}

:class:`MqttLink` keeps paho-mqtt in one place: one client, one subscription that is
renewed on every reconnect, a network thread, and callbacks that never let an
exception kill that thread. Delivery is at least once both ways: the fleet drops a
repeated request key, and the report sink must accept a repeated report. A report
published while no gateway is connected is lost; the engine's reconfiguration
timeout (SPEC L8) retries the command, which heals it.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from leasesync.domain.errors import RetryLaterError
from leasesync.domain.ports import (
    Clock,
    CommandOutcome,
    Configuration,
    ConfigurationReport,
    ConfigurationRequest,
    ReportSink,
)
from leasesync.gateways.credentials import Secret, reveal

logger = logging.getLogger(__name__)

# Topic names may not hold the wildcards; unit keys come from PMS ids.
_TOPIC_ESCAPES = str.maketrans({"%": "%25", "+": "%2B", "#": "%23", "\0": "%00"})
_REMEMBERED_KEYS = 10_000


def configure_topic(prefix: str, unit_key: str) -> str:
    """Where the devices of ``unit_key`` listen for their configuration."""
    return f"{prefix}/units/{unit_key.translate(_TOPIC_ESCAPES)}/configure"


def report_topic(prefix: str, unit_key: str) -> str:
    """Where the devices of ``unit_key`` publish their reports."""
    return f"{prefix}/reports/{unit_key.translate(_TOPIC_ESCAPES)}"


def encode_request(request: ConfigurationRequest) -> bytes:
    body = {
        "key": request.idempotency_key,
        "unit": request.unit_key,
        "configuration": request.configuration.value,
        "home": request.home_id,
    }
    return json.dumps(body).encode("utf-8")


def decode_request(payload: bytes) -> ConfigurationRequest:
    """Parse a request; raises :class:`ValueError` if it is not one."""
    body = _json_object(payload)
    home = body.get("home")
    return ConfigurationRequest(
        idempotency_key=_text(body, "key"),
        unit_key=_text(body, "unit"),
        configuration=Configuration(_text(body, "configuration")),
        home_id=None if home is None else str(home),
    )


def encode_report(report: ConfigurationReport, unit_key: str) -> bytes:
    body = {
        "key": report.idempotency_key,
        "unit": unit_key,
        "outcome": report.outcome.value,
        "at": report.at.isoformat(),
        "detail": report.detail,
    }
    return json.dumps(body).encode("utf-8")


def decode_report(payload: bytes, *, received_at: datetime) -> ConfigurationReport:
    """Parse a report; ``at`` defaults to ``received_at``. Raises :class:`ValueError`."""
    body = _json_object(payload)
    at = datetime.fromisoformat(_text(body, "at")) if "at" in body else received_at
    if at.tzinfo is None:
        raise ValueError("report time without a time zone")
    return ConfigurationReport(
        idempotency_key=_text(body, "key"),
        outcome=CommandOutcome(_text(body, "outcome")),
        at=at,
        detail=str(body.get("detail") or ""),
    )


class MqttLink:
    """One paho client with one subscription, run on paho's network thread.

    ``on_message(topic, payload)`` runs on that thread; whatever it raises is
    logged and swallowed. :attr:`ready` means connected *and* subscribed.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        subscription: str,
        on_message: Callable[[str, bytes], None],
        client_id: str | None = None,
        username: str | None = None,
        password: Secret | None = None,
        keepalive: int = 30,
    ) -> None:
        self.host, self.port, self.subscription = host, port, subscription
        self._on_message, self._keepalive = on_message, keepalive
        self._ready = threading.Event()
        self._subscribe_mid: int | None = None
        client_id = client_id or f"leasesync-{uuid.uuid4().hex[:12]}"
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
        if username is not None:
            secret = None if password is None else reveal(password)
            self._client.username_pw_set(username, secret)
        self._client.on_connect = self._connected
        self._client.on_subscribe = self._subscribed
        self._client.on_disconnect = self._disconnected
        self._client.on_message = self._received

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    def start(self, timeout: float) -> bool:
        """Connect in the background (retrying for ever); wait up to ``timeout``."""
        self._client.connect_async(self.host, self.port, self._keepalive)
        self._client.loop_start()
        return self._ready.wait(timeout)

    def run_forever(self) -> None:
        """Connect and serve on this thread until :meth:`stop`; raises if unreachable."""
        self._client.connect(self.host, self.port, self._keepalive)
        self._client.loop_forever(retry_first_connection=False)

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def publish(self, topic: str, payload: bytes, *, timeout: float) -> None:
        """Publish at QoS 1 and wait for the broker's acknowledgement."""
        if not self._ready.is_set():
            raise RetryLaterError(
                f"not connected to the MQTT broker {self.host}:{self.port}"
            )
        info = self._client.publish(topic, payload, qos=1)
        try:
            info.wait_for_publish(timeout)
        except (RuntimeError, ValueError) as error:
            raise RetryLaterError(f"MQTT publish to {self.host} failed") from error
        if not info.is_published():
            raise RetryLaterError(
                f"the MQTT broker {self.host} did not acknowledge in time"
            )

    def _connected(
        self,
        client: mqtt.Client,
        _userdata: Any,
        _flags: Any,
        reason: Any,
        _properties: Any,
    ) -> None:
        if reason.is_failure:
            logger.error(
                "MQTT broker %s:%s refused the connection: %s",
                self.host,
                self.port,
                reason,
                extra={"event": "mqtt_refused"},
            )
            return
        # NB: a clean session forgets subscriptions, so every reconnect renews it.
        _result, self._subscribe_mid = client.subscribe(self.subscription, qos=1)

    def _subscribed(
        self,
        _client: mqtt.Client,
        _userdata: Any,
        mid: int,
        reasons: Any,
        _properties: Any,
    ) -> None:
        if mid != self._subscribe_mid or any(code.is_failure for code in reasons):
            logger.error(
                "MQTT subscription %s refused",
                self.subscription,
                extra={"event": "mqtt_refused"},
            )
            return
        self._ready.set()
        logger.info(
            "Connected to MQTT broker %s:%s",
            self.host,
            self.port,
            extra={"event": "mqtt_connected"},
        )

    def _disconnected(
        self,
        _client: mqtt.Client,
        _userdata: Any,
        _flags: Any,
        reason: Any,
        _properties: Any,
    ) -> None:
        was_ready = self._ready.is_set()
        self._ready.clear()
        if was_ready and reason.is_failure:
            logger.warning(
                "Lost the MQTT broker %s:%s (%s); reconnecting",
                self.host,
                self.port,
                reason,
                extra={"event": "mqtt_disconnected"},
            )

    def _received(
        self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage
    ) -> None:
        try:
            self._on_message(message.topic, bytes(message.payload))
        except Exception:
            # The network thread is the outer boundary: an exception would end it.
            logger.exception(
                "Handling MQTT message on %s failed",
                message.topic,
                extra={"event": "mqtt_handler_failed"},
            )


class MqttDeviceGateway:
    """A :class:`~leasesync.domain.ports.DeviceGateway` over MQTT.

    Call :meth:`start` before the first request; until the broker is reached,
    requests raise :class:`RetryLaterError`. ``shared_group`` makes several worker
    processes share one report subscription (``$share/<group>/…``), so each report
    reaches one of them instead of all. A key whose publish was acknowledged is not
    published again by this process.
    """

    def __init__(
        self,
        host: str,
        port: int,
        topic_prefix: str,
        sink: ReportSink,
        *,
        clock: Clock | None = None,
        shared_group: str | None = None,
        client_id: str | None = None,
        username: str | None = None,
        password: Secret | None = None,
        timeout: float = 5.0,
    ) -> None:
        _check_prefix(topic_prefix)
        reports = f"{topic_prefix}/reports/#"
        self.topic_prefix, self._sink, self._clock = topic_prefix, sink, clock
        self._timeout = timeout
        self._published: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()
        self._link = MqttLink(
            host,
            port,
            subscription=f"$share/{shared_group}/{reports}"
            if shared_group
            else reports,
            on_message=self._received,
            client_id=client_id,
            username=username,
            password=password,
        )

    def start(self) -> None:
        """Connect and subscribe in the background; wait up to ``timeout`` for it."""
        if not self._link.start(self._timeout):
            logger.warning(
                "MQTT broker %s:%s not reached yet; requests wait for it",
                self._link.host,
                self._link.port,
                extra={"event": "mqtt_unreachable"},
            )

    def stop(self) -> None:
        self._link.stop()

    def request(self, request: ConfigurationRequest) -> None:
        """Publish the request and wait for the broker to take it."""
        with self._lock:
            if request.idempotency_key in self._published:
                return
        topic = configure_topic(self.topic_prefix, request.unit_key)
        self._link.publish(topic, encode_request(request), timeout=self._timeout)
        with self._lock:
            self._published[request.idempotency_key] = None
            if len(self._published) > _REMEMBERED_KEYS:
                self._published.popitem(last=False)

    def _received(self, topic: str, payload: bytes) -> None:
        now = self._clock.now() if self._clock else datetime.now(UTC)
        try:
            report = decode_report(payload, received_at=now)
        except ValueError:
            logger.warning(
                "Malformed device report on %s ignored",
                topic,
                extra={"event": "device_report_malformed"},
            )
            return
        self._sink(report)


def _check_prefix(prefix: str) -> None:
    if not prefix or prefix.startswith("$") or any(c in prefix for c in "+#\0"):
        raise ValueError(f"unusable MQTT topic prefix {prefix!r}")


def _json_object(payload: bytes) -> dict[str, Any]:
    body = json.loads(payload)  # ValueError (JSONDecodeError, UnicodeDecodeError)
    if not isinstance(body, dict):
        raise ValueError("not a JSON object")
    return body


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name!r} missing or not a string")
    return value
