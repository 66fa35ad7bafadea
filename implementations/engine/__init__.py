"""otrcheck's own OTR engine: v2 and v3, sans-IO, deterministic when seeded.

Public names are re-exported here; the ``_modules`` are private.  The
engine imports nothing of the project's except the value types of
:mod:`implementations.api`.
"""

from ._ake import AKE_TRANSITIONS, AuthInput, AuthState
from ._crypto import DsaPrivate, DsaPublic
from ._deps import Clock, Entropy, ManualClock, ScriptedEntropy, SeededEntropy, SystemClock, SystemEntropy
from ._engine import Engine
from ._smp import SMP_TRANSITIONS, SmpInput, SmpState
from ._state import MSG_TRANSITIONS, MsgInput, MsgState
from .adapter import FEATURES, EngineAdapter, private_key

__all__ = [
    "AKE_TRANSITIONS",
    "FEATURES",
    "MSG_TRANSITIONS",
    "SMP_TRANSITIONS",
    "AuthInput",
    "AuthState",
    "Clock",
    "DsaPrivate",
    "DsaPublic",
    "Engine",
    "EngineAdapter",
    "Entropy",
    "ManualClock",
    "MsgInput",
    "MsgState",
    "ScriptedEntropy",
    "SeededEntropy",
    "SmpInput",
    "SmpState",
    "SystemClock",
    "SystemEntropy",
    "private_key",
]
