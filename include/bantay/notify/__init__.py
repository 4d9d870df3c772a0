"""Telling people: the drift e-mail, the retrain-outcome e-mail and the nightly deadline e-mail,
their wording, charts and templates, and the mailer that delivers them (SMTP through Airflow's
provider, with an outbox copy). Monitoring judges and records; this stage composes and sends."""
