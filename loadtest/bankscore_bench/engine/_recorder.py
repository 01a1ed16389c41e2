"""The recorder: every completed request, judged by ab's rules, as one row of the run's ``SampleLog``.

Both cores hand each finished ``Exchange`` to ``Recorder.record``, so both report the same facts for the same
exchange. ``record`` runs once per request on the hot path: the log's appends are bound once, and nothing is
called per request that a successful request does not need.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from bankscore_bench._samples import Failure, SampleLog
from bankscore_bench.engine._http import Exchange
from bankscore_bench.engine._loadplan import LoadPlan
from bankscore_bench.engine._tickets import Tickets

__all__ = ["Recorder"]

# (response time µs, body bytes, epoch start s, reason): Locust's event for a failed request
FailureListener = Callable[[int, int, float, str], None]


class Recorder:
    """Turns exchanges into log rows; counts late sends and write errors; keeps the first response's facts."""

    def __init__(
        self,
        plan: LoadPlan,
        tickets: Tickets,
        log: SampleLog,
        requests: Sequence[bytes],
        *,
        on_failure: FailureListener,
        on_response: Callable[[Exchange], None] | None = None,
        on_progress: Callable[[int], None] | None = None,
    ) -> None:
        self.plan = plan
        self.tickets = tickets
        self.finished = tickets.finished
        self.log = log
        self.on_failure = on_failure
        self.on_response = on_response  # -v 2 and up: every response printed
        self.on_progress = on_progress
        self.progress_every = plan.progress_interval or 0
        pool = plan.payloads
        self.records = [p.records for p in pool.payloads] if pool else [0]  # records scored, per payload
        self.sent_sizes = [len(request) for request in requests]
        # The log's appends, bound once: record() appends to every column.
        self.columns = (
            log.intended_us.append, log.start_us.append, log.connect_us.append, log.wait_us.append,
            log.total_us.append, log.status.append, log.failure.append, log.bytes_read.append,
            log.body_bytes.append, log.bytes_sent.append, log.keepalive.append, log.records.append,
        )  # fmt: skip
        self.late = 0
        self.write_errors = 0
        self.document_length: int | None = None  # ab's rule: the first response's body length
        self.server_software: str | None = None
        # perf_counter ns -> epoch µs, one fixed offset for the whole run
        self.epoch_offset_ns = time.time_ns() - time.perf_counter_ns()

    def record(self, index: int, intended_ns: int, payload: int, result: Exchange) -> None:
        """Request number ``index`` (scheduled at ``intended_ns``, 0 in the closed loop), sent with payload
        number ``payload``, came back as ``result``."""
        plan = self.plan
        if index < plan.warmup:
            self.tickets.warmup_request_done()
            return
        if self.finished.is_set():
            return  # completed after the run was stopped: not part of it
        if result.write_error:
            self.write_errors += 1
        body_len = len(result.body)
        records = self.records[payload]
        status = result.status
        failure = result.failure if result.failure is not Failure.NONE else self._judge(result, body_len, records)
        if self.on_response is not None:
            self.on_response(result)
        start_ns = result.start_ns
        if intended_ns == 0:
            intended_ns = start_ns
        elif start_ns - intended_ns > plan.late_after_us * 1000:
            self.late += 1
        offset = self.epoch_offset_ns
        total_us = (result.end_ns - start_ns) // 1000
        (
            intended_us, start_us, connect_us, wait_us, total, statuses, failures, bytes_read, body_bytes,
            bytes_sent, keepalive, records_column,
        ) = self.columns  # fmt: skip
        intended_us((intended_ns + offset) // 1000)
        start_us((start_ns + offset) // 1000)
        connect_us(result.connect_ns // 1000)
        wait_us(result.wait_ns // 1000)
        total(total_us)
        statuses(status)
        failures(failure)
        bytes_read(result.bytes_read)
        body_bytes(body_len)
        bytes_sent(self.sent_sizes[payload])
        keepalive(1 if result.keepalive and plan.keepalive else 0)
        records_column(records)
        if failure is not Failure.NONE or not 200 <= status < 300:
            # A failure's reason is not in the log: its event goes now (the batched events skip it)
            self.on_failure(total_us, body_len, (start_ns + offset) / 1e9, result.reason or f"HTTP {status}")
        done = len(self.log.total_us)
        if self.progress_every and done % self.progress_every == 0 and self.on_progress is not None:
            self.on_progress(done)
        if done >= plan.requests:
            self.finished.set()

    def _judge(self, result: Exchange, body_len: int, records: int) -> Failure:
        """ab's length rule, then the response checker, for an exchange that went through."""
        plan = self.plan
        if self.document_length is None:
            self.document_length = body_len
            self.server_software = _server_software(result.server())
        elif body_len != self.document_length and not plan.accept_variable_length:
            return Failure.LENGTH
        if 200 <= result.status < 300 and plan.checker is not None:
            reason = plan.checker(bytes(result.body), records)
            if reason is not None:
                result.reason = reason
                return Failure.BAD_BODY
        return Failure.NONE


def _server_software(value: str | None) -> str:
    """ab's rule: the Server header up to its first character <= 0x20."""
    if not value:
        return ""
    for i, char in enumerate(value):
        if ord(char) <= 0x20:
            return value[:i]
    return value
