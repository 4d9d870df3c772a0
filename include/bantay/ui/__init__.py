"""The bantay pages in the Airflow UI: a FastAPI app (``bantay.ui.app.create_app``) that the
plugin in ``plugins/bantay_plugin.py`` mounts under ``/bantay``."""
