"""Feed clients for the (l) benchmark: many long-polling consumers in one asyncio process.

`python -m bench.feed_client <port> <file of API keys>` reads commands on stdin, one JSON object a
line, and answers each with one JSON line on stdout:

- `{"open": N, "after": "<event id>"}`: N more clients, each with its own API key (the file's lines,
  in order) and on its own keep-alive connection, in a loop as a consumer runs:
  `GET /api/v1/events/feed?wait=30&after=<event id>`, then again at once with `after=<next>`,
  whatever the answer. Answered once every one of them has sent its first request: `{"clients": N}`.
- `{"stats": true}`: `{"clients", "waiting" (a request sent, no answer yet), "errors" (by kind),
  "received" (clients that have received an event)}`.
- `{"receipts": true}`: `{"receipts": [...]}`, when each of those received its first (wall clock).
- `{"reset": true}`: forget who received what; answers `{"reset": true}`.
- `{"close": true}`: every connection closed; answers `{"closed": N}`.

Bare asyncio streams and a minimal HTTP/1.1 parser (uvicorn answers with Content-Length): the
clients cost this process little, so that the server's figures are the server's.
"""

import asyncio
import json
import sys
import time
from collections import Counter
from pathlib import Path

WAIT = 30
# A request unanswered for this much longer than its wait counts as timed out.
GRACE = 60
CONNECT_BATCH = 200  # connections opened at once: the server's listen backlog is 2048


class Clients:
    def __init__(self, port: int, keys: list[str]) -> None:
        self.port, self.keys = port, keys
        self.tasks: list[asyncio.Task[None]] = []
        self.waiting = 0
        self.errors: Counter[str] = Counter()
        self.first_receipts: dict[int, float] = {}

    def request(self, number: int, after: str) -> bytes:
        return (
            f"GET /api/v1/events/feed?wait={WAIT}&after={after} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {self.keys[number]}\r\n\r\n"
        ).encode()

    async def consumer(self, number: int, after: str, started: asyncio.Event) -> None:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        except OSError as exc:
            self.errors[f"connect: {type(exc).__name__}"] += 1
            started.set()
            return
        try:
            while True:
                writer.write(self.request(number, after))
                await writer.drain()
                self.waiting += 1
                started.set()
                try:
                    status, body = await asyncio.wait_for(self.response(reader), WAIT + GRACE)
                finally:
                    self.waiting -= 1
                if status != 200:
                    self.errors[f"status {status}"] += 1
                    await asyncio.sleep(1)
                    continue
                answer = json.loads(body)
                if answer["events"] and number not in self.first_receipts:
                    self.first_receipts[number] = time.time()
                after = answer["next"]
        except TimeoutError:
            self.errors[f"no answer within wait + {GRACE} s"] += 1
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            self.errors[f"connection: {type(exc).__name__}"] += 1
        finally:
            writer.close()

    @staticmethod
    async def response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        lengths = [line.split(":", 1)[1] for line in lines if line.lower().startswith("content-length:")]
        return status, await reader.readexactly(int(lengths[0]))

    async def open(self, count: int, after: str) -> int:
        for start in range(0, count, CONNECT_BATCH):
            batch = []
            for number in range(len(self.tasks), len(self.tasks) + min(CONNECT_BATCH, count - start)):
                started = asyncio.Event()
                self.tasks.append(asyncio.create_task(self.consumer(number, after, started)))
                batch.append(started.wait())
            await asyncio.gather(*batch)
        return len(self.tasks)

    def stats(self) -> dict[str, object]:
        return {
            "clients": len(self.tasks),
            "waiting": self.waiting,
            "errors": dict(self.errors),
            "received": len(self.first_receipts),
        }

    async def close(self) -> int:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        closed, self.tasks = len(self.tasks), []
        self.first_receipts.clear()
        self.errors.clear()
        return closed


async def main(port: int, keys: list[str]) -> None:
    clients = Clients(port, keys)
    loop = asyncio.get_running_loop()
    while line := await loop.run_in_executor(None, sys.stdin.readline):
        command = json.loads(line)
        if "open" in command:
            answer: dict[str, object] = {
                "clients": await clients.open(int(command["open"]), command["after"])
            }
        elif "stats" in command:
            answer = clients.stats()
        elif "receipts" in command:
            answer = {"receipts": list(clients.first_receipts.values())}
        elif "reset" in command:
            clients.first_receipts.clear()
            answer = {"reset": True}
        else:
            answer = {"closed": await clients.close()}
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), Path(sys.argv[2]).read_text().split()))
