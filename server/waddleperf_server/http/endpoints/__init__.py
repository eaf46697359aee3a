"""The Flask blueprints and views: /echo and /ip, LibreSpeed, responsiveness, /health, /stats."""
