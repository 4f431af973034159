# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fault test of one vLLM instance: signal one of its processes, time until it serves again.

usage: kill_and_time.py UNIT PORT MODEL TARGET SIGNAL TIMEOUT
  TARGET  main (the API server: the unit's main process, or under a Podman quadlet the container's
          process below conmon whose child is the engine core), engine (VLLM::EngineCore, child of the
          API server), worker (VLLM::Worker*, child of the engine core; the engine core itself when TP 1
          runs its worker in-process), or crashloop (the main process at every start until the unit fails: times
          are then counted from that failure)
  SIGNAL  KILL, or STOP (a hung engine: its unit stays active, only the health watchdog can help)
A new main process (the unit's MainPID changed: under a quadlet a new conmon) marks systemd's restart.
Serving = /health 200 and a one-token completion (the key from the root-only key file, as the
watchdog reads it). Prints one JSON line: what was signalled, the seconds until a new main process
ran and until it served, how the old main process ended (from the journal).
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

KEY_FILE = "/etc/inferops-vllm/api-key.env"


def show(unit, prop):
    return subprocess.run(["systemctl", "show", "-P", prop, unit], capture_output=True, text=True, check=False).stdout.strip()


def processes():
    """{pid: (ppid, args)} of every process."""
    out = subprocess.run(["ps", "-eo", "pid=,ppid=,args="], capture_output=True, text=True, check=True).stdout
    found = {}
    for line in out.splitlines():
        fields = line.split(None, 2)
        if len(fields) == 3:
            found[int(fields[0])] = (int(fields[1]), fields[2])
    return found


def children(parent, prefix):
    return sorted(pid for pid, (ppid, args) in processes().items() if ppid == parent and args.startswith(prefix))


def api_server(main_pid):
    """The vLLM API server: the unit's main process under systemd. Under a Podman quadlet the main process
    is conmon, and the API server is the process below it whose child is the engine core."""
    procs = processes()
    below, queue = [], [main_pid]
    while queue:
        pid = queue.pop(0)
        below.append(pid)
        queue.extend(sorted(p for p, (ppid, _args) in procs.items() if ppid == pid))
    for pid in below:
        if any(ppid == pid and args.startswith("VLLM::EngineCore") for ppid, args in procs.values()):
            return pid
    return main_pid


def api_key():
    try:
        with open(KEY_FILE, encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("VLLM_API_KEY="):
                    return line.split("=", 1)[1].strip()
    except OSError:
        pass
    return ""


def serving(port, model, key):
    base = "http://127.0.0.1:%d" % port
    try:
        with urllib.request.urlopen(base + "/health", timeout=5) as response:
            if response.status != 200:
                return False
        body = json.dumps({"model": model, "prompt": "ping", "max_tokens": 1}).encode()
        request = urllib.request.Request(base + "/v1/completions", data=body,
                                         headers={"Content-Type": "application/json", "Authorization": "Bearer " + key})
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())["usage"]["completion_tokens"] >= 1
    except (OSError, ValueError, KeyError, urllib.error.URLError):
        return False


def main():
    unit, port, model, target, sig, timeout = sys.argv[1:7]
    port, timeout = int(port), float(timeout)
    key = api_key()
    if not serving(port, model, key):
        print(json.dumps({"error": "%s does not serve before the fault" % unit}))
        return 2
    main_pid = int(show(unit, "MainPID"))
    api_pid = api_server(main_pid)
    engines = children(api_pid, "VLLM::EngineCore")
    label = target
    if target == "main":
        pid = api_pid
    elif target == "crashloop":
        pid = main_pid
    elif target == "engine":
        pid = engines[0] if engines else None
    else:
        workers = children(engines[0], "VLLM::Worker") if engines else []
        pid = workers[0] if workers else (engines[0] if engines else None)
        if not workers:
            label = "worker (in the engine core: no separate worker process at TP 1)"
    if pid is None:
        print(json.dumps({"error": "no %s process under %s (main %d)" % (target, unit, main_pid)}))
        return 2
    since = time.strftime("%Y-%m-%d %H:%M:%S")
    t0 = time.monotonic()
    subprocess.run(["kill", "-s", sig, str(pid)], check=True)
    kills, to_failure = 1, None
    if target == "crashloop":
        killed = main_pid
        while time.monotonic() - t0 < timeout and show(unit, "ActiveState") != "failed":
            now_main = show(unit, "MainPID")
            if now_main not in ("", "0", str(killed)):
                subprocess.run(["kill", "-s", sig, now_main], check=False)
                killed, kills = int(now_main), kills + 1
            time.sleep(0.3)
        to_failure = round(time.monotonic() - t0, 1)
        t0, main_pid = time.monotonic(), killed
    new_main_at = None
    while time.monotonic() - t0 < timeout:
        now_main = show(unit, "MainPID")
        if new_main_at is None and now_main not in ("", "0", str(main_pid)):
            new_main_at = time.monotonic() - t0
        if new_main_at is not None and serving(port, model, key):
            break
        time.sleep(1)
    served_at = time.monotonic() - t0 if new_main_at is not None and time.monotonic() - t0 < timeout else None
    journal = subprocess.run(["journalctl", "-u", unit, "-u", "inferops-vllm-watchdog.service", "--since", since,
                              "--no-pager", "-o", "cat"], capture_output=True, text=True, check=False).stdout
    # A clean exit (status 0) logs "Deactivated successfully." where a failure logs "Main process exited ...".
    marks = ("Main process exited", "Deactivated successfully", "Failed with result", "Scheduled restart job",
             "start-limit-hit", "repeated too quickly", "reviving", "restarting it", "failed (")
    ended = [line for line in journal.splitlines() if unit in line and any(mark in line for mark in marks)]
    print(json.dumps({
        "unit": unit, "target": label, "pid": pid, "signal": sig,
        "new_process_s": None if new_main_at is None else round(new_main_at, 1),
        "serving_s": None if served_at is None else round(served_at, 1),
        "start_to_serving_s": None if served_at is None else round(served_at - new_main_at, 1),
        "restarts": int(show(unit, "NRestarts") or 0),
        "kills": kills, "to_start_limit_s": to_failure,
        "journal": ended,
    }))
    return 0 if served_at is not None else 1


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    sys.exit(main())
