"""The raw echo services: TCP (bytes back) and UDP (datagrams back, rate-limited per source)."""
