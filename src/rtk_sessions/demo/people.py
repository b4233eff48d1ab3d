"""The people of the demo app: who they are, what they join from, and their network."""

from __future__ import annotations

import random
from dataclasses import dataclass

from .catalog import DEVICE_WEIGHTS, DEVICES, PEOPLE, PUBLIC_IPS, SDK_VERSIONS
from .recorder import Recorder


@dataclass(slots=True)
class Person:
    user_id: str
    display_name: str
    custom_participant_id: str
    device: int  # index into catalog.DEVICES
    cpus: int
    memory: float | None  # GB; None where the browser hides it
    home_ip: str
    travel_ip: str  # used now and then (phone on another network, travelling)
    sdk_version: str
    network: str  # usual network: good | fair | lossy

    @property
    def is_mobile(self) -> bool:
        return DEVICES[self.device][3]


def build_people(rec: Recorder, count: int) -> list[Person]:
    """``count`` people with stable ids, devices, home IPs and usual network quality."""
    rng = rec.rng
    people = []
    for index in range(count):
        name = PEOPLE[index % len(PEOPLE)]
        if index >= len(PEOPLE):
            name = f"{name} ({index // len(PEOPLE) + 1})"
        device = rng.choices(range(len(DEVICES)), weights=DEVICE_WEIGHTS)[0]
        _, _, _, _, cpus, memory, _ = DEVICES[device]
        people.append(
            Person(
                user_id=rec.new_id(),
                display_name=name,
                custom_participant_id=_custom_id(rng, index),
                device=device,
                cpus=rng.choice(cpus),
                memory=rng.choice(memory) if memory else None,
                home_ip=rng.choice(PUBLIC_IPS),
                travel_ip=rng.choice(PUBLIC_IPS),
                sdk_version=rng.choice(SDK_VERSIONS),
                network=rng.choices(("good", "fair", "lossy"), weights=(70, 20, 10))[0],
            )
        )
    return people


def _custom_id(rng: random.Random, index: int) -> str:
    # Apps pass their own ids: employee numbers, emails, CRM contact ids.
    style = index % 3
    if style == 0:
        return f"emp-{1000 + index * 7}"
    if style == 1:
        return f"user{index}@example.com"
    return f"crm_{rng.getrandbits(40):010x}"
