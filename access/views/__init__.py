"""Pages for applicants, committees and the access body. Thin: parse, check access, call a
service, render.

Each action is a POST that redirects on success. When a service refuses, the page is shown
again with the refusal next to the field it concerns (or at the top) and nothing is stored;
a refusal because the workflow moved on (InvalidTransition) becomes a message instead.
"""
