"""No two visible sibling widgets overlap, on every tab and every page of a tab's side panel, at the
window's minimum size (not above 900×600) and at 1600×1000."""

from __future__ import annotations

import itertools

import pytest
from PySide6.QtCore import QSettings, QSize, Qt
from PySide6.QtWidgets import QApplication, QTabWidget, QWidget

from ui.main_window import MainWindow


def overlapping(root: QWidget) -> list[str]:
    found = []
    for parent in [root, *root.findChildren(QWidget)]:
        if not parent.isVisible():
            continue
        kids = [c for c in parent.children() if isinstance(c, QWidget) and c.isVisible() and not c.isWindow()]
        for a, b in itertools.combinations(kids, 2):
            both = a.geometry().intersected(b.geometry())
            if both.width() > 1 and both.height() > 1:
                found.append(f"in {type(parent).__name__}: {type(a).__name__} {a.geometry().getRect()} and "
                             f"{type(b).__name__} {b.geometry().getRect()}")
    return found


def every_page(win: MainWindow):
    """Each main tab, and within it each page of every side-panel tab widget."""
    for i in range(win.tabs.count()):
        win.tabs.setCurrentIndex(i)
        QApplication.processEvents()
        inner = [t for t in win.tabs.currentWidget().findChildren(QTabWidget) if t.isVisible()]
        if not inner:
            yield win.tabs.tabText(i)
        for tabs in inner:
            for j in range(tabs.count()):
                tabs.setCurrentIndex(j)
                QApplication.processEvents()
                yield f"{win.tabs.tabText(i)} / {tabs.tabText(j)}"


@pytest.fixture(params=[("minimum", "light"), ("minimum", "dark"), ((1600, 1000), "light"), ((1600, 1000), "dark")],
                ids=["minimum-light", "minimum-dark", "1600x1000-light", "1600x1000-dark"])
def shown(request, qtbot, tmp_path) -> MainWindow:
    """The window in one theme, shown at its minimum size (never above 900×600) or at 1600×1000."""
    size, mode = request.param
    settings = QSettings(str(tmp_path / "duplex.ini"), QSettings.Format.IniFormat)
    settings.setValue("view/theme", mode)
    win = MainWindow(rate=5, start_lab=False, settings=settings)
    qtbot.addWidget(win)
    smallest = win.minimumSize()
    assert smallest.width() <= 900 and smallest.height() <= 600
    win.resize(smallest if size == "minimum" else QSize(*size))
    win.show()
    qtbot.waitExposed(win)
    return win


def test_no_visible_siblings_overlap_on_any_page(shown):
    win = shown
    problems = []
    for page in every_page(win):
        QApplication.processEvents()
        problems += [f"{page}: {p}" for p in overlapping(win)]
    assert not problems, "\n".join(problems)


def test_every_table_header_says_what_its_column_holds(qtbot, tmp_path):
    from PySide6.QtWidgets import QTableView, QTableWidget

    settings = QSettings(str(tmp_path / "duplex.ini"), QSettings.Format.IniFormat)
    win = MainWindow(rate=5, start_lab=False, settings=settings)
    qtbot.addWidget(win)
    missing = []
    for table in win.findChildren(QTableView):
        model = table.model()
        for col in range(model.columnCount()):
            if isinstance(table, QTableWidget):
                item = table.horizontalHeaderItem(col)
                tip = item.toolTip() if item is not None else ""
            else:
                tip = model.headerData(col, Qt.Orientation.Horizontal, Qt.ItemDataRole.ToolTipRole)
            if not tip:
                missing.append(f"{table.objectName() or type(table.parent()).__name__}: "
                               f"{model.headerData(col, Qt.Orientation.Horizontal)}")
    assert not missing, missing


SIZED = ("QLabel", "QPushButton", "QComboBox", "QLineEdit", "QCheckBox", "QSpinBox", "QDoubleSpinBox")


def clipped(root: QWidget) -> list[str]:
    """Widgets squashed below what they need to show themselves, and text cut without a tooltip that says it
    whole (a label that elides must carry its whole sentence in the tooltip)."""
    from PySide6.QtWidgets import QAbstractScrollArea, QAbstractSpinBox, QComboBox, QLabel

    found = []
    for w in root.findChildren(QWidget):
        if not w.isVisible() or w.isWindow() or type(w).__name__ not in SIZED:
            continue
        if any(isinstance(p, (QAbstractScrollArea, QAbstractSpinBox, QComboBox)) for p in _ancestors(w, root)):
            continue  # inside a table or a scroll area (it scrolls), or a spin box's or combo box's own editor
        need = w.minimumSizeHint()
        name = f"{type(w).__name__} {getattr(w, 'text', lambda: '')()!r}"[:90]
        if w.height() < need.height() - 2:
            found.append(f"{name} is {w.height()} px high, needs {need.height()}")
        rich = isinstance(w, QLabel) and (w.textFormat() == Qt.TextFormat.RichText or (
            w.textFormat() == Qt.TextFormat.AutoText and "<" in w.text()))
        if isinstance(w, QLabel) and not w.wordWrap() and not rich:
            text = w.text()
            lines = text.splitlines() or [""]
            wide = max(w.fontMetrics().horizontalAdvance(line) for line in lines)
            if text and wide > w.contentsRect().width() + 2 and text not in w.toolTip():
                found.append(f"{name} is cut ({w.contentsRect().width()} of {wide} px) without its whole text in "
                             "the tooltip")
    return found


def _ancestors(w: QWidget, root: QWidget):
    p = w.parentWidget()
    while p is not None and p is not root:
        yield p
        p = p.parentWidget()


def test_nothing_is_squashed_or_cut_without_a_tooltip_on_any_page(shown):
    win = shown
    problems = []
    for page in every_page(win):
        QApplication.processEvents()
        problems += [f"{page}: {p}" for p in clipped(win) + cut_headers(win)]
    assert not problems, "\n".join(sorted(set(problems)))
    ajax = win.ajax_tab.compare  # a table of fixed rows shows every one of them
    last = ajax.visualRect(ajax.model().index(ajax.rowCount() - 1, 0))
    assert ajax.viewport().rect().contains(last), (last.getRect(), ajax.viewport().rect().getRect())


def cut_headers(root: QWidget) -> list[str]:
    """A column narrower than its own header's text (the header is cut: "recover m")."""
    from PySide6.QtWidgets import QTableView

    found = []
    for table in root.findChildren(QTableView):
        if not table.isVisible():
            continue
        header = table.horizontalHeader()
        for col in range(header.count()):
            if header.isSectionHidden(col):
                continue
            title = table.model().headerData(col, Qt.Orientation.Horizontal)
            need = header.fontMetrics().horizontalAdvance(str(title)) + 6
            if header.sectionSize(col) < need:
                found.append(f"the column {title!r} is {header.sectionSize(col)} px, its header needs {need}")
    return found
