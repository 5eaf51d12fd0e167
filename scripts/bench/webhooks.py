#!/usr/bin/env python3
"""Writes distinct, signed WhatsApp Cloud API webhook bodies for the ingest benchmark.

Each output line is `KEY<TAB>SIGNATURE<TAB>BODY`:
  KEY        what the body carries: `m:<wamid>` for a message, `s:<wamid>:<status>` for a status
  SIGNATURE  the X-Hub-Signature-256 value (HMAC-SHA256 of BODY keyed with the app secret)
  BODY       the JSON body, one line, exactly the bytes that are signed and sent

Modes:
  messages   one inbound text message per body, from a pool of customers
  mixed      for each id a message and its sent/delivered/read statuses, shuffled within
             a small window so that statuses may arrive before the message; one message
             in ten is a photo (an image with a media id to download)

With --shards N the bodies go round-robin into OUT.0 … OUT.N-1 (one per wrk thread).
OUT may be a FIFO: bodies are then made while the load runs (the --count memory run).
"""

import argparse
import base64
import hashlib
import hmac
import json
import random
import sys
import time

BUSINESS = '{"display_phone_number":"15550783881","phone_number_id":"106540352242922"}'
GREETINGS = [
    "Bonjour, ma commande n'est pas arrivée",
    "Hi! Where is my parcel? Order 4471",
    "¿Pueden cambiar la dirección de entrega?",
    "Danke, alles angekommen 👍",
    "Can I return the blue shoes?",
    "お届け日を教えてください",
]


def customer(index):
    wa_id = "1555%07d" % index
    user_id = "US.%020d" % (13491208655302741918 + index)
    return wa_id, user_id, "Customer %d" % index


def wamid(run, index):
    """A message id shaped like Meta's: base64 after `wamid.`, random-looking, so that the
    database's unique index on it sees the scattered inserts real ids cause."""
    digest = hashlib.blake2b(("%s:%d" % (run, index)).encode(), digest_size=30).digest()
    return "wamid.HBgL" + base64.b64encode(digest).decode()


def envelope(value):
    return ('{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":'
            '[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":%s,%s}}]}]}'
            % (BUSINESS, value))


def message_body(wamid, index, customers, timestamp, photo=None):
    wa_id, user_id, name = customer(index % customers)
    # Escaped as Meta escapes: non-ASCII as \uXXXX (surrogate pairs for emoji).
    text = json.dumps("%s (%d)" % (GREETINGS[index % len(GREETINGS)], index), ensure_ascii=True)[1:-1]
    if photo:
        # The fake media server (fake-media.py) answers any id with the same file; the
        # digest comes with the details it gives.
        content = ('"type":"image","image":{"id":"bench-media-%s-%d","mime_type":"image/jpeg","caption":"%s"}'
                   % (photo, index, text))
    else:
        content = '"type":"text","text":{"body":"%s"}' % text
    value = ('"contacts":[{"profile":{"name":"%s"},"wa_id":"%s","user_id":"%s"}],'
             '"messages":[{"from":"%s","from_user_id":"%s","id":"%s","timestamp":"%d",%s}]'
             % (name, wa_id, user_id, wa_id, user_id, wamid, timestamp, content))
    return envelope(value)


def status_body(wamid, status, index, customers, timestamp):
    wa_id, user_id, name = customer(index % customers)
    value = ('"contacts":[{"profile":{"name":"%s"},"wa_id":"%s","user_id":"%s"}],'
             '"statuses":[{"id":"%s","status":"%s","timestamp":"%d","recipient_id":"%s",'
             '"recipient_user_id":"%s","conversation":{"id":"conv-%d","origin":{"type":"service"}},'
             '"pricing":{"billable":true,"pricing_model":"PMP","category":"service"}}]'
             % (name, wa_id, user_id, wamid, status, timestamp, wa_id, user_id, index % customers))
    return envelope(value)


def bodies(args):
    # Within the last day: the Cloud API keeps media about 7 days, and wabox does not ask for
    # older files.
    base = int(time.time()) - 86400
    if args.mode == "messages":
        for index in range(args.count):
            message_id = wamid(args.run, index)
            yield "m:" + message_id, message_body(message_id, index, args.customers, base + index)
        return
    rng = random.Random(args.run)
    window = []
    produced = 0
    index = 0
    while produced < args.count:
        message_id = wamid(args.run, index)
        window.append(("m:" + message_id,
                       message_body(message_id, index, args.customers, base + index, photo=args.run if index % 10 == 3 else None)))
        for offset, status in enumerate(("sent", "delivered", "read")):
            window.append(("s:%s:%s" % (message_id, status),
                           status_body(message_id, status, index, args.customers, base + index + 1 + offset)))
        index += 1
        if len(window) >= 64:
            rng.shuffle(window)
            for item in window[: args.count - produced]:
                yield item
                produced += 1
            window = []
    # A count that is not a multiple of four leaves part of the last window unsent.


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, required=True, help="number of bodies")
    parser.add_argument("--mode", choices=["messages", "mixed"], default="messages")
    parser.add_argument("--secret", required=True, help="the app secret that signs the bodies")
    parser.add_argument("--run", default="bench", help="a tag put in every id, distinct per run")
    parser.add_argument("--customers", type=int, default=1000, help="size of the customer pool")
    parser.add_argument("--shards", type=int, default=1, help="write OUT.0 … OUT.N-1 round-robin")
    parser.add_argument("--out", required=True, help="output file (a FIFO works too)")
    args = parser.parse_args()
    if args.count < 1 or args.shards < 1 or args.customers < 1:
        parser.error("--count, --shards and --customers must be at least 1")

    paths = [args.out] if args.shards == 1 else ["%s.%d" % (args.out, n) for n in range(args.shards)]
    outputs = [open(path, "w", encoding="ascii", buffering=1 << 20) for path in paths]
    key = args.secret.encode()
    try:
        for number, (name, body) in enumerate(bodies(args)):
            raw = body.encode("ascii")
            signature = "sha256=" + hmac.new(key, raw, hashlib.sha256).hexdigest()
            outputs[number % len(outputs)].write("%s\t%s\t%s\n" % (name, signature, body))
    except BrokenPipeError:
        # The reader (wrk) stopped early: not an error for the generator.
        sys.stderr.close()
    finally:
        for output in outputs:
            try:
                output.close()
            except BrokenPipeError:
                pass


if __name__ == "__main__":
    main()
