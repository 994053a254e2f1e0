"""Which replica fires which timers: leases on timer shards, shared out fairly among the
replicas that are alive (each renews a heartbeat). Leases keep replicas from racing for the same
timers; the firing transaction, not the lease, is what makes a timer fire only once.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pymongo.errors import DuplicateKeyError

from ticketstream.db import Database, Document
from ticketstream_sla.timers import fair_share

LEASES = "timer_leases"
REPLICAS = "timer_replicas"
NOBODY = ""
FORGET_AFTER = timedelta(hours=1)  # heartbeats of replicas gone this long are removed


class LeaseStore:
    def __init__(self, database: Database, *, replica: str, shards: int, lease: timedelta) -> None:
        self._database = database
        self._replica = replica
        self._shards = shards
        self._lease = lease

    async def hold(self, *, now: datetime) -> set[int]:
        """Renew this replica's heartbeat and shards, take free ones up to its fair share and
        give back any above it. Returns the shards it holds until `now + lease`."""
        until = now + self._lease
        await self._database[REPLICAS].update_one(
            {"_id": self._replica}, {"$set": {"until": until}}, upsert=True
        )
        live = await self._database[REPLICAS].count_documents({"until": {"$gt": now}})
        share = fair_share(self._shards, live)
        leases = {document["_id"]: document for document in await self._database[LEASES].find().to_list()}
        held = sorted(s for s, d in leases.items() if d["owner"] == self._replica and d["until"] > now)
        for shard in held[share:]:
            await self._database[LEASES].update_one(
                {"_id": shard, "owner": self._replica}, {"$set": {"owner": NOBODY, "until": now}}
            )
        mine = set(held[:share])
        if mine:
            await self._database[LEASES].update_many(
                {"_id": {"$in": sorted(mine)}, "owner": self._replica}, {"$set": {"until": until}}
            )
            # A replica that saw a lease expire may have taken it between the read and the renewal.
            renewed = await self._database[LEASES].find({"owner": self._replica}).to_list()
            mine &= {document["_id"] for document in renewed}
        for shard in range(self._shards):
            if len(mine) >= share:
                break
            lease = leases.get(shard)
            if shard in mine or (lease is not None and lease["until"] > now):
                continue
            if await self._take(shard, lease, now=now, until=until):
                mine.add(shard)
        return mine

    async def _take(self, shard: int, lease: Document | None, *, now: datetime, until: datetime) -> bool:
        if lease is None:
            try:
                await self._database[LEASES].insert_one(
                    {"_id": shard, "owner": self._replica, "until": until}
                )
            except DuplicateKeyError:  # another replica created it first
                return False
            return True
        result = await self._database[LEASES].update_one(
            {"_id": shard, "until": {"$lte": now}}, {"$set": {"owner": self._replica, "until": until}}
        )
        return result.modified_count == 1

    async def release(self, *, now: datetime) -> None:
        """Hand every shard back at shutdown so another replica takes them at once."""
        await self._database[LEASES].update_many(
            {"owner": self._replica}, {"$set": {"owner": NOBODY, "until": now}}
        )
        await self._database[REPLICAS].delete_one({"_id": self._replica})
