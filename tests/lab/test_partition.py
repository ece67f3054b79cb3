"""A node cut off from the router and from the API while its database is rescheduled elsewhere: when it comes back,
it must not announce the database's VIP from the stale view it had before the partition. Seen first in the lab's
node-down scenario, where the rejoining node's watches lagged ~10 s behind TCP's retransmission backoff while its
BGP session was back in 1-2 s, and the stale path reset the database's connections."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from dnslb_lab.lab import Lab, LabOptions

pytestmark = [pytest.mark.root, pytest.mark.timeout(300)]


def test_a_node_back_from_a_partition_does_not_announce_an_endpoint_that_moved_away(tmp_path: Path) -> None:
    lab = Lab(LabOptions(nodes=2, logs=tmp_path), say=lambda text: None)
    lab.start()
    try:
        lab.create_services()
        database, ingress = lab.vips["db"], lab.vips["ingress-nginx"]
        assert lab.database_node == "node1" and lab.paths(database) == {"node1"}

        lab.cut("node1")  # its speaker, in the node's namespace, loses the router and the API alike
        assert lab.wait(lambda: lab.paths(database) == set(), 15.0), "the hold timer should withdraw node1's path"
        lab.set_ready("node1", False)
        lab.start_database("node2")  # rescheduled while node1 cannot see it
        assert lab.wait(lab.paths_are(database, {"node2"}), 15.0)
        time.sleep(20.0)  # long enough for TCP's retransmission backoff on node1's watches to outgrow BGP's reconnect

        lab.restore("node1")
        lab.set_ready("node1", True)
        seen: set[str] = set()
        deadline = time.monotonic() + 15.0
        while time.monotonic() < deadline:
            seen |= lab.paths(database)
            time.sleep(0.02)
        assert "node1" in lab.paths(ingress), "node1 should be back for its Cluster Service"
        assert seen == {"node2"}, "node1 announced the database it no longer runs"
    finally:
        lab.close()
