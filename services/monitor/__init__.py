"""The run monitor: a static browser app (``ui/`` sources, ``static/`` the committed bundle) that
the gateway serves at ``/``. See ``docs/monitor.md``."""
