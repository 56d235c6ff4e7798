"""Addressing (the mCSD care address book) and localization (the index, with pseudonymisation)."""
