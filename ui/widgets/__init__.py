"""Widgets: they lay out and bind; logic lives in ui.controllers."""
