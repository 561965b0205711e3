"""Idle polls of many mailboxes at once, whatever their kind.

A probe is a callable without arguments that asks one mailbox whether
anything new may be there (IMAP: one STATUS per folder; Graph: one delta
request per folder; EWS: one SyncFolderItems per folder) and returns a bool.
The wait is the network's, so threads overlap the round trips.
"""

from concurrent.futures import ThreadPoolExecutor

DEFAULT_WORKERS = 16


def _guarded(probe):
    try:
        return bool(probe())
    except Exception:  # noqa: BLE001 - the full sync meets the error again and reports it properly
        return True


def poll_each(probes, workers=DEFAULT_WORKERS):
    """Run ``probes`` (callables returning a bool: something new) on up to
    ``workers`` threads; returns their answers in order, an error being True
    (the mailbox is then synced in full, which reports the error)."""
    probes = list(probes)
    if not probes:
        return []
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(probes)))) as pool:
        return list(pool.map(_guarded, probes))
