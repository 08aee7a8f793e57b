"""M2X API version 2: the resources (devices, streams, distributions,
collections, keys, jobs, commands) and the API entry points (V2Mixin)."""
