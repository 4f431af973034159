# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Health watchdog of the inferops.vllm.server instances (installed by the role, run by a systemd timer).
#
# Why: systemd restarts a unit whose process exits, but not
#  - an instance whose API server still runs with a dead or hung engine (vLLM answers /v1/models, and
#    may answer /health, while no completion can finish): probed with /health and a one-token
#    completion; restarted after `failures` failed ticks in a row;
#  - an instance left "failed" by its start limit (systemd < 254 has no RestartSteps= back-off): revived
#    after `revive_delay_sec`, doubled for each revival that did not serve, up to `revive_max_delay_sec`.
# A busy instance is not a dead one, and a gate's cross-check of /metrics must not see foreign requests:
# an instance whose generated-token counter (/metrics) moved since the previous check is alive and gets
# no completion; only an idle (or dead) one is probed with a one-token completion.
# An instance is probed only once it has served since its last start (its model load can take
# minutes); one that never serves within `start_timeout_sec` is restarted.
# The API key is read from the root-only key file, never from a command line or the environment.
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request

CONFIG = "/etc/inferops-vllm/watchdog.json"  # the role passes its path as the first argument
STATE_DIR = "/run/inferops-vllm-watchdog"
TOKENS_RE = re.compile(r"^vllm:generation_tokens_total(?:\{[^}]*\})? ([0-9.eE+]+)$", re.M)


def log(unit, message):
    print("%s: %s" % (unit, message), flush=True)


def unit_properties(unit):
    names = ["LoadState", "ActiveState", "SubState", "Result", "InvocationID",
             "ActiveEnterTimestampMonotonic", "InactiveEnterTimestampMonotonic", "UnitFileState"]
    out = subprocess.run(["systemctl", "show", unit, "-p", ",".join(names)],
                         capture_output=True, text=True, check=False).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def seconds_since(monotonic_usec):
    try:
        usec = int(monotonic_usec)
    except (TypeError, ValueError):
        return 0.0
    return time.monotonic() - usec / 1e6 if usec > 0 else 0.0


def read_api_key(path):
    if not path or not os.path.exists(path):
        return ""
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            name, sep, value = line.strip().partition("=")
            if sep and name == "VLLM_API_KEY":
                return value.strip().strip('"')
    return ""


def http(url, timeout, body=None, key=""):
    headers = {"Content-Type": "application/json"} if body is not None else {}
    if key:
        headers["Authorization"] = "Bearer " + key
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as err:
        return err.code, ""
    except (OSError, ValueError) as err:
        return 0, str(err)


def generated_tokens(base, timeout):
    status, text = http(base + "/metrics", timeout)
    if status != 200:
        return None
    return sum(float(value) for value in TOKENS_RE.findall(text))


def probe(inst, cfg, key, last_tokens):
    """Return (serving, reason, generated-token counter now)."""
    base = "http://%s:%d" % (inst["host"], inst["port"])
    status, detail = http(base + "/health", cfg["probe_timeout_sec"])
    if status != 200:
        return False, "/health answered %s" % (status or detail), None
    tokens = generated_tokens(base, cfg["probe_timeout_sec"])
    if tokens is not None and last_tokens is not None and tokens > last_tokens:
        return True, "", tokens  # it generated tokens since the last check: busy, alive
    if not cfg.get("completion_probe", True):
        return True, "", tokens
    status, text = http(base + "/v1/completions", cfg["probe_timeout_sec"],
                        {"model": inst["served"], "prompt": "ping", "max_tokens": 1}, key)
    if status == 200:
        try:
            if json.loads(text)["usage"]["completion_tokens"] >= 1:
                return True, "", generated_tokens(base, cfg["probe_timeout_sec"])
        except (ValueError, KeyError, TypeError):
            pass
    return False, "one-token completion failed (%s)" % (status or text[:200]), tokens


def load_state(unit):
    try:
        with open(os.path.join(STATE_DIR, unit + ".json"), encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return {}


def save_state(unit, state):
    os.makedirs(STATE_DIR, mode=0o700, exist_ok=True)
    path = os.path.join(STATE_DIR, unit + ".json")
    with open(path + ".tmp", "w", encoding="utf-8") as handle:
        json.dump(state, handle)
    os.replace(path + ".tmp", path)


def systemctl(*args):
    return subprocess.run(["systemctl"] + list(args), capture_output=True, text=True, check=False)


def check(inst, cfg, key):
    unit = inst["unit"]
    props = unit_properties(unit)
    state = load_state(unit)
    if props.get("LoadState") != "loaded":
        return
    active = props.get("ActiveState")
    if active == "failed":
        # Left failed (start limit, or a start that timed out): revive after a back-off, unless an
        # operator disabled the instance.
        if props.get("UnitFileState") not in ("enabled", "generated", "static", "transient"):
            return
        revivals = state.get("revivals", 0)
        delay = min(cfg["revive_delay_sec"] * 2 ** revivals, cfg["revive_max_delay_sec"])
        waited = seconds_since(props.get("InactiveEnterTimestampMonotonic"))
        if waited < delay:
            return
        log(unit, "failed (%s) %.0f s ago; reviving it (revival %d)" % (props.get("Result"), waited, revivals + 1))
        systemctl("reset-failed", unit)
        systemctl("start", "--no-block", unit)
        save_state(unit, {"revivals": revivals + 1})
        return
    if active != "active" or props.get("SubState") != "running":
        return  # stopped by an operator, or between a death and systemd's restart
    if state.get("invocation") != props.get("InvocationID"):
        state = {"invocation": props.get("InvocationID"), "served": False, "failures": 0,
                 "revivals": state.get("revivals", 0)}
    serving, reason, tokens = probe(inst, cfg, key, state.get("tokens"))
    state["tokens"] = tokens
    if serving:
        if not state["served"]:
            log(unit, "serving")
        state.update(served=True, failures=0, revivals=0)
    elif not state["served"]:
        started = seconds_since(props.get("ActiveEnterTimestampMonotonic"))
        if started > cfg["start_timeout_sec"]:
            log(unit, "not serving %.0f s after its start (%s); restarting it" % (started, reason))
            systemctl("restart", "--no-block", unit)
            state = {"revivals": state.get("revivals", 0)}
    else:
        state["failures"] += 1
        log(unit, "%s (%d of %d)" % (reason, state["failures"], cfg["failures"]))
        if state["failures"] >= cfg["failures"]:
            log(unit, "restarting it: it stopped serving while its unit is active")
            systemctl("restart", "--no-block", unit)
            state = {"revivals": state.get("revivals", 0)}
    save_state(unit, state)


def main():
    with open(sys.argv[1] if len(sys.argv) > 1 else CONFIG, encoding="utf-8") as handle:
        cfg = json.load(handle)
    key = read_api_key(cfg.get("api_key_file", ""))
    for inst in cfg["instances"]:
        try:
            check(inst, cfg, key)
        except Exception as err:  # pylint: disable=broad-except
            # One instance's trouble must not stop the checks of the others.
            log(inst.get("unit", "?"), "watchdog error: %s" % err)
    return 0


if __name__ == "__main__":
    sys.exit(main())
