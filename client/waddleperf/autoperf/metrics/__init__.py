"""The agent's Prometheus exporter: each cycle's records as metric samples, served over HTTP.

:mod:`.samples` maps a cycle's records to samples (pure); :mod:`.state` keeps the last cycle
and the running totals; :mod:`.collector` turns them, with the spool's figures, into metric
families for ``prometheus_client``; :mod:`.exporter` serves them (``--metrics-listen``).
"""
