"""Every use of a private SDK, requests or threading name, in one package, by purpose.

Each piece is here because the public API has no hook for it; each has a test comparing its
output with the SDK's own (this package's tests/test_sdk_equivalence.py), run at the lowest and the highest
singer-sdk version this package allows (``make test-sdk-range``). Check these modules first
on every SDK upgrade.
"""
