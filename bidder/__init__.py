"""bidder: a self-hosted bid-management daemon for Wildberries internal advertising."""

__version__ = "0.1.0"
