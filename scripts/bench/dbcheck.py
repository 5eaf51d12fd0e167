#!/usr/bin/env python3
"""Reads a wabox database for the benchmark and the crash test (no sqlite3 CLI needed).

  dbcheck.py counts DB
      prints `webhooks=N messages=N statuses=N dead_letters=N lag=N integrity=ok`
      (webhooks: bodies in the journal; lag: journaled but not yet applied)
  dbcheck.py verify DB SECRET ACKED_FILE…
      checks that every acknowledged webhook (lines `KEY<TAB>SIGNATURE`, KEY `m:<wamid>` or
      `s:<wamid>:<status>`) is in the journal (a body whose HMAC-SHA256 with SECRET is the
      signature) and its event in the message or status table; prints
      `acked=N journaled=N applied=N missing=N` and exits 1 when anything is missing.
  dbcheck.py verify-journal HEX_FILE SECRET ACKED_FILE…
      the same for a PostgreSQL journal dumped by `pg_journal_dump` (scripts/bench/postgres.sh,
      one hex-encoded body a line): checks that every acknowledged webhook is journaled, and
      prints `acked=N journaled=N distinct_acked=N missing=N` (PostgreSQL folds a body
      delivered twice, so journaled counts distinct bodies).
"""

import hashlib
import hmac
import sqlite3
import sys


def connect(path):
    connection = sqlite3.connect(path, timeout=30)
    connection.execute("PRAGMA query_only = ON")
    return connection


def counts(path):
    db = connect(path)
    one = lambda sql: db.execute(sql).fetchone()[0]
    print("webhooks=%d messages=%d statuses=%d dead_letters=%d lag=%d integrity=%s" % (
        one("SELECT (SELECT count(*) FROM webhook) + (SELECT count(*) FROM journal)"),
        one("SELECT count(*) FROM message"), one("SELECT count(*) FROM status_event"),
        one("SELECT count(*) FROM dead_letter"),
        one("SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'journal'), 0)"
            " - (SELECT applied_through FROM journal_mark)"),
        one("PRAGMA quick_check")))


def journal_signatures(db, secret):
    """The signature of every journaled body: the journal keeps bodies, not headers."""
    key = secret.encode()
    signatures = set()
    for table in ("webhook", "journal"):
        for (body,) in db.execute("SELECT body FROM %s" % table):
            signatures.add("sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest())
    return signatures


def verify(path, secret, acked_files):
    db = connect(path)
    signatures = journal_signatures(db, secret)
    acked = journaled = applied = 0
    missing = []
    for acked_file in acked_files:
        with open(acked_file, encoding="ascii") as lines:
            for line in lines:
                line = line.rstrip("\n")
                if not line:
                    continue
                key, signature = line.split("\t")
                acked += 1
                in_journal = True if signature in signatures else None
                if key.startswith("m:"):
                    event = db.execute("SELECT 1 FROM message WHERE wamid = ?", (key[2:],)).fetchone()
                else:
                    wamid, status = key[2:].rsplit(":", 1)
                    event = db.execute("SELECT 1 FROM status_event WHERE wamid = ? AND status = ?",
                                       (wamid, status)).fetchone()
                journaled += in_journal is not None
                applied += event is not None
                if in_journal is None or event is None:
                    missing.append((key, "journal" if in_journal is None else "event"))
    print("acked=%d journaled=%d applied=%d missing=%d" % (acked, journaled, applied, len(missing)))
    for key, what in missing[:20]:
        print("  acknowledged but not in the database (%s): %s" % (what, key))
    return 1 if missing else 0


def verify_journal(hex_file, secret, acked_files):
    key = secret.encode()
    signatures = set()
    with open(hex_file, encoding="ascii") as lines:
        for line in lines:
            line = line.strip()
            if line:
                signatures.add("sha256=" + hmac.new(key, bytes.fromhex(line), hashlib.sha256).hexdigest())
    acked = 0
    distinct = set()
    missing = []
    for acked_file in acked_files:
        with open(acked_file, encoding="ascii") as lines:
            for line in lines:
                line = line.rstrip("\n")
                if not line:
                    continue
                key, signature = line.split("\t")
                acked += 1
                distinct.add(signature)
                if signature not in signatures:
                    missing.append(key)
    print("acked=%d journaled=%d distinct_acked=%d missing=%d" % (acked, len(signatures), len(distinct), len(missing)))
    for key in missing[:20]:
        print("  acknowledged but not in the journal: %s" % key)
    return 1 if missing else 0


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "counts":
        counts(sys.argv[2])
        return 0
    if len(sys.argv) >= 4 and sys.argv[1] == "verify":
        return verify(sys.argv[2], sys.argv[3], sys.argv[4:])
    if len(sys.argv) >= 4 and sys.argv[1] == "verify-journal":
        return verify_journal(sys.argv[2], sys.argv[3], sys.argv[4:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
