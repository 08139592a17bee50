"""Plays Home Assistant against g90 serve with paho-mqtt, the client
library Home Assistant itself uses (Debian's python3-paho-mqtt: 1.6 and
2.x both work).

    python3 home_assistant.py HOST PORT GUID DEVICES [PIN]

Like Home Assistant (started after g90: the caller waits until g90 has
published) it subscribes to the discovery prefix, reads every retained
device discovery payload (DEVICES of them: the panel, its
sensors and relays), finds the entities' topics there, and then:
publishes its birth message and sees every payload again; arms and
disarms the alarm panel (with PIN as the code, after a wrong one, when
given); switches a relay node on and flips the access point switch (a
config switch). It prints one line per step, and exits 1 with a reason
on stderr when something does not come within the timeout.
"""

import json
import sys
import threading
import time

import paho.mqtt.client as mqtt

TIMEOUT = 20.0

host, port, guid, devices = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
pin = sys.argv[5] if len(sys.argv) > 5 else ""

cond = threading.Condition()
last = {}  # topic -> (payload, retained)
seen = {}  # topic -> number of messages
first_retained = {}  # topic -> whether its first message came retained


def on_connect(client, userdata, flags, rc):
    if rc != 0:
        fail("connect: return code %d" % rc)
    client.subscribe([("homeassistant/#", 1), ("g90/#", 1)])


def on_message(client, userdata, msg):
    with cond:
        last[msg.topic] = (msg.payload.decode("utf-8"), bool(msg.retain))
        seen[msg.topic] = seen.get(msg.topic, 0) + 1
        first_retained.setdefault(msg.topic, bool(msg.retain))
        cond.notify_all()


def fail(why):
    print("FAIL " + why, file=sys.stderr, flush=True)
    sys.exit(1)


def wait(what, check):
    """Waits until check() (called with cond held) returns a true value."""
    deadline = time.monotonic() + TIMEOUT
    with cond:
        while True:
            got = check()
            if got:
                return got
            left = deadline - time.monotonic()
            if left <= 0:
                fail("timed out waiting for " + what)
            cond.wait(left)


def discovery():
    return {t: json.loads(p) for t, (p, _) in last.items()
            if t.startswith("homeassistant/device/") and t.endswith("/config") and p}


def state_is(topic, want):
    return lambda: last.get(topic, (None,))[0] == want


try:  # paho-mqtt 2.x asks which callback API; 1.6 has only this one
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION1, client_id="ha-test-%s" % guid, clean_session=True)
except AttributeError:
    client = mqtt.Client(client_id="ha-test-%s" % guid, clean_session=True)
client.on_connect = on_connect
client.on_message = on_message
client.connect(host, port, keepalive=30)
client.loop_start()

# Every device's discovery payload, retained, and the states they name.
disc = wait("%d discovery payloads" % devices, lambda: len(discovery()) >= devices and discovery())
for topic in disc:
    if not first_retained[topic]:
        fail(topic + " is not retained")
print("discovery %d retained" % len(disc), flush=True)
comps = {cid: c for d in disc.values() for cid, c in d["components"].items()}
alarm = next(c for c in comps.values() if c.get("platform") == "alarm_control_panel")
relay = next(c for cid, c in sorted(comps.items()) if "_relay_" in cid and c.get("platform") == "switch")
ap = next(c for cid, c in comps.items() if cid.endswith("_ap_enabled"))
for d in disc.values():
    for a in d["availability"]:
        wait(a["topic"] + " online", state_is(a["topic"], "online"))
wait("the alarm state", state_is(alarm["state_topic"], "disarmed"))
if not first_retained[alarm["state_topic"]]:
    fail("the alarm state is not retained")
print("states online disarmed", flush=True)

# The birth message: everything again.
with cond:
    before = {t: seen[t] for t in disc}
client.publish("homeassistant/status", "online", qos=1)
wait("the discovery again", lambda: all(seen[t] > n for t, n in before.items()))
print("birth republished %d" % len(before), flush=True)


def command(c, action):
    if pin:
        # The payload of the component's command_template.
        return c["command_template"].replace("{{ action }}", action).replace("{{ code }}", pin)
    return action


if pin:
    client.publish(alarm["command_topic"], json.dumps({"action": "ARM_AWAY", "code": pin + "9"}), qos=1)
client.publish(alarm["command_topic"], command(alarm, "ARM_AWAY"), qos=1)
wait("armed_away", state_is(alarm["state_topic"], "armed_away"))
print("alarm armed_away", flush=True)
client.publish(alarm["command_topic"], command(alarm, "DISARM"), qos=1)
wait("disarmed", state_is(alarm["state_topic"], "disarmed"))
print("alarm disarmed", flush=True)

client.publish(relay["command_topic"], "ON", qos=1)
wait("the relay on", state_is(relay["state_topic"], "ON"))
print("relay %s ON" % relay["command_topic"], flush=True)

was = wait("the access point state", lambda: last.get(ap["state_topic"], (None,))[0])
want = "OFF" if was == "ON" else "ON"
client.publish(ap["command_topic"], want, qos=1)
wait("the access point " + want, state_is(ap["state_topic"], want))
print("switch ap_enabled %s %s" % (was, want), flush=True)

client.loop_stop()
client.disconnect()
print("DONE", flush=True)
