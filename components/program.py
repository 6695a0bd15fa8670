"""What a program of these components calls once, after creating them: `start_registrations()`.

Without it the Python SDK's wait at the end of a program is quadratic in the program's outputs.
pulumi 3.260 (`runtime/stack.py`, `wait_for_rpcs`; the same in 3.272): a synchronous program
returns before any registration's RPC has started (each is a task scheduled, not yet run), so the
list of RPCs the SDK waits on first is empty, and it waits on every pending Output instead, with
`asyncio.wait(FIRST_COMPLETED)` again after each completion, each call visiting every pending
Output (python/cpython#74741). An async entrypoint (`pulumi.run`, the SDK's own) that yields once
lets every registration start first; the SDK then awaits them one by one. Measured live
(100 networks, 100 workloads, one `pulumi up`): 1,166 waits visiting 720,176 pending Outputs
before, 510 visiting 510 after (docs/performance.md "The program's wait for the engine").
"""

from __future__ import annotations

import asyncio

import pulumi


async def _yield_once() -> None:
    await asyncio.sleep(0)  # the event loop runs every scheduled registration up to its RPC


def start_registrations() -> None:
    """Register the program's async entrypoint (`pulumi.run` may be called once per program: a
    program that has its own entrypoint awaits `asyncio.sleep(0)` in it instead)."""
    pulumi.run(_yield_once)
