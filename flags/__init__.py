"""The store: rollout flags and their audit log, validations, and the shadow comparisons' tables (SQL, migrated).

Import the modules themselves (`flags.store`, `flags.model`, ...): this file loads nothing, so a caller that needs one
variant name does not pay for SQLAlchemy.
"""
