"""One protocol figure on one secured session: an untimed warm-up, then one timed sample per call.

A :class:`Runner` is driven by :mod:`benchmarks.protocol`, which takes one
sample of every pair in turn, so that whatever else the machine is doing
weighs on every pair alike.  What is timed is the implementations' work
plus the thin :class:`~benchmarks.peers.Link` between them; the checks are
outside the timing, and one that fails raises :class:`CheckFailed` (the
figure becomes an error, not a number):

* AKE: both sides report msgstate ``plaintext`` before and ``encrypted``
  at the pair's version after.  An AKE that fails is not a sample and is
  retried; the note counts it, and more failures than the budget's
  repetitions make the figure an error;
* SMP: bob is asked the question, then both sides report ``success``;
* data: the receiver reports every message, encrypted and intact, and no
  error event;
* reassembly: every message was cut into several fragments and every one
  arrives whole.
"""

from __future__ import annotations

import time

from implementations.api import ErrorRaised, Event, MessageReceived, SmpUpdated

from .budget import Budget
from .model import Measurement
from .peers import Link

SECRET = "correct horse battery staple"
QUESTION = "What did we call the cat?"
REASSEMBLY_SIZE = 16384
MIN_SAMPLES = 3
_WORDS = "the quick brown fox jumps over the lazy dog while otr keeps the channel private "


class CheckFailed(Exception):
    """The timed work did not do what it should have."""


def text_of(size: int) -> str:
    """ASCII text of exactly ``size`` bytes (no NUL, no comma, nothing any peer treats specially)."""
    return (_WORDS * (size // len(_WORDS) + 1))[:size]


def states(link: Link) -> dict[str, tuple[str, int | None]]:
    out = {}
    for name in ("alice", "bob"):
        status = link.adapters[name].status(Link.other(name))
        out[name] = (status.msgstate, status.version)
    return out


def check_secure(link: Link, version: int) -> None:
    for name, (msgstate, found) in states(link).items():
        if msgstate != "encrypted" or found != version:
            raise CheckFailed(f"after the AKE {name} is {msgstate} v{found}")


def secure(link: Link, version: int) -> None:
    """Run the AKE (alice queries) and check that both sides are encrypted at ``version``."""
    link.act("alice", "query")
    check_secure(link, version)
    link.take("alice")
    link.take("bob")


def _received(events: list[Event], text: str, count: int, who: str) -> None:
    messages = [e for e in events if isinstance(e, MessageReceived)]
    errors = [f"{e.code}: {e.detail}" for e in events if isinstance(e, ErrorRaised)]
    if errors:
        raise CheckFailed(f"{who} reported errors: {errors[:3]}")
    intact = sum(1 for m in messages if m.encrypted and m.text == text)
    if intact != count or len(messages) != count:
        raise CheckFailed(f"{who} received {intact} intact of {count} messages ({len(messages)} in all)")


class Runner:
    """Base: ``warm_up`` once, ``sample`` per repetition; ``done`` once ``figure_seconds`` are spent."""

    def __init__(self, link: Link, version: int, budget: Budget) -> None:
        self.link, self.version, self.budget = link, version, budget
        self.samples: list[float] = []

    def warm_up(self) -> None:
        self.sample()
        self.samples.clear()

    def sample(self) -> None:
        raise NotImplementedError

    def spent(self) -> float:
        """Seconds of timed work so far (how each subclass's samples convert)."""
        raise NotImplementedError

    @property
    def done(self) -> bool:
        return len(self.samples) >= MIN_SAMPLES and self.spent() > self.budget.figure_seconds

    def note(self) -> str:
        return f"v{self.version}, {len(self.samples)} samples"

    def measurement(self) -> Measurement:
        return Measurement.of(self.samples, self.note())


class AkeRunner(Runner):
    """Both sides end the conversation, then alice's query is timed until both are encrypted (ms)."""

    def __init__(self, link: Link, version: int, budget: Budget) -> None:
        super().__init__(link, version, budget)
        self.failures: list[str] = []

    def sample(self) -> None:
        while True:
            if len(self.failures) > self.budget.ake_reps:
                raise CheckFailed(f"{len(self.failures)} AKEs failed: {self.failures[0]}")
            self.link.act("alice", "end")
            self.link.act("bob", "end")
            before = states(self.link)
            if any(msgstate != "plaintext" for msgstate, _ in before.values()):
                raise CheckFailed(f"ending the conversation left {before}")
            self.link.take("alice")
            self.link.take("bob")
            start = time.perf_counter()
            self.link.act("alice", "query")
            elapsed = time.perf_counter() - start
            try:
                check_secure(self.link, self.version)
            except CheckFailed as exc:
                self.failures.append(str(exc))
                continue
            self.link.take("alice")
            self.link.take("bob")
            self.samples.append(elapsed * 1e3)
            return

    def spent(self) -> float:
        return sum(self.samples) / 1e3

    def note(self) -> str:
        failed = f" ({len(self.failures)} more failed: {self.failures[0]})" if self.failures else ""
        return f"v{self.version}, {len(self.samples)} AKEs{failed}"


class SmpRunner(Runner):
    """alice starts SMP with a question, bob answers with the same secret (ms to success on both)."""

    def sample(self) -> None:
        link = self.link
        start = time.perf_counter()
        link.act("alice", "smp_start", SECRET, QUESTION)
        link.act("bob", "smp_respond", SECRET)
        elapsed = time.perf_counter() - start
        seen_a = [(e.result, e.question) for e in link.take("alice") if isinstance(e, SmpUpdated)]
        seen_b = [(e.result, e.question) for e in link.take("bob") if isinstance(e, SmpUpdated)]
        if ("ask", QUESTION) not in seen_b:
            raise CheckFailed(f"bob was not asked the question: {seen_b}")
        if not seen_a or seen_a[-1][0] != "success" or seen_b[-1][0] != "success":
            raise CheckFailed(f"SMP did not succeed on both sides: alice {seen_a}, bob {seen_b}")
        self.samples.append(elapsed * 1e3)

    def spent(self) -> float:
        return sum(self.samples) / 1e3

    def note(self) -> str:
        return f"v{self.version}, {len(self.samples)} runs"


class DataRunner(Runner):
    """A batch of ``count`` messages one way, or round trips (per second); the warm-up sizes the batch."""

    def __init__(self, link: Link, version: int, budget: Budget, mode: str, size: int, count: int) -> None:
        super().__init__(link, version, budget)
        self.mode, self.text, self.count = mode, text_of(size), count
        self.seconds = 0.0

    def warm_up(self) -> None:
        """One batch, cut short (at 3 at least) when it takes more than its share of ``figure_seconds``."""
        share = self.budget.figure_seconds / (self.budget.batches + 1)
        start = time.perf_counter()
        done = 0
        while done < self.count:
            self._one()
            done += 1
            if done >= MIN_SAMPLES and time.perf_counter() - start > share:
                break
        self.count = done
        self._check()

    def _one(self) -> None:
        self.link.act("alice", "send", self.text)
        if self.mode == "roundtrip":
            self.link.act("bob", "send", self.text)

    def _check(self) -> None:
        _received(self.link.take("bob"), self.text, self.count, "bob")
        if self.mode == "roundtrip":
            _received(self.link.take("alice"), self.text, self.count, "alice")
        else:
            self.link.take("alice")

    def sample(self) -> None:
        start = time.perf_counter()
        for _ in range(self.count):
            self._one()
        elapsed = time.perf_counter() - start
        self._check()
        self.seconds += elapsed
        self.samples.append(self.count / elapsed)

    def spent(self) -> float:
        return self.seconds

    def note(self) -> str:
        return f"v{self.version}, {len(self.samples)} batches of {self.count}"


class ReassemblyRunner(Runner):
    """bob alone takes pre-made fragments of alice's 16 KiB messages (fragments per second)."""

    def __init__(self, link: Link, version: int, budget: Budget) -> None:
        super().__init__(link, version, budget)
        self.text = text_of(REASSEMBLY_SIZE)
        self.count = budget.reassembly_messages
        self.pieces = 0
        self.seconds = 0.0

    def _make(self, cut_after: float | None = None) -> list[list[str]]:
        sender = self.link.adapters["alice"]
        start = time.perf_counter()
        messages: list[list[str]] = []
        while len(messages) < self.count:
            messages.append([o.wire for o in sender.send("bob", self.text).out])
            if cut_after is not None and time.perf_counter() - start > cut_after:
                self.count = len(messages)
        if any(len(m) < 2 for m in messages):
            raise CheckFailed("a 16 KiB message was not fragmented")
        self.pieces = len(messages[0])
        return messages

    def _take(self, messages: list[list[str]]) -> float:
        receiver = self.link.adapters["bob"]
        events: list[Event] = []
        start = time.perf_counter()
        for message in messages:
            for wire in message:
                events.extend(receiver.receive("alice", wire).events)
        elapsed = time.perf_counter() - start
        _received(events, self.text, len(messages), "bob")
        return elapsed

    def warm_up(self) -> None:
        self._take(self._make(cut_after=self.budget.figure_seconds / (self.budget.batches + 1) / 2))

    def sample(self) -> None:
        messages = self._make()
        elapsed = self._take(messages)
        self.seconds += elapsed
        self.samples.append(sum(len(m) for m in messages) / elapsed)

    def spent(self) -> float:
        return self.seconds

    def note(self) -> str:
        batches = f"{len(self.samples)} batches of {self.count} messages"
        return f"v{self.version}, {batches} of {self.pieces} fragments"
