"""Baseline for the event pipeline: raw pika, no database at all.

The publisher (this process) sends persistent messages of the pipeline's payload size to a
durable queue with publisher confirms (pika's BlockingConnection: each publish waits for its
confirm); a separate consumer process (``python -m bench.rawmq consume``) takes them with manual
acks and the same prefetch as Rapport's consumers, and records when each arrived.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pika

from bench.stats import percentile


def _params(url: str) -> pika.URLParameters:
    return pika.URLParameters(url)


def consume(url: str, queue: str, count: int, prefetch: int, out: str) -> None:
    connection = pika.BlockingConnection(_params(url))
    channel = connection.channel()
    channel.queue_declare(queue, durable=True)
    channel.basic_qos(prefetch_count=prefetch)
    received: list[tuple[float, float]] = []

    def on_message(ch, method, properties, body) -> None:
        sent = float(properties.headers["sent"])
        received.append((sent, time.time()))
        ch.basic_ack(method.delivery_tag)
        if len(received) >= count:
            ch.stop_consuming()

    channel.basic_consume(queue, on_message, auto_ack=False)
    Path(out + ".ready").write_text("ready")
    channel.start_consuming()
    connection.close()
    Path(out).write_text(json.dumps(received))


def _start_consumer(url: str, queue: str, count: int, prefetch: int, workdir: Path):
    out = workdir / f"{queue}.json"
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.rawmq", "consume", url, queue, str(count), str(prefetch), str(out)]
    )
    deadline = time.monotonic() + 30
    while not Path(str(out) + ".ready").exists():
        if time.monotonic() > deadline or process.poll() is not None:
            process.kill()
            raise RuntimeError("baseline consumer did not start")
        time.sleep(0.05)
    return process, out


def _publisher(url: str, queue: str):
    connection = pika.BlockingConnection(_params(url))
    channel = connection.channel()
    channel.queue_declare(queue, durable=True)
    channel.confirm_delivery()
    return connection, channel


def _publish(channel, queue: str, body: bytes) -> None:
    channel.basic_publish(
        "", queue, body,
        properties=pika.BasicProperties(delivery_mode=2, content_type="application/json",
                                        message_id=str(uuid.uuid4()), headers={"sent": repr(time.time())}),
        mandatory=True,
    )  # fmt: skip


def _finish(process, out: Path, timeout: float) -> list[tuple[float, float]]:
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        return []
    return json.loads(out.read_text()) if out.exists() else []


def run_burst(url: str, count: int, payload_bytes: int, prefetch: int, workdir: Path) -> dict:
    queue = f"bench.raw.{uuid.uuid4().hex[:8]}"
    connection, channel = _publisher(url, queue)
    process, out = _start_consumer(url, queue, count, prefetch, workdir)
    body = b"x" * payload_bytes
    started = time.time()
    try:
        for _ in range(count):
            _publish(channel, queue, body)
        published = time.time()
        received = _finish(process, out, 300)
    finally:
        channel.queue_delete(queue)
        connection.close()
    end = max((r for _, r in received), default=time.time())
    elapsed = max(end - started, 1e-6)
    return {
        "events": count, "received": len(received), "seconds": round(elapsed, 3),
        "events_per_s": round(len(received) / elapsed, 1),
        "publish_per_s": round(count / max(published - started, 1e-6), 1),
    }  # fmt: skip


def run_paced(url: str, rate: float, duration: float, payload_bytes: int, prefetch: int, workdir: Path) -> dict:
    queue = f"bench.raw.{uuid.uuid4().hex[:8]}"
    total = max(1, int(rate * duration))
    connection, channel = _publisher(url, queue)
    process, out = _start_consumer(url, queue, total, prefetch, workdir)
    body = b"x" * payload_bytes
    try:
        start = time.monotonic()
        for i in range(total):
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            _publish(channel, queue, body)
        received = _finish(process, out, 120)
    finally:
        channel.queue_delete(queue)
        connection.close()
    latencies = sorted((r - s) * 1000 for s, r in received)
    return {
        "rate": round(rate, 1), "events": total, "recorded": len(latencies),
        "p50_ms": percentile(latencies, 50), "p99_ms": percentile(latencies, 99),
    }  # fmt: skip


if __name__ == "__main__" and sys.argv[1] == "consume":
    consume(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), sys.argv[6])
