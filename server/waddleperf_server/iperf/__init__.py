"""iperf3 under supervision: the binary restarted when it dies, long tests cut off."""
