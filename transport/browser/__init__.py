"""A real Chromium over CDP: the browser, the page watcher, the browser probe and agreement."""
