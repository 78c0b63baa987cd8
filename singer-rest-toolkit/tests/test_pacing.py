"""The pace of an API family: requests released together do not leave together."""

from __future__ import annotations

import threading
import time

from singer_rest_toolkit.pacing import BURST, Pacer


def test_requests_released_together_leave_spread_over_the_second() -> None:
    rate, workers = 50, 10
    pacer = Pacer(rate)
    released: list[float] = []
    start = threading.Barrier(workers, action=lambda: released.append(time.monotonic()))
    sent: list[float] = []

    def send() -> None:
        start.wait()
        pacer.wait()
        sent.append(time.monotonic())

    threads = [threading.Thread(target=send) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(sent) == workers
    # Within the limit (10 of 50 a second), yet at most BURST times the rate: a burst of ten
    # takes nine spacings after the release, where an unspread limiter lets all ten go at once.
    assert max(sent) - released[0] >= (workers - 1) / (BURST * rate)
