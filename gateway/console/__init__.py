"""The ops console on the admin port: server-rendered pages over the control plane (no JavaScript needed).

`router` serves the pages, `session` the login cookie and CSRF tokens, `pair_view` the side-by-side diff of two
answers; templates and the stylesheet ship with the package (nothing from a CDN).
"""
