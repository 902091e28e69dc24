"""The folder broker (`make run`'s default) never shows a worker half a message.

kombu's filesystem transport creates a message's file, then writes it: a reader that takes the
file in between gets nothing, and a worker dies of it. edrv_project/broker.py renames a whole
file into place instead. Here a reader takes files as fast as it can while messages are put.
"""

import json
import threading
from pathlib import Path
from typing import Any

from kombu import Connection

from edrv_project.broker import FolderTransport
from tests.e2e.broker import filesystem_broker


def test_the_filesystem_scheme_uses_the_whole_file_transport(tmp_path: Path) -> None:
    broker = filesystem_broker(tmp_path)
    with Connection(broker.url, transport_options=broker.transport_options) as connection:
        assert isinstance(connection.transport, FolderTransport)


def test_a_reader_racing_the_writer_only_ever_reads_whole_messages(tmp_path: Path) -> None:
    broker = filesystem_broker(tmp_path)
    taken: list[bytes] = []
    done = threading.Event()

    def take_as_they_come() -> None:
        while not done.is_set() or any(tmp_path.glob("*.race.msg")):
            for message in tmp_path.glob("*.race.msg"):
                try:
                    claimed = message.rename(tmp_path / (message.name + ".taken"))
                except FileNotFoundError:
                    continue
                taken.append(claimed.read_bytes())

    reader = threading.Thread(target=take_as_they_come)
    reader.start()
    with Connection(broker.url, transport_options=broker.transport_options) as connection:
        channel: Any = connection.default_channel
        for n in range(1000):
            channel._put("race", {"body": "x" * 2000, "n": n})
    done.set()
    reader.join(30)

    assert len(taken) == 1000
    assert sorted(json.loads(body)["n"] for body in taken) == list(range(1000))
