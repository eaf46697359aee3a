"""HTTP worker processes: one per core on the HTTP port, steered by source, supervised."""
