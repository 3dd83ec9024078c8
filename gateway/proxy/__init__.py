"""The pure-ASGI completion proxy, in the order a request meets it.

`endpoint` (ASGI, errors mapped once) → `protocol` (the request understood) → `route` (one routing decision) →
`exchange` (the coordinator) → `upstream_call` (which backend, failover) and `relay` (the answer to the client).
"""
