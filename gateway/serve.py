"""`python -m gateway run` in one process: start the gateway, announce it, stop it on a signal."""

from __future__ import annotations

import asyncio
import logging
import signal

from gateway.app import Gateway
from gateway.config import Settings
from gateway.gc_tuning import tune_for_service
from gateway.switch_interval import shorten_switch_interval

log = logging.getLogger(__name__)


async def serve(settings: Settings) -> None:
    """Run until SIGINT/SIGTERM; a second signal forces exit."""
    gateway = Gateway(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = 0

    def on_signal() -> None:
        nonlocal signals
        signals += 1
        if signals > 1:
            log.warning("second signal: exiting now")
            raise SystemExit(1)
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)
    try:
        await gateway.start()
    except BaseException:
        await gateway.stop()
        raise
    tune_for_service()
    shorten_switch_interval()
    if not settings.worker:  # the supervisor announces its workers once
        _announce(gateway)
    await stop.wait()
    log.info("shutting down")
    await gateway.stop()


def _announce(gateway: Gateway) -> None:
    s = gateway.settings
    lines = [
        f"gateway ready: REST on http://{s.http_host}:{s.http_port} (docs at /docs)",
        f"store: {s.database_url.split('@')[-1]}",
    ]
    if gateway.simulator is not None:
        lines.append(
            f"upstream: built-in SMSC simulator on {s.simulator_host}:{gateway.simulator.port}"
        )
    if gateway.smpp_server is not None:
        lines.append(f"SMPP server on {s.smpp_host}:{gateway.smpp_port}")
    if gateway.demo_key is not None:
        lines.append(f"demo account API key: {gateway.demo_key}")
    if gateway.demo_smpp_password is not None:
        lines.append(f"demo SMPP bind: system_id=demo password={gateway.demo_smpp_password}")
    print("\n".join(lines), flush=True)
