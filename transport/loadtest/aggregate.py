"""The storm's proof, sans-I/O: each user's ledger in, the aggregate and the exit code out.

A worker turns each of its users' ledgers into a :class:`UserLedger` (plain data, sent to
the master as a dict); the master adds them up with :func:`aggregate`. Nothing here imports
Locust or gevent.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from transport.core.ledger import Ledger
from transport.core.percentile import percentile


@dataclass(slots=True)
class UserLedger:
    """One user's ledger at the end of the storm."""

    received: int = 0
    lost: int = 0
    duplicated: int = 0
    replayed: int = 0
    gap_declared: int = 0
    unnumbered: int = 0
    episodes: int = 0
    recovered: int = 0  # episodes that ended with live messages again
    recover_ms: list[float] = field(default_factory=list)
    opens: int = 0  # connections opened (the first and every reconnect)
    error: str = ""  # the sentence of a client that gave up

    @classmethod
    def of(cls, ledger: Ledger, opens: int = 0, error: str = "") -> UserLedger:
        return cls(received=ledger.received, lost=ledger.lost, duplicated=ledger.duplicated,
                   replayed=ledger.replayed, gap_declared=ledger.gap_declared, unnumbered=ledger.unnumbered,
                   episodes=len(ledger.episodes), recovered=sum(1 for e in ledger.episodes if e.recovered),
                   recover_ms=[e.recover_ms for e in ledger.episodes if e.recover_ms is not None],
                   opens=opens, error=error)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> UserLedger:
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in d.items() if k in known})


def aggregate(users: list[UserLedger], expected_users: int | None = None) -> dict[str, Any]:
    """The storm's ledger: totals, how many users received and recovered, and the verdict.

    ``ok`` holds when every user reported, every one received messages, and nothing was lost,
    duplicated or declared missing by the server."""
    recover = [ms for u in users for ms in u.recover_ms]
    total: dict[str, Any] = {
        "users": len(users),
        "users_expected": expected_users,
        "users_with_messages": sum(1 for u in users if u.received or u.unnumbered),
        "received": sum(u.received for u in users),
        "lost": sum(u.lost for u in users),
        "duplicated": sum(u.duplicated for u in users),
        "replayed": sum(u.replayed for u in users),
        "gap_declared": sum(u.gap_declared for u in users),
        "unnumbered": sum(u.unnumbered for u in users),
        "opens": sum(u.opens for u in users),
        "episodes": sum(u.episodes for u in users),
        "episodes_recovered": sum(u.recovered for u in users),
        "users_by_episodes": _histogram(u.episodes for u in users),
        "recover_ms_p50": percentile(sorted(recover), 0.5),
        "recover_ms_p99": percentile(sorted(recover), 0.99),
        "recover_ms_max": max(recover) if recover else None,
        "errors": _histogram(u.error for u in users if u.error),
    }
    problems = []
    if expected_users is not None and len(users) < expected_users:
        problems.append(f"{expected_users - len(users)} of {expected_users} users never reported their ledger")
    if total["users_with_messages"] < len(users):
        problems.append(f"{len(users) - total['users_with_messages']} users received no message")
    if total["lost"]:
        problems.append(f"{total['lost']} messages lost"
                        + (f" ({total['gap_declared']} in gaps the server declared)" if total["gap_declared"] else ""))
    if total["duplicated"]:
        problems.append(f"{total['duplicated']} messages duplicated")
    if total["unnumbered"] and not total["received"]:
        problems.append(f"no sequence rule: loss cannot be checked ({total['unnumbered']:,} messages without a "
                        "number; --seq says how the server numbers them)")
    if total["episodes"] > total["episodes_recovered"]:
        problems.append(f"{total['episodes'] - total['episodes_recovered']} drop episodes never recovered")
    total["ok"] = not problems and len(users) > 0
    total["verdict"] = ("; ".join(problems) if problems else
                        f"{len(users):,} users: {total['received']:,} messages, 0 lost, 0 duplicated, "
                        f"{total['episodes_recovered']:,} episodes recovered") if users else "no user reported"
    return total


def _histogram(values: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        out[str(v)] = out.get(str(v), 0) + 1
    return dict(sorted(out.items()))
