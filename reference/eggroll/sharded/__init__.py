"""EGGROLL over S shards (threads, shard_map, gloo): the same numbers as one process (spec.py)."""
