"""The keeper's channel to a worker carries the root key as raw bytes into buffers that are wiped after use, and a
server process forbids core dumps of itself."""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator

import pytest

from strongroom.cluster.control import Channel, ChannelClosed, StateMessage, state_message
from strongroom.cluster.worker import _follow_one
from strongroom.core.seal.state import Leadership

ROOT_KEY = bytes(range(1, 33))


@pytest.fixture
async def pair() -> AsyncIterator[tuple[Channel, Channel]]:
    keeper, worker = socket.socketpair()
    channels = await Channel.open(keeper), await Channel.open(worker)
    yield channels
    for channel in channels:
        channel.close()


@pytest.mark.anyio
async def test_the_root_key_travels_as_raw_bytes_outside_the_json_header() -> None:
    ours, theirs = socket.socketpair()
    channel = await Channel.open(ours)
    await channel.send_state(state_message(7, ROOT_KEY))
    frame = theirs.recv(4096)
    header_length, key_length = int.from_bytes(frame[:4], "big"), int.from_bytes(frame[4:8], "big")
    header, key = frame[8 : 8 + header_length], frame[8 + header_length :]
    assert (key_length, key) == (32, ROOT_KEY)
    assert json.loads(header) == {"seq": 7, "sealed": False, "leadership": Leadership().to_json()}
    assert base64.b64encode(ROOT_KEY) not in frame
    channel.close()
    theirs.close()


@pytest.mark.anyio
async def test_a_worker_learns_its_nodes_place_in_the_cluster(pair: tuple[Channel, Channel]) -> None:
    keeper, worker = pair
    standby = Leadership(active=False, leader_address="http://10.0.0.1:8200")
    await keeper.send_state(state_message(3, ROOT_KEY, standby))
    received = await worker.receive_state()
    assert (received.seq, received.root_key, received.leadership) == (3, bytearray(ROOT_KEY), standby)


@pytest.mark.anyio
async def test_a_state_message_owns_a_copy_of_the_key_and_wipes_it(pair: tuple[Channel, Channel]) -> None:
    keepers_key = bytearray(ROOT_KEY)
    message = state_message(1, keepers_key)
    assert message.root_key == keepers_key and message.root_key is not keepers_key
    keeper, worker = pair
    await keeper.send_state(message)
    message.wipe()
    assert message.root_key == bytearray(32) and keepers_key == ROOT_KEY

    received = await worker.receive_state()
    assert received.seq == 1 and isinstance(received.root_key, bytearray) and received.root_key == ROOT_KEY
    received.wipe()
    assert received.root_key == bytearray(32)

    await keeper.send_state(state_message(2, None))
    assert await worker.receive_state() == StateMessage(2, None)


@pytest.mark.anyio
async def test_acks_carry_no_key_and_a_closed_end_is_reported(pair: tuple[Channel, Channel]) -> None:
    keeper, worker = pair
    await worker.send({"ack": 3})
    assert await keeper.receive() == {"ack": 3}
    await worker.send_state(state_message(4, ROOT_KEY))
    with pytest.raises(ChannelClosed, match="unexpected key bytes"):
        await keeper.receive()
    worker.close()
    with pytest.raises(ChannelClosed):
        await keeper.receive()


class FollowingCore:
    """A worker's core, as `_follow_one` sees it: keeps the very buffer it was handed, and what it held then."""

    def __init__(self) -> None:
        self.handed: bytearray | None = None
        self.held = b""

    async def follow(self, root_key: bytearray | None, leadership: Leadership | None = None) -> None:
        self.handed = root_key
        self.held = bytes(root_key or b"")


@pytest.mark.anyio
async def test_a_worker_wipes_the_key_it_received_once_it_has_followed(pair: tuple[Channel, Channel]) -> None:
    keeper, worker = pair
    await keeper.send_state(state_message(5, ROOT_KEY))
    core = FollowingCore()
    await _follow_one(core, worker)  # type: ignore[arg-type]
    assert core.held == ROOT_KEY and core.handed == bytearray(32)
    assert await keeper.receive() == {"ack": 5}


def test_a_server_process_forbids_core_dumps_of_itself() -> None:
    probe = (
        "import ctypes, resource\n"
        "from strongroom.memory import forbid_core_dumps\n"
        "forbid_core_dumps()\n"
        "print(resource.getrlimit(resource.RLIMIT_CORE)[0], ctypes.CDLL(None).prctl(3, 0, 0, 0, 0))\n"  # GET_DUMPABLE
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    answer = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True)
    assert answer.stdout.split() == ["0", "0"]
