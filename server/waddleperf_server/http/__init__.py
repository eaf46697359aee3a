"""HTTP: gevent's WSGI server, the Flask app, the fast path in front of it, the endpoints."""
