#!/usr/bin/env python3
"""The media half of the Graph API for the mixed ingest benchmark, on loopback.

  GET /<version>/<media-id>   the media's details: url, mime_type, sha256, file_size, id
  GET /file/<media-id>        the bytes: 48 KB, different for every id (wabox keeps files
                              by their SHA-256 and would download a repeated one only once)
  GET /count                  how many files were served

It answers any media id, so that every image message of the benchmark's bodies can be
downloaded by `wabox serve` while the load runs. Both answers need the bearer token.
Usage: fake-media.py PORT TOKEN
"""

import hashlib
import json
import random
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT, TOKEN = int(sys.argv[1]), sys.argv[2]
BASE = random.Random(7).randbytes(48 * 1024 - 64)


def payload(media_id):
    return BASE + media_id.encode().ljust(64, b"\0")[:64]

served = 0
lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, body, content_type):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        global served
        parts = self.path.strip("/").split("/")
        if parts == ["count"]:
            return self.answer(200, str(served).encode(), "text/plain")
        if self.headers.get("Authorization") != "Bearer " + TOKEN:
            return self.answer(401, b'{"error":{"message":"bad token","code":190}}', "application/json")
        if len(parts) == 2 and parts[0] == "file":
            with lock:
                served += 1
            return self.answer(200, payload(parts[1]), "image/jpeg")
        if len(parts) == 2:
            details = {"messaging_product": "whatsapp", "id": parts[1], "mime_type": "image/jpeg",
                       "sha256": hashlib.sha256(payload(parts[1])).hexdigest(), "file_size": 48 * 1024,
                       "url": "http://127.0.0.1:%d/file/%s" % (PORT, parts[1])}
            return self.answer(200, json.dumps(details).encode(), "application/json")
        return self.answer(404, b'{"error":{"message":"unknown path"}}', "application/json")


ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
