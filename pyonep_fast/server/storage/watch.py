"""Watchers: callbacks waiting for changes (RPC `wait`, the HTTP Data
Interface's long poll), woken after the commit that made the change durable.

Keys are opaque to storage: each API watches what it names (One Platform
watches resource ids). `wake(key, payload)` during a change queues a wake-up
only when someone watches the key; Storage.commit() takes the queue and
delivers it in the event loop thread once the change is committed.
"""


class Watchers:
    def __init__(self):
        self._callbacks = {}     # key -> [callback(payload)]
        self.pending = []        # (key, payload) waiting for the commit

    def watch(self, key, callback):
        """callback(payload) runs (in the loop thread, after the commit) for
        every wake of key; returns a function that stops watching."""
        callbacks = self._callbacks.setdefault(key, [])
        callbacks.append(callback)

        def cancel():
            if callback in callbacks:
                callbacks.remove(callback)
            if not callbacks and self._callbacks.get(key) is callbacks:
                del self._callbacks[key]
        return cancel

    def watching(self, key):
        return bool(self._callbacks.get(key))

    def wake(self, key, payload):
        if key in self._callbacks:
            self.pending.append((key, payload))

    def forget(self, key):
        """Drops the watchers of a key that no longer exists (they time out)."""
        self._callbacks.pop(key, None)

    def take(self):
        pending, self.pending = self.pending, []
        return pending

    def deliver(self, wakes):
        for key, payload in wakes:
            for callback in list(self._callbacks.get(key, ())):
                callback(payload)
