"""Access models arrive with the access-application issue."""
