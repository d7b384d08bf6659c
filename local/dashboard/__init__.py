"""The template's CloudWatch dashboard, read locally: widgets.py reads its body out of
template.yaml, for the tests that hold it to the metric names the function emits."""
