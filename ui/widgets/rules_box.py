"""How a server that is not the lab numbers its messages and resumes: the connection's sequence and resume
rules (transport/core/sequence.py), beside the ledger they feed. The lab's own envelope numbers its feed; these
matter for every other server."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QGridLayout, QLabel, QWidget

SEQ_PRESETS = ("auto", "none", "id", "/seq", "/data/seq", r"re:#(\d+)")
RESUME_PRESETS = ("auto", "none", "last-event-id", "query:after", 'message:{"resume": {seq}}')


def _combo(presets: tuple[str, ...], tip: str) -> QComboBox:
    """An editable box offering ``presets`` (any other spec can be typed)."""
    box = QComboBox(editable=True)
    box.addItems(list(presets))
    box.setMinimumContentsLength(6)
    box.setToolTip(tip)
    return box


class RulesBox(QWidget):
    def __init__(self, parent: QWidget | None = None, *, resume: bool = True) -> None:
        super().__init__(parent)
        self.seq_rule = _combo(SEQ_PRESETS, (
            "How a server that is not the lab numbers its messages (the lab's envelope numbers its own): auto "
            "(an SSE server's integer event ids; none elsewhere); none; id (the SSE event id); a JSON pointer "
            "like /seq or /data/offset (Socket.IO: into the first argument); re:PATTERN (its first group)"))
        self.resume_rule = _combo(RESUME_PRESETS, (
            "How a reconnect asks a server that is not the lab for what it missed: auto (SSE: Last-Event-ID, as "
            "a browser; none elsewhere); none; last-event-id; query:NAME (NAME=<last seq> in your URL); "
            "message:TEMPLATE (sent first after each reconnect, {seq} replaced; Socket.IO: EVENT JSON-ARGS)"))
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.addWidget(QLabel("Numbered by"), 0, 0)
        grid.addWidget(self.seq_rule, 0, 1)
        self._resume_label = QLabel("Resumed by")
        grid.addWidget(self._resume_label, 1, 0)
        grid.addWidget(self.resume_rule, 1, 1)
        grid.setColumnStretch(1, 1)
        self._resume_label.setVisible(resume)
        self.resume_rule.setVisible(resume)

    def rules(self) -> dict[str, str]:
        """The rules as typed ("auto" when empty); the client's options check them."""
        return {"seq_rule": self.seq_rule.currentText().strip() or "auto",
                "resume_rule": self.resume_rule.currentText().strip() or "auto"}

    def set_rules(self, seq_rule: str, resume_rule: str) -> None:
        self.seq_rule.setCurrentText(seq_rule)
        self.resume_rule.setCurrentText(resume_rule)
