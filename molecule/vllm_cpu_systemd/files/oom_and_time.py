# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""OOM fault of one vLLM instance: a drop-in lowers its MemoryMax below what vLLM needs, the unit is
restarted into it, the kernel's OOM killer acts inside the unit's memory cgroup; the drop-in is then
removed (the plan's MemoryMax applies again) and the time until the instance serves is measured.

usage: oom_and_time.py UNIT PORT MODEL LIMIT_MIB TIMEOUT
Prints one JSON line: the kernel's oom-kill line for the unit (its constraint and memory cgroup prove
the kill stayed inside the unit), seconds from the restart to the kill, from the kill to a new main
process and to serving (/health and a one-token completion), and the unit's MemoryMax afterwards.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kill_and_time import api_key, serving, show  # noqa: E402  pylint: disable=wrong-import-position

DROPIN = "/etc/systemd/system/%s.d/zz-molecule-oom.conf"


def systemctl(*args):
    subprocess.run(["systemctl"] + list(args), check=True)


def oom_lines(unit, since):
    out = subprocess.run(["journalctl", "-k", "--since", since, "--no-pager", "-o", "cat"],
                         capture_output=True, text=True, check=False).stdout
    return [line for line in out.splitlines() if line.startswith("oom-kill:") and "oom_memcg=" in line
            and line.split("oom_memcg=", 1)[1].split(",", 1)[0].endswith("/" + unit)]


def main():
    unit, port, model, limit_mib, timeout = sys.argv[1:6]
    port, timeout = int(port), float(timeout)
    key = api_key()
    if not serving(port, model, key):
        print(json.dumps({"error": "%s does not serve before the fault" % unit}))
        return 2
    planned_max = show(unit, "MemoryMax")
    dropin = DROPIN % unit
    os.makedirs(os.path.dirname(dropin), exist_ok=True)
    with open(dropin, "w", encoding="utf-8") as handle:
        handle.write("[Service]\nMemoryMax=%sM\n" % limit_mib)
    # a crash loop earlier in the run may have used up the start limit: this fault starts afresh
    systemctl("reset-failed", unit)
    systemctl("daemon-reload")
    since = time.strftime("%Y-%m-%d %H:%M:%S")
    t0 = time.monotonic()
    systemctl("restart", "--no-block", unit)
    killed = []
    while time.monotonic() - t0 < timeout and not killed:
        killed = oom_lines(unit, since)
        time.sleep(0.5)
    kill_s = round(time.monotonic() - t0, 1) if killed else None
    # the plan's limit again for the restarts that follow
    os.remove(dropin)
    systemctl("daemon-reload")
    if not killed:
        print(json.dumps({"error": "no OOM kill in %s within %ss under MemoryMax=%sM" % (unit, timeout, limit_mib)}))
        return 1
    old_main = show(unit, "MainPID")
    t1 = time.monotonic()
    new_main_at = served_at = None
    while time.monotonic() - t1 < timeout:
        now_main = show(unit, "MainPID")
        if new_main_at is None and now_main not in ("", "0", old_main):
            new_main_at = round(time.monotonic() - t1, 1)
        if new_main_at is not None and serving(port, model, key):
            served_at = round(time.monotonic() - t1, 1)
            break
        time.sleep(1)
    journal = subprocess.run(["journalctl", "-u", unit, "--since", since, "--no-pager", "-o", "cat"],
                             capture_output=True, text=True, check=False).stdout
    ended = [line for line in journal.splitlines()
             if any(mark in line for mark in ("Main process exited", "Failed with result", "Scheduled restart job",
                                              "OOM killer", "Deactivated successfully"))]
    print(json.dumps({
        "unit": unit, "limit_mib": int(limit_mib),
        "oom_kill": killed[0], "oom_kills": len(killed),
        "restart_to_kill_s": kill_s,
        "new_process_s": new_main_at, "serving_s": served_at,
        "planned_memory_max": planned_max, "memory_max_after": show(unit, "MemoryMax"),
        "journal": ended[:8],
    }))
    return 0 if served_at is not None else 1


if __name__ == "__main__":
    sys.exit(main())
