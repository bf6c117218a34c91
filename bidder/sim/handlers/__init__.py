"""The simulator's endpoint handlers by group: campaigns, bids, stats, money, and the public search.
Each Promotion handler takes a :class:`~bidder.sim.handlers.base.Ctx` (authorized, rate-limited, body
decoded) and returns a response model, plain JSON data or None; errors are raised as
:class:`~bidder.sim.replies.ApiError`. The routing table is :data:`bidder.sim.app.ENDPOINTS`."""
