"""The planted drift: noise_reuse = 0 read as "fresh noise every epoch" (a known misreading of the spec)."""

import dataclasses
import types

from .eggroll import EGGROLL


class DriftedEGGROLL(EGGROLL):
    def thread_noise(self, key, epoch, thread_id, shape, role):
        as_fresh = types.SimpleNamespace(cfg=dataclasses.replace(self.cfg, noise_reuse=self.cfg.noise_reuse or 1))
        return EGGROLL.thread_noise(as_fresh, key, epoch, thread_id, shape, role)
