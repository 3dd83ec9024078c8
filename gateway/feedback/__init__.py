"""User feedback tied to the answer it is about: a signed token on every answer, and the endpoint that takes it back."""
