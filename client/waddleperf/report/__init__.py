"""Offline analysis of result bundles: ``waddleperf report`` (DuckDB, extra ``[report]``).

Bundles from a results directory, bundle files or S3 are streamed into an incremental DuckDB
catalog (tables ``results``, ``events``, ``profiling``, ``load``, ``bundles``); the report is
built from SQL over them and written as ``summary.json`` (shape:
:mod:`waddleperf.report.summary_model`), then rendered by :mod:`waddleperf.report.render`.
"""
