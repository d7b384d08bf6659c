"""Project scripts run by make (not deployed); a package so that tests can import them."""
