"""Waiting in tests: poll a condition with a deadline, never a blind sleep."""
import time


def eventually(condition, timeout=10.0, interval=0.01):
    """Polls condition() until it is truthy (returned) or the deadline passes (AssertionError)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s: {condition}")
        time.sleep(interval)
