#!/usr/bin/env python3
"""Interop check with the paho-mqtt client (1.x or 2.x), run by tests/10_interop_clients.rs.

usage: paho_pubsub.py HOST PORT VERSION(311|5) PREFIX

A subscriber (QoS 2) and a publisher, on different client ids: QoS 0, 1 and 2 messages
arrive with QoS min(published, 2); a retained message reaches a later subscriber with
the retain flag, and an empty retained payload deletes it. Exit status 0 on success; on
failure the reason is printed and the status is 1. Every wait is bounded.
"""
import queue
import sys
import time

import paho.mqtt.client as mqtt

TIMEOUT = 10.0


def fail(message):
    print("FAIL: " + message, flush=True)
    sys.exit(1)


def make_client(client_id, protocol):
    kwargs = {"client_id": client_id, "protocol": protocol}
    if protocol != mqtt.MQTTv5:
        kwargs["clean_session"] = True
    try:  # paho-mqtt 2.x
        from paho.mqtt.enums import CallbackAPIVersion

        client = mqtt.Client(CallbackAPIVersion.VERSION2, **kwargs)
    except ImportError:  # paho-mqtt 1.x
        client = mqtt.Client(**kwargs)
    client.messages = queue.Queue()
    client.subacks = queue.Queue()
    client.on_message = lambda c, userdata, msg: c.messages.put(msg)
    # on_subscribe's arguments differ between 1.x and 2.x: only the call matters.
    client.on_subscribe = lambda c, userdata, mid, *rest: c.subacks.put(mid)
    return client


def start(client, host, port):
    client.connect(host, port, keepalive=30)
    client.loop_start()
    deadline = time.time() + TIMEOUT
    while not client.is_connected():
        if time.time() > deadline:
            fail("%s: not connected" % client._client_id)
        time.sleep(0.01)


def subscribe(client, topic, qos):
    result, mid = client.subscribe(topic, qos)
    if result != mqtt.MQTT_ERR_SUCCESS:
        fail("subscribe %s: %s" % (topic, result))
    try:
        got = client.subacks.get(timeout=TIMEOUT)
    except queue.Empty:
        fail("no SUBACK for " + topic)
    if got != mid:
        fail("SUBACK for mid %s, expected %s" % (got, mid))


def publish(client, topic, payload, qos, retain=False):
    info = client.publish(topic, payload, qos=qos, retain=retain)
    info.wait_for_publish(timeout=TIMEOUT)
    if not info.is_published():
        fail("publish %s qos %d not completed" % (topic, qos))


def next_message(client, what):
    try:
        return client.messages.get(timeout=TIMEOUT)
    except queue.Empty:
        fail("%s: no message for %s" % (client._client_id, what))


def main():
    host, port, version, prefix = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    protocol = {"311": mqtt.MQTTv311, "5": mqtt.MQTTv5}[version]
    base = "interop/%s/v%s" % (prefix, version)

    sub = make_client("paho-sub-%s-%s" % (prefix, version), protocol)
    pub = make_client("paho-pub-%s-%s" % (prefix, version), protocol)
    start(sub, host, port)
    start(pub, host, port)
    subscribe(sub, base + "/live/#", 2)

    for qos in (0, 1, 2):
        publish(pub, "%s/live/q%d" % (base, qos), ("qos%d" % qos).encode(), qos)
    got = {}
    for _ in range(3):
        msg = next_message(sub, "live messages")
        got[msg.topic] = (msg.payload, msg.qos, msg.retain)
    for qos in (0, 1, 2):
        topic = "%s/live/q%d" % (base, qos)
        want = (("qos%d" % qos).encode(), qos, False)
        if got.get(topic) != want:
            fail("%s: got %r, want %r" % (topic, got.get(topic), want))

    # Retained: set, seen by a later subscriber with the retain flag, then deleted.
    publish(pub, base + "/kept", b"retained", 1, retain=True)
    late = make_client("paho-late-%s-%s" % (prefix, version), protocol)
    start(late, host, port)
    subscribe(late, base + "/kept", 1)
    msg = next_message(late, "the retained message")
    if (msg.payload, msg.retain, msg.qos) != (b"retained", True, 1):
        fail("retained: got %r retain=%r qos=%r" % (msg.payload, msg.retain, msg.qos))
    publish(pub, base + "/kept", b"", 1, retain=True)
    # The deleting message reaches the existing subscription (retain flag 0).
    msg = next_message(late, "the deleting message")
    if msg.payload != b"" or msg.retain:
        fail("delete: got %r retain=%r" % (msg.payload, msg.retain))
    later = make_client("paho-later-%s-%s" % (prefix, version), protocol)
    start(later, host, port)
    subscribe(later, base + "/kept", 1)
    try:
        msg = later.messages.get(timeout=0.3)
        fail("deleted retained message still sent: %r" % msg.payload)
    except queue.Empty:
        pass

    for client in (sub, pub, late, later):
        client.disconnect()
        client.loop_stop()
    print("OK paho v%s" % version, flush=True)


if __name__ == "__main__":
    main()
