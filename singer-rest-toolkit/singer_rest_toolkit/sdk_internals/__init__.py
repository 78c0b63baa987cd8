"""Every use of a private SDK, requests or threading name, by purpose: each where the public
API has no hook, each compared with the SDK's own output (tests/test_sdk_equivalence.py) at the
lowest and highest singer-sdk allowed (``make test-sdk-range``). Check them on every upgrade."""
