"""A lossy, slow link the test controls: a UDP pipe between the two ends of the page's
call. The kernel here has no ``netem`` (``tc qdisc add ... netem`` answers "Specified
qdisc kind is unknown"), so the impairment is done in user space instead: the page gives
each peer connection only one remote candidate, a port of this pipe, which forwards every
datagram to the other end after ``delay_ms``, except the ``loss`` share it drops, chosen
at random per datagram and direction. Media, RTCP, STUN and DTLS all cross it."""

from __future__ import annotations

import asyncio
import random
import socket
import threading
from dataclasses import dataclass, field


def host_address() -> str:
    """This machine's address on its default route (Chromium gathers candidates there,
    not on loopback)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("10.255.255.255", 9))  # no packet is sent: only a route is chosen
        return probe.getsockname()[0]


@dataclass
class Counts:
    forwarded: int = 0
    dropped: int = 0


@dataclass
class UdpPipe:
    """Two ports: ``to_a`` (where B sends, standing for A) and ``to_b`` (where A sends).
    Each end's address is learned from the first datagram it sends."""

    loss: float
    delay_ms: float
    seed: int = 7
    ip: str = field(default_factory=host_address)
    counts: dict[str, Counts] = field(default_factory=lambda: {"a->b": Counts(), "b->a": Counts()})

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)
        self._ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        self._ready.wait(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._open())
        self._ready.set()
        self._loop.run_forever()

    async def _open(self) -> None:
        self.address: dict[str, tuple[str, int] | None] = {"a": None, "b": None}
        loop = self._loop
        self._a_side, _ = await loop.create_datagram_endpoint(
            lambda: _Side(self, "a"), local_addr=(self.ip, 0)
        )  # A talks to this one: it stands for B
        self._b_side, _ = await loop.create_datagram_endpoint(
            lambda: _Side(self, "b"), local_addr=(self.ip, 0)
        )
        self.to_b = self._a_side.get_extra_info("sockname")[1]
        self.to_a = self._b_side.get_extra_info("sockname")[1]

    def carry(self, sender: str, data: bytes, source: tuple[str, int]) -> None:
        self.address[sender] = source
        other = "b" if sender == "a" else "a"
        counts = self.counts[f"{sender}->{other}"]
        target = self.address[other]
        if target is None or self._random.random() < self.loss:
            counts.dropped += 1
            return
        counts.forwarded += 1
        out = self._b_side if other == "b" else self._a_side
        self._loop.call_later(self.delay_ms / 1000, out.sendto, data, target)

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)


class _Side(asyncio.DatagramProtocol):
    def __init__(self, pipe: UdpPipe, sender: str) -> None:
        self.pipe, self.sender = pipe, sender

    def datagram_received(self, data: bytes, addr) -> None:  # type: ignore[no-untyped-def]
        self.pipe.carry(self.sender, data, addr)
