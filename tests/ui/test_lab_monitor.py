"""The lab monitor says once when a cluster's Redis stops answering and once when it is back; the Server
tab shows why."""

from __future__ import annotations

from ui.controllers.lab_monitor import LabMonitor
from ui.controllers.scenario import ScenarioController
from ui.tabs.server_tab import ServerTab

DOWN = {"cluster": {"redis_down": "Redis at redis://127.0.0.1:1/0 does not answer (Connection refused)",
                    "redis": "redis://127.0.0.1:1/0"}}
UP = {"cluster": {"stream_length": 3, "redis_memory_bytes": 1e6, "redis_clients": 4, "redis": "redis://127.0.0.1:1/0"}}


class NoLab:
    """The Server tab's lab, never asked here."""

    def lab_address(self):
        return "", ""

    def mark_everywhere(self, text):
        pass

    async def restart_lab(self, down_s, keep_history):
        pass

    def network_faults(self):
        return []


def test_redis_down_is_said_once_and_back_once(qtbot):
    monitor = LabMonitor()
    said: list[str] = []
    monitor.redisChanged.connect(said.append)
    monitor._redis_seen([UP, UP])
    monitor._redis_seen([DOWN, UP])
    monitor._redis_seen([DOWN, DOWN])
    monitor._redis_seen([UP, UP])
    assert said == ["Redis is down: Redis at redis://127.0.0.1:1/0 does not answer (Connection refused)", ""]


def test_the_server_tab_says_why_redis_is_down(qtbot):
    tab = ServerTab(ScenarioController(NoLab()))
    qtbot.addWidget(tab)
    tab.show_workers([{"id": "w1", "port": 1, "stats": {**DOWN, "pid": 5}}, {"id": "w2", "port": 2, "stats": None}])
    assert tab.redis_line.text().startswith("Redis is down: Redis at redis://127.0.0.1:1/0 does not answer")
    tab.show_workers([{"id": "w1", "port": 1, "stats": {**UP, "pid": 5}}])
    assert tab.redis_line.text().startswith("Redis redis://127.0.0.1:1/0: stream 3 entries")
