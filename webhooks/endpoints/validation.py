"""What an endpoint's fields may hold: the API, the dashboard form and the admin check the same."""

MAX_ALERT_EMAILS = 20
