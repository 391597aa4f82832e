"""The LMS domain: organisations, people, cross-curricular courses — usable without a request."""
