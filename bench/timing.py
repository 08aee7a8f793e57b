"""Timing shared by the benchmark scripts."""
import time


def best(function, repeat):
    """The fastest of `repeat` wall-clock runs of function(), in seconds."""
    fastest = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        fastest = min(fastest, time.perf_counter() - start)
    return fastest
