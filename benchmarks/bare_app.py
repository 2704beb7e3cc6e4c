"""The bare baseline of ``event_logging.py``: a tiny Flask app doing one INSERT per
request on the same PostgreSQL database (``BARE_DATABASE_URL``), under gunicorn.

    gunicorn --chdir benchmarks bare_app:app
"""

from __future__ import annotations

import os

import psycopg
from flask import Flask, jsonify, request

app = Flask(__name__)
_connection: psycopg.Connection | None = None


def connection() -> psycopg.Connection:
    global _connection
    if _connection is None or _connection.closed:
        _connection = psycopg.connect(os.environ["BARE_DATABASE_URL"])
    return _connection


@app.post("/event")
def event():
    body = request.get_json()
    conn = connection()
    with conn.transaction():
        row = conn.execute("INSERT INTO bench_event (batch_id, notes) VALUES (%s, %s) "
                           "RETURNING id", (body["batch_id"], body["notes"])).fetchone()
    return jsonify(id=row[0]), 201


@app.get("/health")
def health():
    return "ok"
