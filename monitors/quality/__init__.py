"""Answer quality: detectors (refusal, format, degeneration, language), judging each answer, the quality counters."""
