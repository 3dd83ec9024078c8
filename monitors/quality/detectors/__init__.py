"""Quality detectors applied to every answer: refusal, format break, degeneration, language (`answer` runs them all).

Imports nothing: the gateway's settings read `settings` here without loading the detectors themselves.
"""
