"""Replay: a config's strategies and guardrails over the inputs recorded at each past evaluation
(:mod:`bidder.replay.core`), run by :mod:`bidder.replay.run`, summed up by :mod:`bidder.replay.report`."""
