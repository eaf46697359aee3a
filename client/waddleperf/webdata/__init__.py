"""The data behind the UI's Run, History and Fleet pages, as plain functions.

JSON-able dictionaries in and out, no web framework here: the UI's controllers call
:mod:`~waddleperf.webdata.history`, :mod:`~waddleperf.webdata.fleet` and
:mod:`~waddleperf.webdata.jobs` and serialise what they return. docs/ui-data.md describes it.
"""
