"""Network helpers every service uses: client addresses, per-source caps, rate limits, sockets."""
