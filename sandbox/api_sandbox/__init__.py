"""Local stand-ins for the Amilia, Amperity and Agyle Time APIs.

One aiohttp server serves all three vendors side by side, each under its own path
prefix, with deterministic synthetic data and on-demand latency, rate limits and faults.
"""

from api_sandbox.settings import SandboxSettings

__all__ = ["SandboxSettings"]
