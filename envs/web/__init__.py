"""Web tasks: a local shop on a real HTTP server, and MiniWoB++ in headless Chromium."""
