#!/usr/bin/env python3
"""Loopback PanDA task-list server for deploy/bench.sh.

Serves TASKS running tasks on /api/panda/tasks/ in pages of `limit`
(newest id first, walked with before_id/next_before_id as the real
server does); the failed and broken listings are empty. One task in three
belongs to "Sakib Rahman" (the `username` filter is honoured); final
failure rates spread evenly over [0, 0.06), so that the two production
alarms (thresholds 0.03 and 0.05) fire on about a third of what they see.
Pages are built once at start, so the server's own cost stays out of the
tick's figures. Prints the port it listens on, then serves until killed.

    deploy/bench-panda.py TASKS
"""

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

FIRST_ID = 40_000_000


def task(jeditaskid, n):
    failed_files = n % 12
    finished = 200 - failed_files * 2
    rate = (n % 60) / 1000.0
    return {
        "jeditaskid": jeditaskid,
        "taskname": f"user.bench.campaign-{jeditaskid}.sim",
        "status": "running",
        "username": "Sakib Rahman" if n % 3 == 0 else "EIC production",
        "workinggroup": "EIC",
        "processingtype": "simul",
        "site": "BNL_PROD",
        "nactive": 4,
        "nfinished": finished,
        "nfailed": failed_files * 3,
        "nrunning": 2,
        "nretries": failed_files * 2,
        "nfinalfailed": failed_files,
        "nfilesfinished": finished,
        "computed_failurerate": min(rate * 3, 1.0),
        "computed_finalfailurerate": rate,
        "failurerate": None,
        "modificationtime": "2026-11-23T10:00:00",
        "creationdate": "2026-11-22T08:00:00",
    }


def main():
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    tasks = [task(FIRST_ID - n, n) for n in range(count)]
    cache = {}

    def listing(username, before_id, limit):
        key = (username, before_id, limit)
        if key not in cache:
            chosen = [
                t
                for t in tasks
                if (username is None or t["username"] == username)
                and (before_id is None or t["jeditaskid"] < before_id)
            ]
            items = chosen[:limit]
            more = len(chosen) > limit
            cache[key] = json.dumps(
                {
                    "items": items,
                    "total_count": len(chosen),
                    "has_more": more,
                    "next_before_id": items[-1]["jeditaskid"] if more else None,
                    "summary": {},
                    "filters": {},
                }
            ).encode()
        return cache[key]

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes; with Nagle on, a small
        # answer's body waits for the client's delayed ACK (about 45 ms per
        # empty failed/broken page), which is no cost of the engine's.
        disable_nagle_algorithm = True

        def do_GET(self):
            url = urlsplit(self.path)
            if url.path != "/api/panda/tasks/":
                self.send_error(404)
                return
            q = {k: v[0] for k, v in parse_qs(url.query).items()}
            if q.get("status") == "running":
                before = int(q["before_id"]) if "before_id" in q else None
                body = listing(q.get("username"), before, int(q.get("limit", "200")))
            else:
                body = json.dumps(
                    {"items": [], "total_count": 0, "has_more": False,
                     "next_before_id": None, "summary": {}, "filters": {}}
                ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
