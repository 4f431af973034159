# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Steady load through the front until a stop file appears; prints JSON counts of answers.

usage: front_load.py URL KEY_FILE STOP_FILE [THREADS [PAUSE_S]]
KEY_FILE holds the API key (read here, so it is never on a command line). Each thread sends one
small non-streamed completion after the other, PAUSE_S (default 3) apart; every answer that is not
200 with 4 tokens counts as failed, with its status or error. The pause leaves the 2-core test
machine some CPU: vLLM's CPU worker spins (sched_yield) for 1 s after each step it reads, so a
request every second per instance keeps both cores busy; back-to-back requests starved the Ansible
run that restarts the instances (a 5 s pause took 44 s, the role's rerun 18 minutes).
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import sys
import threading
import time
from urllib.error import HTTPError
from urllib.request import Request, urlopen


def main():
    url, key_file, stop_file = sys.argv[1:4]
    threads = int(sys.argv[4]) if len(sys.argv) > 4 else 2
    pause = float(sys.argv[5]) if len(sys.argv) > 5 else 3.0
    with open(key_file) as handle:
        key = handle.read().strip()
    body = json.dumps({'model': 'tiny-llama', 'prompt': 'Hello', 'max_tokens': 4, 'ignore_eos': True}).encode()
    counts = {'ok': 0, 'failed': 0, 'errors': {}}
    lock = threading.Lock()
    started = time.time()

    def worker():
        while not os.path.exists(stop_file) and time.time() - started < 1200:
            req = Request(url + '/v1/completions', data=body, headers={
                'Authorization': 'Bearer ' + key, 'Content-Type': 'application/json'})
            try:
                answer = json.loads(urlopen(req, timeout=60).read())
                good = answer['usage']['completion_tokens'] == 4
                what = 'ok' if good else 'short answer'
            except HTTPError as exc:
                good, what = False, 'HTTP %d' % exc.code
            except Exception as exc:  # pylint: disable=broad-except
                good, what = False, type(exc).__name__
            with lock:
                if good:
                    counts['ok'] += 1
                else:
                    counts['failed'] += 1
                    counts['errors'][what] = counts['errors'].get(what, 0) + 1
            time.sleep(pause)
    pool = [threading.Thread(target=worker) for dummy in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    counts['seconds'] = round(time.time() - started, 1)
    print(json.dumps(counts))


if __name__ == '__main__':
    main()
