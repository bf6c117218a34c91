"""The only code that speaks WB HTTP: client, endpoints, wire schemas, pacing, tokens, writers."""
