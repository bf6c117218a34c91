"""``bidder sweep``: one parameter over a range in the simulator's market (see bidder.sweep.run)."""
